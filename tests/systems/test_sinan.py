"""SINAN arboviruses: epidemiological weeks, mapping with quarantine, the synthetic files, and
the epidemic channel against numbers worked out by hand from the synthetic truth."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.sources.datasus.dbf_writer import FieldSpec, dbf_bytes
from rmds.systems.registry import map_file, open_source
from rmds.systems.sinan.channel import Zone, epidemic_channel, zone_of
from rmds.systems.sinan.epiweek import epi_week, week_start, weeks_in_year
from rmds.systems.sinan.synth import TRUTH_FILE, Epidemic, SinanPlan, write_sinan
from rmds.territory import Level, ReferencePack, vintage_for_year

# ------------------------------------------------------------------ epidemiological weeks


@pytest.mark.parametrize(("day", "week"), [
    ("2023-01-01", 202301),   # a Sunday: opens week 1
    ("2022-01-01", 202152),   # a Saturday: closes the last week of 2021
    ("2021-01-03", 202101),
    ("2020-12-31", 202053),   # 2020 had 53 weeks
    ("2014-12-31", 201453),   # and 2014
    ("2015-01-03", 201453),
    ("2015-01-04", 201501),
    ("2019-12-29", 202001),   # the Sunday of 29/12/2019 opens week 1 of 2020
])
def test_epi_week(day: str, week: int) -> None:
    assert epi_week(dt.date.fromisoformat(day)) == week


def test_weeks_in_year_and_week_start() -> None:
    assert [y for y in range(2010, 2026) if weeks_in_year(y) == 53] == [2014, 2020, 2025]
    assert week_start(2024, 1) == dt.date(2023, 12, 31)
    assert week_start(2020, 53) == dt.date(2020, 12, 27)


# ------------------------------------------------------------------ mapping and quarantine

_FIELDS = [FieldSpec("NU_NOTIFIC", "C", 7), FieldSpec("ID_AGRAVO", "C", 4),
           FieldSpec("DT_NOTIFIC", "D", 8), FieldSpec("DT_SIN_PRI", "D", 8),
           FieldSpec("SEM_PRI", "C", 6), FieldSpec("ID_MUNICIP", "C", 6),
           FieldSpec("ID_MN_RESI", "C", 6), FieldSpec("NU_IDADE_N", "C", 4),
           FieldSpec("CS_SEXO", "C", 1), FieldSpec("CLASSI_FIN", "C", 2),
           FieldSpec("EVOLUCAO", "C", 1), FieldSpec("DT_OBITO", "D", 8),
           FieldSpec("NM_PACIENT", "C", 40), FieldSpec("DT_NASC", "D", 8)]


def _row(number: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "NU_NOTIFIC": number, "ID_AGRAVO": "A90", "DT_NOTIFIC": dt.date(2019, 3, 12),
        "DT_SIN_PRI": dt.date(2019, 3, 9), "SEM_PRI": "201910", "ID_MUNICIP": "",
        "ID_MN_RESI": "", "NU_IDADE_N": "4030", "CS_SEXO": "F", "CLASSI_FIN": "10",
        "EVOLUCAO": "1", "DT_OBITO": None, "NM_PACIENT": f"PESSOA {number}",
        "DT_NASC": dt.date(1989, 1, 1)}
    return base | kw


def _dbf(path: Path, rows: list[dict[str, Any]]) -> Path:
    table = pa.table({f.name: pa.array([r[f.name] for r in rows],
                                       pa.date32() if f.type == "D" else pa.string())
                      for f in _FIELDS})
    path.write_bytes(dbf_bytes(table, _FIELDS))
    return path


def test_mapping_and_quarantine_of_a_hand_built_file(tmp_path: Path,
                                                     pack: ReferencePack) -> None:
    code6 = sorted(pack.municipalities.values(), key=lambda m: m.ibge7)[0].ibge6
    code7 = pack.to_ibge7(code6)
    rows = [
        _row("1", ID_MUNICIP=code6, ID_MN_RESI=code6),                         # accepted
        _row("2", CLASSI_FIN="5"),                                              # discarded
        _row("3", DT_NOTIFIC=None),                                             # no date
        _row("4", CLASSI_FIN="1"),             # a SINAN Net class in a 2019 notification
        _row("5", ID_AGRAVO="B54"),                                             # malaria
        _row("6", DT_SIN_PRI=dt.date(2019, 3, 20)),                  # onset after notice
        _row("7", ID_AGRAVO="A920", CLASSI_FIN="13"),                           # chik
        _row("8", CLASSI_FIN=""),                                               # open
        _row("9", NU_IDADE_N="3006", EVOLUCAO="2", CLASSI_FIN="12",
             DT_OBITO=dt.date(2019, 3, 15), SEM_PRI=""),
        _row("10", ID_MN_RESI="319999"),                         # no such municipality
    ]
    path = _dbf(tmp_path / "DENGBR19.dbf", rows)
    with open_source(path) as source:
        assert source.system == "SINAN"
        [(result, _)] = list(map_file(source, pack.ibge6_to_7_table()))
    assert (result.rows_in, result.accepted.num_rows, result.rows_quarantined) == (10, 5, 5)
    assert result.reconciles()
    reasons = {(r["source_row"], r["field"]) for r in result.quarantine.to_pylist()}
    assert reasons == {(3, "DT_NOTIFIC"), (4, "CLASSI_FIN"), (5, "ID_AGRAVO"),
                       (6, "DT_SIN_PRI"), (10, "ID_MN_RESI")}
    accepted = {r["record_id"]: r for r in result.accepted.to_pylist()}
    assert sorted(accepted) == ["1", "2", "7", "8", "9"]
    assert accepted["1"]["residence_municipality"] == code7
    assert accepted["1"]["onset_week"] == 201910
    assert accepted["1"]["age_years"] == 30
    assert (accepted["1"]["final_classification"], accepted["1"]["probable"]) == (
        "dengue", True)
    assert (accepted["2"]["final_classification"], accepted["2"]["probable"]) == (
        "descartado", False)
    assert accepted["7"]["disease"] == "chikungunya"
    assert (accepted["8"]["final_classification"], accepted["8"]["probable"]) == (None, True)
    nine = accepted["9"]
    assert (nine["age_unit"], nine["age_value"], nine["outcome"]) == ("mes", 6, "obito_agravo")
    assert nine["onset_week"] == 201910  # SEM_PRI blank: computed from 09/03/2019
    assert nine["death_date"] == dt.date(2019, 3, 15)
    # no personal field reaches the canonical table
    assert "PESSOA" not in str(result.accepted.to_pylist())


def test_identity_rows_only_for_accepted_notifications(tmp_path: Path,
                                                       pack: ReferencePack) -> None:
    path = _dbf(tmp_path / "DENGBR19.dbf", [_row("1"), _row("2", DT_NOTIFIC=None)])
    with Lake(tmp_path / "lake.duckdb") as lake:
        [outcome] = ingest(lake, [path], pack)
        assert outcome.status == "carregado"
        identity = lake.run("SELECT record_key, role, name, birth_date FROM identity_records")
        assert identity == [("1", "notificado", "PESSOA 1", dt.date(1989, 1, 1))]
        assert lake.scalar("SELECT count(*) FROM notifications") == 1
        assert lake.scalar("SELECT count(*) FROM quarantine") == 1


# ------------------------------------------------------------------ synthetic state + channel

YEARS = tuple(range(2014, 2020))   # five baseline years and 2019
TARGET = 2019


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory, pack: ReferencePack
          ) -> tuple[Path, list[str], Epidemic]:
    """Three municipalities of one health region; an epidemic planted in the first, 2019,
    weeks 8–16."""
    vintage = vintage_for_year(TARGET)
    by_region: dict[str, list[str]] = {}
    for m in sorted(pack.municipalities.values(), key=lambda m: m.ibge7):
        by_region.setdefault(m.region[vintage], []).append(m.ibge6)
    members = next(codes for _, codes in sorted(by_region.items()) if len(codes) >= 3)[:3]
    populations = [pack.population(pack.to_ibge7(c) or c, TARGET).value for c in members]
    epidemic = Epidemic(members[0], TARGET, 8, 16, 150.0)
    out = tmp_path_factory.mktemp("sinan")
    plan = SinanPlan(YEARS, (epidemic,), endemic_incidence=20.0)
    files = write_sinan(out, members, populations, YEARS, 11, dbc=True, plan=plan)
    with Lake(out / "lake.duckdb") as lake:
        outcomes = ingest(lake, [out / f for f in files if f.endswith(".dbc")], pack)
        assert [o.status for o in outcomes] == ["carregado"] * len(YEARS)
    return out, members, epidemic


def _truth(out: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(out / TRUTH_FILE).to_pylist()
    return rows


def _quantile(values: list[float], p: float) -> float:
    """Linear interpolation between the sorted values (type 7), by hand."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def test_zones() -> None:
    assert zone_of(1.0, 1.0, 2.0, 3.0) is Zone.SUCESSO
    assert zone_of(1.5, 1.0, 2.0, 3.0) is Zone.SEGURANCA
    assert zone_of(3.0, 1.0, 2.0, 3.0) is Zone.ALERTA
    assert zone_of(3.01, 1.0, 2.0, 3.0) is Zone.EPIDEMIA
    assert zone_of(0.0, 0.0, 0.0, 0.0) is Zone.SUCESSO


def test_channel_of_a_municipality_equals_the_hand_computation(
        state: tuple[Path, list[str], Epidemic], pack: ReferencePack) -> None:
    out, members, _ = state
    code7 = pack.to_ibge7(members[0])
    assert code7 is not None
    truth = [r for r in _truth(out) if r["municipio"] == members[0]]
    population = {y: pack.population(code7, y).value for y in YEARS}
    incidence = {(int(r["ano"]), int(r["semana"])): int(r["casos_provaveis"])
                 / population[int(r["ano"])] * 1e5 for r in truth}
    with Lake(out / "lake.duckdb", read_only=True) as lake:
        channel = epidemic_channel(lake.con, pack, TARGET)
    rows = {r["week"]: r for r in channel.to_pylist() if r["unit"] == code7}
    assert sorted(rows) == list(range(1, 53))  # 2019 has 52 weeks
    for week, row in rows.items():
        baseline = [incidence[(y, week)] for y in YEARS[:-1]]
        assert row["cases"] == next(r["casos_provaveis"] for r in truth
                                    if r["ano"] == TARGET and r["semana"] == week)
        assert row["incidence"] == pytest.approx(incidence[(TARGET, week)])
        # five baseline years: the quartiles are the 2nd, 3rd and 4th values in order
        assert row["q1"] == pytest.approx(sorted(baseline)[1])
        assert row["median"] == pytest.approx(sorted(baseline)[2])
        assert row["q3"] == pytest.approx(_quantile(baseline, 0.75))
        assert row["zone"] == zone_of(row["incidence"], row["q1"], row["median"],
                                      row["q3"]).value


def test_the_planted_epidemic_is_detected_in_its_weeks(
        state: tuple[Path, list[str], Epidemic], pack: ReferencePack) -> None:
    out, members, epidemic = state
    with Lake(out / "lake.duckdb", read_only=True) as lake:
        channel = epidemic_channel(lake.con, pack, TARGET)
    zones = {(r["unit"], r["week"]): r["zone"] for r in channel.to_pylist()}
    planted = pack.to_ibge7(epidemic.municipality)
    epidemic_weeks = {w for (unit, w), zone in zones.items()
                      if unit == planted and zone == Zone.EPIDEMIA}
    assert set(range(epidemic.first_week, epidemic.last_week + 1)) <= epidemic_weeks
    truth_weeks = {int(r["semana"]) for r in _truth(out) if r["municipio"] ==
                   epidemic.municipality and r["ano"] == TARGET and r["epidemia_plantada"]}
    assert truth_weeks == set(range(8, 17))
    # the neighbours had no epidemic: no run of four epidemic weeks there
    for other in members[1:]:
        code = pack.to_ibge7(other)
        flags = [zones[(code, w)] == Zone.EPIDEMIA for w in range(1, 53)]
        assert not any(all(flags[i:i + 4]) for i in range(49))


def test_region_channel_sums_its_members(state: tuple[Path, list[str], Epidemic],
                                         pack: ReferencePack) -> None:
    out, members, _ = state
    vintage = vintage_for_year(TARGET)
    region = pack.municipality(members[0]).region[vintage]
    with Lake(out / "lake.duckdb", read_only=True) as lake:
        channel = epidemic_channel(lake.con, pack, TARGET, level=Level.REGION)
    rows = {r["week"]: r for r in channel.to_pylist() if r["unit"] == region}
    truth = _truth(out)
    population = pack.population(pack.regions(vintage)[region], TARGET).value
    for week in (1, 12, 30):
        cases = sum(int(r["casos_provaveis"]) for r in truth
                    if r["ano"] == TARGET and r["semana"] == week)
        assert rows[week]["cases"] == cases
        assert rows[week]["population"] == population
        assert rows[week]["incidence"] == pytest.approx(cases / population * 1e5)
    others = {r["unit"] for r in channel.to_pylist() if r["cases"] > 0}
    assert others == {region}  # the synthetic cases live in one region only


def test_export_partitions_notifications_by_year(state: tuple[Path, list[str], Epidemic],
                                                 tmp_path: Path) -> None:
    out, _, _ = state
    with Lake(out / "lake.duckdb") as lake:
        written = lake.export_parquet(tmp_path / "export")
        rows = lake.scalar("SELECT count(*) FROM notifications")
    assert written["notifications"] == rows
    folder = tmp_path / "export" / "notifications" / "source_system=SINAN"
    years = {p.name for p in folder.iterdir()}
    # onsets of weeks 2014-01 … 2019-52, notified up to four days later
    assert {f"ano={y}" for y in YEARS} <= years <= {f"ano={y}" for y in range(2013, 2021)}
