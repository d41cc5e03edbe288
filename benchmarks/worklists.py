"""Benchmark: the primary-care work lists for the whole state (issue 24), against the plain
SQL every such list has to run, in the same run.

    python benchmarks/worklists.py [--scale 1.0] [--year 2023] [--work DIR]

1. The synthetic state and its lake are those of ``benchmarks/indicators.py`` (same
   ``--work``; generated and loaded when absent).
2. The person index. Linking the full state takes longer than this machine allows in one
   sitting (issue 18), so when the lake has no ``person_links`` the index is written from the
   generator's truth (``verdade/registros.parquet``: each record's true person; a record the
   truth does not name is a person of its own) and said so: the lists read the index the
   same way whichever way it was made, and linkage is measured in ``benchmarks/linkage.py``.
3. rmds: every declared list (``rmds.care.worklists.compute_all``: the index read once,
   then each rule and each listed person's primary-care facility) for the whole state.
   Target: all of them in under 2 minutes.
4. Baseline, plain SQL: for each list, the joins its rule cannot avoid (person index ⋈
   identity records ⋈ the list's event tables), counted: the floor of any SQL that names
   who is on the list. The ratio rmds ÷ baseline is printed per list.

Peak memory of the process is printed at the end.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402

from benchmarks.indicators import build  # noqa: E402
from rmds.care.worklists import compute_all, load_worklists  # noqa: E402
from rmds.fmt import fmt_decimal, fmt_int  # noqa: E402
from rmds.lake.store import Lake  # noqa: E402
from rmds.schema.keys import RECORD_UID as RECORD_UID_SQL  # noqa: E402
from rmds.settings import Settings  # noqa: E402
from rmds.territory import ReferencePack  # noqa: E402

_IDS_SQL = (f"(SELECT l.person_id, r.* FROM person_links l JOIN (SELECT *, {RECORD_UID_SQL} "
            "AS uid FROM identity_records) r ON l.record_uid = r.uid)")
#: rule → the joins it cannot avoid (index ⋈ identities ⋈ its events), counted
FLOOR_SQL = {
    "vacinas_atrasadas": f"""SELECT
        (SELECT count(*) FROM {_IDS_SQL} i JOIN immunisations m ON m.record_id = i.record_key
         AND m.source_file = i.source_file WHERE i.source_system = 'PNI'
         AND m.source_system = 'PNI')
      + (SELECT count(*) FROM {_IDS_SQL} i JOIN immunisations m ON m.patient_key = i.record_key
         WHERE i.source_system = 'FHIR' AND m.source_system = 'FHIR')""",
    "cronicos_sem_acompanhamento": f"""SELECT
        (SELECT count(*) FROM {_IDS_SQL} i JOIN conditions c ON c.patient_key = i.record_key
         WHERE i.source_system = 'FHIR' AND c.source_system = 'FHIR')
      + (SELECT count(*) FROM {_IDS_SQL} i JOIN observations o ON o.patient_key = i.record_key
         WHERE i.source_system = 'FHIR' AND o.source_system = 'FHIR')""",
    "alta_sem_aps": f"""SELECT
        (SELECT count(*) FROM {_IDS_SQL} i JOIN hospitalisations h ON h.aih_number =
         i.record_key AND h.source_file = i.source_file WHERE i.source_system = 'SIH')
      + (SELECT count(*) FROM {_IDS_SQL} i JOIN encounters e ON e.patient_key = i.record_key
         WHERE i.source_system = 'FHIR' AND e.source_system = 'FHIR')""",
    "fila_consorcio_acima_da_meta": f"""SELECT
        (SELECT count(*) FROM {_IDS_SQL} i JOIN referrals r ON r.referral_id = i.record_key
         AND r.source_file = i.source_file WHERE i.source_system = 'CONSORCIO'
         AND r.source_system = 'CONSORCIO')
      + (SELECT count(*) FROM {_IDS_SQL} i JOIN referrals r ON r.patient_key = i.record_key
         WHERE i.source_system = 'FHIR' AND r.source_system = 'FHIR')""",
    "gestantes_pre_natal": f"""SELECT
        (SELECT count(*) FROM {_IDS_SQL} i JOIN conditions c ON c.patient_key = i.record_key
         WHERE i.source_system = 'FHIR' AND c.source_system = 'FHIR')
      + (SELECT count(*) FROM {_IDS_SQL} i JOIN births b ON b.record_id = i.record_key
         AND b.source_file = i.source_file WHERE i.source_system = 'SINASC')
      + (SELECT count(*) FROM {_IDS_SQL} i JOIN hospitalisations h ON h.aih_number =
         i.record_key AND h.source_file = i.source_file WHERE i.source_system = 'SIH')
      + (SELECT count(*) FROM {_IDS_SQL} i JOIN encounters e ON e.patient_key = i.record_key
         WHERE i.source_system = 'FHIR' AND e.source_system = 'FHIR')""",
}


def index_from_truth(lake: Lake, truth: Path) -> tuple[int, int]:
    """``person_links`` and ``persons`` from the generator's truth; (records, persons)."""
    from rmds.engine.sql import ident
    from rmds.linkage.run import LINK_TABLES

    for name, columns_sql in LINK_TABLES.items():
        lake.run(f"CREATE TABLE IF NOT EXISTS {ident(name)} ({columns_sql})")
    table = pq.read_table(truth, columns=["source", "file", "record", "role", "person_id"])
    con = lake.con
    con.register("truth", table)
    try:
        lake.run("BEGIN TRANSACTION")
        lake.run("DELETE FROM person_links")
        lake.run("DELETE FROM persons")
        lake.run(f"""
            INSERT INTO person_links
            WITH t AS (SELECT source, regexp_extract(file, '[^/]+$') AS file, record, role,
                              any_value(person_id) AS person_id
                       FROM truth GROUP BY ALL),
                 r AS (SELECT DISTINCT {RECORD_UID_SQL} AS uid, source_system, source_file,
                              record_key, role, batch_id FROM identity_records),
                 j AS (SELECT r.uid, r.source_system, r.batch_id, t.person_id FROM r
                       LEFT JOIN t ON t.source = r.source_system AND t.file = r.source_file
                        AND t.record = r.record_key AND t.role = r.role)
            SELECT uid, coalesce(person_id, 100000000 + row_number() OVER (ORDER BY uid)),
                   source_system, batch_id, 'verdade', NULL FROM j""")
        lake.run("""INSERT INTO persons SELECT person_id, count(*),
                    string_agg(DISTINCT source_system, ',' ORDER BY source_system)
                    FROM person_links GROUP BY person_id""")
        lake.commit("índice de pessoas da verdade do gerador (benchmark)")
    except BaseException:
        lake.run("ROLLBACK")
        raise
    finally:
        con.unregister("truth")
    return (int(lake.scalar("SELECT count(*) FROM person_links")),
            int(lake.scalar("SELECT count(*) FROM persons")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--work", type=Path,
                        default=Path.home() / ".cache" / "rmds-bench" / "indicadores")
    args = parser.parse_args()
    build(args.work, args.scale, args.year)
    pack = ReferencePack(Settings.resolve().reference_dir)
    icsap = frozenset(pack.icsap.codes)
    with Lake(args.work / "lago") as lake:
        linked = "person_links" in lake.table_names() and bool(
            lake.scalar("SELECT count(*) FROM person_links"))
        if linked:
            from_truth = bool(lake.scalar(
                "SELECT count(*) FROM person_links WHERE rule = 'verdade'"))
            print("índice de pessoas: o do lago, " + (
                "escrito da verdade do gerador numa execução anterior" if from_truth
                else "feito por rmds link"))
        else:
            began = time.perf_counter()
            records, persons = index_from_truth(
                lake, args.work / "estado" / "verdade" / "registros.parquet")
            print(f"índice de pessoas escrito da verdade do gerador (o estado inteiro não é "
                  f"vinculado nesta máquina numa sessão; issue 18): {fmt_int(records)} "
                  f"registros, {fmt_int(persons)} pessoas, "
                  f"{fmt_decimal(time.perf_counter() - began, 1)} s")
    with Lake(args.work / "lago", read_only=True) as lake:
        lists = list(load_worklists().values())
        began = time.perf_counter()
        found = compute_all(lake.con, lists, icsap=icsap)
        total = time.perf_counter() - began
        print(f"{'lista':<32}{'pessoas':>10}{'SQL s':>8}")
        floor_total = 0.0
        for wl in lists:
            began = time.perf_counter()
            lake.scalar(FLOOR_SQL[wl.rule])
            floor = time.perf_counter() - began
            floor_total += floor
            print(f"{wl.id:<32}{fmt_int(len(found[wl.id])):>10}{fmt_decimal(floor, 1):>8}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verdict = "cumprida" if total < 120 else "NÃO cumprida"
    print(f"todas as listas: rmds {fmt_decimal(total, 1)} s (o índice lido uma vez para "
          f"todas: compute_all); SQL simples {fmt_decimal(floor_total, 1)} s; rmds ÷ SQL "
          f"{fmt_decimal(total / floor_total, 1)}")
    print(f"meta (< 120 s para todas as listas do estado): {verdict}; "
          f"memória de pico {fmt_int(round(peak))} MiB")


if __name__ == "__main__":
    main()
