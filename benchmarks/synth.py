"""Benchmark: generating the synthetic state at full scale.

    python benchmarks/synth.py [--scale 1.0] [--years 2023] [--out DIR]

Runs ``rmds synth`` in a child process (so its peak resident memory is measured alone) and
prints wall time, CPU time, peak memory, rows written per source and the output size, with
two references measured or fixed in the same run:

* the issue's targets: under 15 minutes on 2 cores, under 16 GB of memory, for scale 1.0
  and one year;
* baseline "I/O floor": copying the generated output to a sibling folder (``cp -r``) — the
  time any generator needs at least just to put that many bytes on this disk.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 15 * 60
TARGET_BYTES = 16 * 1024**3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--years", default="2023")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a temporary folder, removed after)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rmds-synth-bench-", dir=args.out))
    out = work / "estado"
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-m", "rmds.cli", "synth", "--scale", str(args.scale), "--years",
         args.years, "--seed", str(args.seed), "--out", str(out), "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        print(child.stdout, child.stderr, file=sys.stderr)
        shutil.rmtree(work)
        raise SystemExit(f"rmds synth failed with code {child.returncode}")
    summary = json.loads(child.stdout)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    copy_started = time.perf_counter()
    shutil.copytree(out, work / "copia")
    subprocess.run(["sync"], check=False)
    copy = time.perf_counter() - copy_started
    peak = usage.ru_maxrss * 1024
    print(f"rmds synth --scale {args.scale} --years {args.years} (seed {args.seed})")
    print(f"  wall time      {wall:8.1f} s   (target {TARGET_SECONDS} s: "
          f"{wall / TARGET_SECONDS:.2f} of the target)")
    print(f"  CPU time       {usage.ru_utime + usage.ru_stime:8.1f} s")
    print(f"  peak memory    {peak / 1024**3:8.2f} GB  (target 16 GB: "
          f"{peak / TARGET_BYTES:.2f} of the target)")
    print(f"  output         {size / 1024**3:8.2f} GB in {summary['arquivos']} files")
    print(f"  baseline 'I/O floor' (cp -r of the output): {copy:.1f} s; "
          f"generation / I/O floor = {wall / copy:.1f}x")
    print("  rows:", ", ".join(f"{k} {v:,}" for k, v in summary["contagens"].items()))
    print("  seconds by step:", ", ".join(f"{k} {v}" for k, v in summary["segundos"].items()))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
