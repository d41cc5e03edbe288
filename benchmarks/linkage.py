"""Benchmark: person linkage, rmds against the ``recordlinkage`` toolkit in the same run.

    python benchmarks/linkage.py [--scale 0.075] [--skip-large]

1. FEBRL 4a/4b (two files, 5,000 true pairs): rmds (Splink, FEBRL profile, trained
   unsupervised) and recordlinkage (blocking on given name, surname, birth date and
   social security id; Jaro-Winkler and exact comparisons; unsupervised ECM classifier)
   on the same records; time and pairwise precision, recall and F1 for both.
2. rmds alone on a large synthetic lake (``--scale``, years 2023–2024): every identity
   record of every source linked (deterministic + probabilistic + clusters + stable ids);
   records, time, records/s, peak memory and F1 against the generator's truth, and the
   blocking recall (true pairs that reach comparison) printed apart from the scoring.
   Targets (issue #6): 1 million records in under 5 minutes and 12 GB. Beside it, the
   ``recordlinkage`` baseline on the same standardised records (blocking on the same
   rules, Jaro-Winkler and exact comparisons, ECM), records/s and F1
   (``--skip-baseline`` leaves it out). About 1 million records: ``--scale 0.075``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow.compute as pc  # noqa: E402

from rmds.linkage.model import predict  # noqa: E402
from rmds.linkage.prepare import febrl_table  # noqa: E402

FEBRL = ROOT.parent / "shared" / "data" / "linkage" / "febrl"


def f1(pairs: set[tuple[str, str]]) -> tuple[float, float, float]:
    right = sum(1 for a, b in pairs if a.split("-")[1] == b.split("-")[1])
    precision = right / len(pairs) if pairs else 1.0
    recall = right / 5000
    return precision, recall, 2 * precision * recall / (precision + recall)


def rmds_febrl() -> tuple[float, tuple[float, float, float]]:
    started = time.perf_counter()
    a = febrl_table(FEBRL / "dataset4a.csv")
    b = febrl_table(FEBRL / "dataset4b.csv")
    b = b.set_column(b.column_names.index("uid"), "uid", pc.add(b.column("uid"), 100_000))
    pairs = predict([a, b], "febrl", threshold=0.999).pairs
    rec = {u: r for t in (a, b) for u, r in zip(t.column("uid").to_pylist(),
                                                t.column("rec_id").to_pylist(), strict=True)}
    found = {(rec[x], rec[y]) for x, y in zip(pairs.column("uid_l").to_pylist(),
                                              pairs.column("uid_r").to_pylist(), strict=True)}
    return time.perf_counter() - started, f1(found)


def recordlinkage_febrl() -> tuple[float, tuple[float, float, float]]:
    import pandas as pd
    import recordlinkage

    started = time.perf_counter()
    names = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2",
             "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"]

    def load(path: Path) -> pd.DataFrame:
        frame = pd.read_csv(path, skipinitialspace=True, names=names, header=0, dtype=str)
        return frame.set_index("rec_id")

    a, b = load(FEBRL / "dataset4a.csv"), load(FEBRL / "dataset4b.csv")
    indexer = recordlinkage.Index()
    for column in ("given_name", "surname", "date_of_birth", "soc_sec_id"):
        indexer.block(column)
    candidates = indexer.index(a, b)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.exact("date_of_birth", "date_of_birth")
    compare.string("soc_sec_id", "soc_sec_id", method="levenshtein", threshold=0.85)
    compare.exact("postcode", "postcode")
    compare.exact("suburb", "suburb")
    compare.exact("state", "state")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=0.85)
    features = compare.compute(candidates, a, b)
    matches = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features)
    found = {(str(x), str(y)) for x, y in matches}
    return time.perf_counter() - started, f1(found)


LARGE = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from rmds.lake.store import Lake
from rmds.linkage import evaluate_against_truth, link
from rmds.linkage.blocking import count_comparisons
from rmds.linkage.model import BLOCKING
from rmds.linkage.run import standardised_identity
lake_path, truth = Path({lake!r}), Path({truth!r})
with Lake(lake_path) as lake:
    counted = time.perf_counter()
    rules = [(c.label(), c.pairs, c.largest_block, c.per_record)
             for c in count_comparisons(standardised_identity(lake)[1], BLOCKING)]
    counted = time.perf_counter() - counted
    started = time.perf_counter()
    summary = link(lake)
    seconds = time.perf_counter() - started
    scores = evaluate_against_truth(lake, truth)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({{"records": summary.records, "persons": summary.persons, "seconds": seconds,
                   "peak_gb": peak, "precision": scores.precision, "recall": scores.recall,
                   "f1": scores.f1, "blocking_recall": scores.blocking_recall,
                   "missing_records": scores.missing_records, "rules": rules,
                   "count_seconds": counted,
                   "hazards": {{k: getattr(scores, k) for k in (
                       "twin_pairs", "twin_pairs_merged", "homonym_pairs",
                       "homonym_pairs_merged", "clusters_two_deaths",
                       "clusters_two_sexes")}}}}))
"""


BASELINE = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
from linkage import recordlinkage_lake
print(json.dumps(recordlinkage_lake(Path({lake!r}), Path({truth!r}))))
"""


def recordlinkage_lake(lake_path: Path, truth: Path) -> dict[str, float]:
    """The ``recordlinkage`` baseline on a lake's identity records: standardised as rmds
    does, blocked on rmds's blocking rules, compared (Jaro-Winkler on names, exact on
    birth date, sex, municipality, CEP sector), classified by ECM, clustered, and scored
    against the generator's truth."""
    import numpy as np
    import pyarrow.parquet as pq
    import recordlinkage

    from rmds.lake.store import Lake
    from rmds.linkage.cluster import components
    from rmds.linkage.evaluate import score
    from rmds.linkage.model import BLOCKING
    from rmds.linkage.run import standardised_identity

    with Lake(lake_path, read_only=True) as lake:
        _, table = standardised_identity(lake)
    started = time.perf_counter()
    frame = table.to_pandas().set_index("uid")
    indexer = recordlinkage.Index()
    for rule in BLOCKING:
        indexer.block(left_on=list(rule))
    candidates = indexer.index(frame)
    compare = recordlinkage.Compare()
    for column in ("first_name", "last_name", "middle_names", "mother_name"):
        compare.string(column, column, method="jarowinkler", threshold=0.85)
    for column in ("dob_text", "sex", "municipality", "cep5"):
        compare.exact(column, column)
    features = compare.compute(candidates, frame)
    matches = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features)
    pairs = np.array(list(matches), dtype=np.int64).reshape(-1, 2) - 1
    labels = components(table.num_rows, pairs[:, 0], pairs[:, 1])
    seconds = time.perf_counter() - started
    rows = pq.read_table(truth, columns=["source", "file", "record", "role", "person_id"])
    true_of = {f"{s}|{Path(f).name}|{r}|{o}": p for s, f, r, o, p in zip(
        *(rows.column(c).to_pylist() for c in rows.column_names), strict=True)}
    uids = table.column("record_uid").to_pylist()
    known = np.array([u in true_of for u in uids])
    actual = np.array([true_of.get(u, -1) for u in uids], dtype=np.int64)
    scores = score(labels[known], actual[known])
    return {"seconds": seconds, "records": table.num_rows, "precision": scores.precision,
            "recall": scores.recall, "f1": scores.f1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--scale", type=float, default=0.075)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-febrl", action="store_true")
    args = parser.parse_args()
    if not args.skip_febrl:
        febrl()
    if not args.skip_large:
        large(args.scale, baseline=not args.skip_baseline)


def febrl() -> None:
    rmds_seconds, (p, r, f) = rmds_febrl()
    print("FEBRL 4a/4b (5,000 + 5,000 records, 5,000 true pairs)")
    print(f"  rmds (Splink, unsupervised):        {rmds_seconds:6.1f} s  precision {p:.4f}  "
          f"recall {r:.4f}  F1 {f:.4f}")
    base_seconds, (p, r, f) = recordlinkage_febrl()
    print(f"  baseline recordlinkage (ECM):       {base_seconds:6.1f} s  precision {p:.4f}  "
          f"recall {r:.4f}  F1 {f:.4f}")
    print(f"  time rmds / recordlinkage: {rmds_seconds / base_seconds:.2f}")


def large(scale: float, *, baseline: bool) -> None:
    import json

    from rmds.lake.ingest import ingest
    from rmds.lake.store import Lake
    from rmds.settings import default_reference_dir
    from rmds.synth import SynthConfig, generate
    from rmds.territory import ReferencePack

    work = Path(tempfile.mkdtemp(prefix="rmds-link-bench-"))
    try:
        pack = ReferencePack(default_reference_dir())
        state = generate(SynthConfig(scale, (2023, 2024), 3, work / "estado"), pack).out
        lake = work / "lago"
        with Lake(lake) as opened:
            ingest(opened, [state], pack)
        code = LARGE.format(root=str(ROOT), lake=str(lake),
                            truth=str(state / "verdade" / "registros.parquet"))
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=False)
        if child.returncode != 0:
            raise SystemExit(child.stderr[-3000:])
        result = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"synthetic lake, scale {scale}, 2023–2024: {result['records']:,} identity "
              f"records → {result['persons']:,} persons")
        print(f"  rmds link: {result['seconds']:.1f} s, peak {result['peak_gb']:.2f} GB "
              f"(targets for 1 million records: 300 s, 12 GB), precision "
              f"{result['precision']:.4f}, recall {result['recall']:.4f}, F1 {result['f1']:.4f}")
        per_million = result["seconds"] / result["records"] * 1e6
        print(f"  {per_million:.0f} s per million records at this size, "
              f"{result['records'] / result['seconds']:,.0f} records/s")
        print(f"  blocking recall (true pairs that reach comparison or share CNS/CPF): "
              f"{result['blocking_recall']:.4f}; true records never indexed: "
              f"{result['missing_records']:,}")
        print(f"  comparisons per blocking rule (each on its own, counted from block sizes "
              f"in {result['count_seconds']:.1f} s; ×{1 / scale:.0f} per record at scale 1.0, "
              f"where chance pairs grow with the population):")
        for label, pairs, largest, per_record in result["rules"]:
            print(f"    {label:<40} {pairs:>14,} pairs  {per_record:8.2f}/record  "
                  f"largest block {largest:,}  → ~{per_record / scale:,.0f}/record at 1.0")
        total = sum(r[3] for r in result["rules"])
        print(f"    all rules: {total:.2f} comparisons/record (before removing repeats)")
        h = result["hazards"]
        if h["twin_pairs"] is not None:
            print(f"  twin pairs merged {h['twin_pairs_merged']:,} of {h['twin_pairs']:,}; "
                  f"homonym pairs merged {h['homonym_pairs_merged']:,} of "
                  f"{h['homonym_pairs']:,}; clusters with two deaths "
                  f"{h['clusters_two_deaths']:,}, with both sexes {h['clusters_two_sexes']:,}")
        if baseline:
            code = BASELINE.format(root=str(ROOT), bench=str(Path(__file__).parent),
                                   lake=str(lake),
                                   truth=str(state / "verdade" / "registros.parquet"))
            child = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                   text=True, check=False)
            if child.returncode != 0:
                raise SystemExit(child.stderr[-3000:])
            base = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  baseline recordlinkage (ECM, same blocking): {base['seconds']:.1f} s, "
                  f"{base['records'] / base['seconds']:,.0f} records/s, precision "
                  f"{base['precision']:.4f}, recall {base['recall']:.4f}, F1 {base['f1']:.4f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
