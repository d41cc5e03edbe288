"""Benchmark: the whole pipeline at state scale, stage by stage, on DuckDB and on Spark.

    python benchmarks/scale.py [--scale 1.0] [--engine duckdb|spark] [--data DIR]
                               [--compare-scale 0.01] [--json FILE] [--work DIR]

1. The synthetic state (``rmds synth``: ``--scale``, 1.0 = about 21 million people; one
   year) is generated into a work folder, or ``--data DIR`` (a state already generated) is
   reused and the synth stage is not timed.
2. Each stage runs alone in a child process: synth, ingest (every file of the state into a
   new lake), link (every identity record), indicators (the whole catalog, every level and
   period) and quality (every rule, every municipality). For each stage: wall seconds,
   the peak resident memory of the stage's process (``ru_maxrss``) and of its whole process
   tree (worker processes, Spark's JVM; sampled from /proc every 0.2 s), and the rows it
   handled, so that rates per row can be extrapolated.
3. ``--engine`` is passed through as the ``engine=`` keyword of ``link``, ``compute`` and
   ``quality_report`` (and of ``ingest`` where it accepts one).
4. ``--compare-scale S``: the same stages at scale S on DuckDB and on Spark (local mode),
   on the same synthetic files, and the Spark/DuckDB ratio of each stage (baseline:
   DuckDB, measured in the same run).
5. ``--ufs ES,RJ``: a multi-UF slice. The reference pack is replicated (``rmds reference
   replicate``: Minas Gerais plus a copy of its territory under each UF given) into the
   work folder, and every stage runs over all the UFs at once: the generator writes one
   DATASUS file per UF (``DOES2023.dbc``), the lake holds them side by side, the linkage
   runs over every UF's records and the indicators have one state per UF. With
   ``--engine spark`` it is the slice of the national plan on Spark local mode.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = ("synth", "ingest", "link", "indicators", "quality")
ENGINES = ("duckdb", "spark")
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# ------------------------------------------------------------------------- child process
def _engine_kwargs(func: Callable[..., Any], engine: str, what: str,
                   optional: bool = False) -> dict[str, Any]:
    """``{"engine": engine}`` when ``func`` takes one; nothing for DuckDB (the default), or
    for an ``optional`` stage (one the lake's own writer runs), when it does not; a clear
    stop for Spark when it does not."""
    if "engine" in inspect.signature(func).parameters:
        return {"engine": engine}
    if engine == "duckdb" or optional:
        return {}
    raise SystemExit(f"{what} does not accept engine= in this checkout: the Spark engine is "
                     f"not wired into it yet, so --engine {engine} cannot run this stage")


def run_stage(stage: str, state: Path, lake_path: Path, engine: str, scale: float,
              years: tuple[int, ...], seed: int) -> dict[str, Any]:
    """Run one stage in this process and return what it handled (counts)."""
    from rmds.lake.store import Lake
    from rmds.settings import get_setting
    from rmds.territory import ReferencePack

    pack = ReferencePack(Path(str(get_setting("reference_dir"))))
    population = state / "populacao.csv"
    if stage == "synth":
        from rmds.synth import SynthConfig, generate

        result = generate(SynthConfig(scale, years, seed, state), pack)
        size = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
        return {"people": result.people, "rows": sum(result.counts.values()),
                "counts": result.counts, "bytes": size}
    if stage == "ingest":
        from rmds.lake.ingest import ingest

        # ingestion writes the lake through its own writer; it takes an engine only where
        # the installed code has one (else the rows are the same on both engines)
        chosen = _engine_kwargs(ingest, engine, "rmds.lake.ingest.ingest", optional=True)
        with Lake(lake_path) as lake:
            outcomes = ingest(lake, [state], pack, **chosen)
        by_system: dict[str, int] = {}
        for o in outcomes:
            if o.batch:
                system = str(o.batch["system"])
                by_system[system] = by_system.get(system, 0) + int(o.batch["rows_read"])
        failed = [str(o.path) for o in outcomes if o.status == "erro"]
        if failed:
            raise SystemExit(f"ingest failed on {failed[:5]}")
        size = sum(p.stat().st_size for p in lake_path.rglob("*") if p.is_file())
        return {"files": len(outcomes), "rows": sum(by_system.values()),
                "engine_used": chosen.get("engine", "duckdb"),
                "by_system": by_system, "lake_bytes": size}
    if stage == "link":
        from rmds.linkage.run import link

        with Lake(lake_path) as lake:
            summary = link(lake, **_engine_kwargs(link, engine, "rmds.linkage.run.link"))
        return {"rows": summary.records, "records": summary.records,
                "persons": summary.persons,
                "links": summary.deterministic_links + summary.probabilistic_links,
                "review_pairs": summary.review_pairs}
    if stage == "indicators":
        from rmds.indicators.compute import compute

        with Lake(lake_path) as lake:
            computed = compute(lake, pack, population=population,
                               **_engine_kwargs(compute, engine,
                                                "rmds.indicators.compute.compute"))
        with Lake(lake_path, read_only=True) as lake:
            states = [r[0] for r in lake.con.execute(
                "SELECT DISTINCT unit_code FROM indicator_values WHERE level = 'estado' "
                "ORDER BY 1").fetchall()]
        return {"rows": computed.rows, "indicators": computed.indicators,
                "timings": computed.timings, "states": states}
    if stage == "quality":
        from rmds.quality.report import quality_report

        with Lake(lake_path) as lake:
            report = quality_report(lake, pack, population=population,
                                    **_engine_kwargs(quality_report, engine,
                                                     "rmds.quality.report.quality_report"))
        return {"rows": report.municipalities, "municipalities": report.municipalities,
                "rules": report.rules, "evaluated": report.evaluated}
    raise SystemExit(f"unknown stage {stage}")


def child_main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    counts = run_stage(args.stage, args.state, args.lake, args.engine, args.scale,
                       parse_years(args.years), args.seed)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print("RESULT " + json.dumps({"seconds": seconds, "maxrss": own,
                                  "children_maxrss": children, "counts": counts}))


# ------------------------------------------------------------------------ parent process
def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and every process under it, from /proc (0 elsewhere)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * PAGE
    total, queue = 0, [root]
    while queue:
        pid = queue.pop()
        total += rss.get(pid, 0)
        queue.extend(p for p, parent in parents.items() if parent == pid)
    return total


def timed_stage(stage: str, state: Path, lake: Path, engine: str, scale: float,
                years: str, seed: int) -> dict[str, Any]:
    """Run ``stage`` in a child process; wall seconds, peaks and counts."""
    command = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--state",
               str(state), "--lake", str(lake), "--engine", engine, "--scale", str(scale),
               "--years", years, "--seed", str(seed)]
    peak = [0]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], tree_rss(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    result: dict[str, Any] = {"stage": stage, "engine": engine, "scale": scale,
                              "wall_s": round(wall, 2)}
    line = next((x for x in reversed(out.splitlines()) if x.startswith("RESULT ")), None)
    if child.returncode != 0 or line is None:
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        result["error"] = tail
        return result
    data = json.loads(line[len("RESULT "):])
    result.update(stage_s=round(data["seconds"], 2),
                  peak_rss_gb=round(data["maxrss"] / 1024**3, 2),
                  peak_tree_gb=round(max(peak[0], data["maxrss"],
                                         data["children_maxrss"]) / 1024**3, 2),
                  rows=data["counts"].get("rows", 0), counts=data["counts"])
    if result["rows"]:
        result["rows_per_s"] = round(result["rows"] / data["seconds"])
    return result


def parse_years(text: str) -> tuple[int, ...]:
    if "-" in text:
        first, last = (int(x) for x in text.split("-"))
        return tuple(range(first, last + 1))
    return tuple(int(x) for x in text.split(","))


def pipeline(work: Path, data: Path | None, engines: tuple[str, ...], scale: float,
             years: str, seed: int, stages: tuple[str, ...], reuse_lake: bool = False
             ) -> list[dict[str, Any]]:
    """The stages at ``scale`` on each of ``engines``, on one synthetic state; with
    ``reuse_lake`` the lake of an earlier run in ``work`` is kept (to time later stages
    again without loading the state again)."""
    results = []
    state = data or work / "estado"
    if data is None and "synth" in stages:
        results.append(timed_stage("synth", state, work / "unused", "duckdb", scale, years,
                                   seed))
        print(row(results[-1]), flush=True)
        if "error" in results[-1]:
            return results
    for engine in engines:
        lake = work / f"lago-{engine}"
        if not reuse_lake:
            shutil.rmtree(lake, ignore_errors=True)
        for stage in stages:
            if stage == "synth":
                continue
            results.append(timed_stage(stage, state, lake, engine, scale, years, seed))
            print(row(results[-1]), flush=True)
            if "error" in results[-1]:
                break
    return results


HEADER = (f"{'stage':10s} {'engine':7s} {'scale':>6s} {'wall s':>9s} {'rows':>12s} "
          f"{'rows/s':>10s} {'peak GB':>8s} {'tree GB':>8s}")


def row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['stage']:10s} {r['engine']:7s} {r['scale']:6g}  FAILED: {r['error']}"
    return (f"{r['stage']:10s} {r['engine']:7s} {r['scale']:6g} {r['wall_s']:9.1f} "
            f"{r['rows']:>12,} {r.get('rows_per_s', 0):>10,} {r['peak_rss_gb']:8.2f} "
            f"{r['peak_tree_gb']:8.2f}")


def ratios(results: list[dict[str, Any]]) -> dict[str, float]:
    """Spark wall time / DuckDB wall time, per stage both engines ran."""
    wall = {(r["engine"], r["stage"]): r["wall_s"] for r in results if "error" not in r}
    return {stage: round(wall[("spark", stage)] / wall[("duckdb", stage)], 2)
            for stage in STAGES if ("spark", stage) in wall and ("duckdb", stage) in wall}


def multi_uf_pack(work: Path, ufs: str) -> None:
    """Replicate the reference pack under ``ufs`` into ``work`` (once) and point the
    stages (child processes) at it."""
    from rmds.settings import get_setting
    from rmds.territory.replicate import replicate_pack

    target = work / f"pacote-MG-{ufs.replace(',', '-')}"
    if not target.exists():
        replicate_pack(Path(str(get_setting("reference_dir"))), target, ufs.split(","))
    os.environ["RMDS_REFERENCE_DIR"] = str(target)
    print(f"multi-UF pack: {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[1])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--years", default="2023")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=ENGINES, default="duckdb")
    parser.add_argument("--data", type=Path, default=None,
                        help="a synthetic state already generated (the synth stage is skipped)")
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder, kept (default: a temporary folder, removed after)")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--compare-scale", type=float, default=None,
                        help="also run the stages at this scale on DuckDB and on Spark")
    parser.add_argument("--skip-main", action="store_true",
                        help="only the --compare-scale runs")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--ufs", default="",
                        help="multi-UF slice: MG plus a copy under each of these UFs "
                        "(e.g. ES,RJ)")
    parser.add_argument("--reuse-lake", action="store_true",
                        help="keep the lake of an earlier run in --work (time later stages "
                        "again, e.g. --stages indicators,quality, without loading again)")
    # a child process runs one stage
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--lake", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        child_main(args)
        return
    stages = tuple(s for s in args.stages.split(",") if s)
    work = args.work or Path(tempfile.mkdtemp(prefix="rmds-scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"cores": os.cpu_count(), "years": args.years,
                              "seed": args.seed, "runs": [], "compare": None,
                              "ufs": ["MG", *[u for u in args.ufs.split(",") if u]]}
    if args.ufs:
        multi_uf_pack(work, args.ufs)
    print(f"{os.cpu_count()} cores; years {args.years}; seed {args.seed}")
    print(HEADER, flush=True)
    try:
        if not args.skip_main:
            main_work = work / f"escala-{args.scale:g}"
            report["runs"] = pipeline(main_work, args.data, (args.engine,), args.scale,
                                      args.years, args.seed, stages, args.reuse_lake)
        if args.compare_scale is not None:
            compare_work = work / f"comparacao-{args.compare_scale:g}"
            runs = pipeline(compare_work, None, ENGINES, args.compare_scale, args.years,
                            args.seed, stages)
            report["compare"] = {"scale": args.compare_scale, "runs": runs,
                                 "spark_over_duckdb": ratios(runs)}
            print(f"Spark / DuckDB wall time at scale {args.compare_scale:g} "
                  f"(baseline: DuckDB, same run, same files):")
            for stage, ratio in report["compare"]["spark_over_duckdb"].items():
                print(f"  {stage:10s} {ratio:6.2f}x")
            if not report["compare"]["spark_over_duckdb"]:
                print("  (no stage ran on both engines; see the errors above)")
        done = [r for r in report["runs"] if "error" not in r and r["stage"] != "synth"]
        if done:
            total = sum(r["wall_s"] for r in done)
            print(f"pipeline without synth at scale {args.scale:g} on {args.engine}: "
                  f"{total:.1f} s; peak {max(r['peak_tree_gb'] for r in done):.2f} GB")
        for r in report["runs"] + (report["compare"] or {}).get("runs", []):
            if r.get("counts", {}).get("states"):
                print(f"states with indicator cells ({r['engine']}, scale {r['scale']:g}): "
                      + ", ".join(r["counts"]["states"]))
    finally:
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
