"""Compute the catalog on the lake: every indicator, territorial level and period.

Counts are made once per municipality and period by the compiled queries, then rolled up to
health regions, macro-regions, URS, consortia and the state through the membership valid in
each period's year (the regionalisation vintage). Intervals, smoothing and suppression flags
are added in one vectorised pass, and the result replaces the lake's ``indicator_values``
mart in one transaction (a failed computation leaves the previous mart as it was).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from rmds.codes.icsap import OBSTETRIC_PROCEDURES
from rmds.consortia.roster import Membership, consortium_names, memberships
from rmds.engine import Engine, open_engine
from rmds.engine.sql import ident, lit, lit_list
from rmds.exceptions import ConfigurationError, InputError
from rmds.indicators.catalog import Catalog, Indicator, load_catalog
from rmds.indicators.cells import cell_statistics
from rmds.indicators.compiler import divisor, measure_sql
from rmds.indicators.inputs import INPUTS, input_sql
from rmds.indicators.population import load_population, read_population
from rmds.indicators.standardised import band_measures, standardised_cells
from rmds.lake.population import recorded_population
from rmds.lake.store import Lake
from rmds.territory import Level, ReferencePack, Vintage, vintage_for_year
from rmds.territory.model import Municipality, slug

__all__ = [
    "MART_COLUMNS",
    "ComputeResult",
    "compute",
    "inputs_of",
    "load_population",
    "placements",
    "population_for",
    "prepare_inputs",
    "prepare_territory",
    "read_population",
    "span_years",
]

MART_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("indicator_id", "VARCHAR", "indicador (id do catálogo)"),
    ("level", "VARCHAR", "nível territorial: municipio, regiao, macrorregiao, urs, "
     "consorcio, estado"),
    ("unit_code", "VARCHAR", "código da unidade territorial"),
    ("vintage", "VARCHAR", "regionalização válida no período"),
    ("period_type", "VARCHAR", "mes, trimestre ou ano"),
    ("period", "VARCHAR", "AAAA-MM, AAAA-Tn ou AAAA"),
    ("year", "INTEGER", "ano do período"),
    ("numerator", "DOUBLE", "numerador"),
    ("denominator", "DOUBLE", "denominador (nascidos vivos, eventos ou pessoas-ano)"),
    ("value", "DOUBLE", "valor bruto (numerador / denominador × multiplicador)"),
    ("ci_low", "DOUBLE", "limite inferior do intervalo de 95%"),
    ("ci_high", "DOUBLE", "limite superior do intervalo de 95%"),
    ("smoothed", "DOUBLE", "valor suavizado por Bayes empírico (municípios)"),
    ("suppressed", "BOOLEAN", "célula pequena: oculta em saídas públicas"),
    ("run_id", "BIGINT", "cálculo que produziu a linha"),
)
RUN_COLUMNS_SQL = ("run_id BIGINT, computed_at TIMESTAMP, years VARCHAR, indicators INTEGER, "
               "rows BIGINT, population_source VARCHAR, small_cell_threshold INTEGER, "
               "seconds DOUBLE, notes VARCHAR, source_snapshot BIGINT")
_EVENT_DATES = {"deaths": "death_date", "births": "birth_date",
                "hospitalisations": "admission_date", "immunisations": "vaccination_date"}
_LEVELS = (Level.MUNICIPALITY, Level.REGION, Level.MACRO, Level.URS, Level.CONSORTIUM,
           Level.STATE)


@dataclass
class ComputeResult:
    run_id: int
    years: tuple[int, ...]
    indicators: int
    rows: int
    seconds: float
    population_source: str
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def span_years(engine: Engine) -> tuple[int, ...]:
    """The years the lake's events cover (deaths, births, admissions, doses)."""
    parts_sql = " UNION ALL ".join(
        f"SELECT min(year({ident(c)})) AS lo, max(year({ident(c)})) AS hi FROM {ident(t)}"
        for t, c in _EVENT_DATES.items())
    found = engine.query(f"SELECT min(lo) AS lo, max(hi) AS hi FROM ({parts_sql}) s")
    lo, hi = found.column("lo")[0].as_py(), found.column("hi")[0].as_py()
    if lo is None:
        return ()
    return tuple(range(int(lo), int(hi) + 1))


Placement = tuple[Level, str, dt.date | None, dt.date | None]


def placements(municipality: Municipality, vintage: Vintage,
               consortia: Sequence[Membership] = ()) -> list[Placement]:
    """The units a municipality belongs to at every level in a vintage, as (level, code,
    valid from, valid to); only consortium memberships carry dates."""
    out: list[Placement] = [
        (Level.MUNICIPALITY, municipality.ibge7, None, None),
        (Level.REGION, municipality.region[vintage], None, None),
        (Level.MACRO, municipality.macro[vintage], None, None),
        (Level.URS, slug(municipality.urs), None, None),
        (Level.STATE, municipality.state, None, None)]
    return out + [(Level.CONSORTIUM, c.consortium, c.valid_from, c.valid_to)
                  for c in consortia]


def prepare_territory(engine: Engine, pack: ReferencePack,
                      con: duckdb.DuckDBPyConnection | None) -> None:
    """Regions, memberships at every level (consortia with their validity dates, imported
    into the lake that ``con`` reads) and unit names, as relations of the engine."""
    regions: dict[str, list[str]] = {"municipality": [], "vintage": [], "region": [],
                                     "macro": []}
    members: dict[str, list[Any]] = {"municipality": [], "vintage": [], "level": [],
                                     "unit_code": [], "valid_from": [], "valid_to": []}
    consortia: dict[str, list[Membership]] = {}
    for item in memberships(con, pack):
        consortia.setdefault(item.municipality, []).append(item)
    for m in pack.municipalities.values():
        for v in pack.vintages:
            regions["municipality"].append(m.ibge7)
            regions["vintage"].append(v.value)
            regions["region"].append(m.region[v])
            regions["macro"].append(m.macro[v])
            for level, code, start, end in placements(m, v, consortia.get(m.ibge7, [])):
                members["municipality"].append(m.ibge7)
                members["vintage"].append(v.value)
                members["level"].append(level.value)
                members["unit_code"].append(code)
                members["valid_from"].append(start)
                members["valid_to"].append(end)
    names = consortium_names(con, pack)
    units: dict[str, list[str]] = {"level": [], "unit_code": [], "vintage": [], "name": []}
    for v in pack.vintages:
        for level in _LEVELS:
            for code, unit in pack.units(level, v).items():
                units["level"].append(level.value)
                units["unit_code"].append(code)
                units["vintage"].append(v.value)
                units["name"].append(unit.name)
        for code, name in names.items():
            if code not in pack.consortia:
                units["level"].append(Level.CONSORTIUM.value)
                units["unit_code"].append(code)
                units["vintage"].append(v.value)
                units["name"].append(name)
    for name, data in (("ind_regions", regions), ("ind_membership", pa.table({
            **{k: pa.array(members[k], pa.string()) for k in (
                "municipality", "vintage", "level", "unit_code")},
            "valid_from": pa.array(members["valid_from"], pa.date32()),
            "valid_to": pa.array(members["valid_to"], pa.date32())})),
                       ("ind_unit_names", units)):
        engine.register(name, data if isinstance(data, pa.Table) else pa.table(data))
    # units that have at least one member municipality
    engine.create("ind_units", """
        SELECT DISTINCT m.level, m.unit_code, m.vintage, coalesce(n.name, m.unit_code) AS name
        FROM ind_membership m LEFT JOIN ind_unit_names n
        ON n.level = m.level AND n.unit_code = m.unit_code AND n.vintage = m.vintage""")


def _calendar(engine: Engine, years: Sequence[int],
              population_years: Sequence[int], vintages: Sequence[Vintage]) -> list[str]:
    notes: list[str] = []
    first, last = min(population_years), max(population_years)
    cal: dict[str, list[object]] = {"month": [], "period_type": [], "period": []}
    per: dict[str, list[object]] = {k: [] for k in (
        "period_type", "period", "year", "vintage", "months", "last_month",
        "population_year", "first_day", "last_day")}

    def period(kind: str, label: str, year: int, months: int, last_month: dt.date) -> None:
        per["period_type"].append(kind)
        per["period"].append(label)
        per["year"].append(year)
        per["vintage"].append(vintage_for_year(year, vintages).value)
        per["months"].append(months)
        per["last_month"].append(last_month)
        per["population_year"].append(min(max(year, first), last))
        start = dt.date(last_month.year, last_month.month, 1)
        start = dt.date(start.year - (1 if start.month <= months - 1 else 0),
                        (start.month - months) % 12 + 1, 1)
        per["first_day"].append(start)
        following = dt.date(last_month.year + last_month.month // 12,
                            last_month.month % 12 + 1, 1)
        per["last_day"].append(following - dt.timedelta(days=1))

    for year in years:
        if not first <= year <= last:
            notes.append(f"população de {year} indisponível: usada a de "
                         f"{min(max(year, first), last)}")
        period("ano", f"{year}", year, 12, dt.date(year, 12, 1))
        for q in range(1, 5):
            period("trimestre", f"{year}-T{q}", year, 3, dt.date(year, 3 * q, 1))
        for month in range(1, 13):
            day = dt.date(year, month, 1)
            period("mes", f"{year}-{month:02d}", year, 1, day)
            for kind, label in (("mes", f"{year}-{month:02d}"),
                                ("trimestre", f"{year}-T{(month - 1) // 3 + 1}"),
                                ("ano", f"{year}")):
                cal["month"].append(day)
                cal["period_type"].append(kind)
                cal["period"].append(label)
    for name, data in (("ind_calendar", cal), ("ind_periods", per)):
        engine.register(name, pa.table(data))
    return notes


def prepare_inputs(engine: Engine, pack: ReferencePack, needed: set[str]) -> None:
    codes = sorted(pack.icsap.codes)
    obstetric = list(OBSTETRIC_PROCEDURES)
    engine.register("ind_codesets", pa.table({
        "codeset": ["icsap"] * len(codes) + ["procedimento_obstetrico"] * len(obstetric),
        "code": codes + obstetric}))
    # residence and birth date of FHIR patients: the only fields read from the protected
    # identity table, and only into counts
    engine.create("ind_fhir_patients", """
        SELECT record_key AS patient_key, min(residence_municipality)
               AS residence_municipality, min(birth_date) AS birth_date
        FROM identity_records WHERE source_system = 'FHIR' AND role = 'paciente'
        GROUP BY record_key""")
    for name in sorted(needed):
        engine.create(INPUTS[name].relation, input_sql(name, pack.vintages))


def inputs_of(indicators: Sequence[Indicator]) -> set[str]:
    needed: set[str] = set()
    for indicator in indicators:
        for measure in (indicator.numerator, indicator.denominator):
            if measure is not None and measure.input:
                needed.add(measure.input)
                if measure.among:
                    needed.add(measure.among.input)
    return needed


def population_for(lake: Lake, pack: ReferencePack, population: Path | None = None
                   ) -> tuple[pa.Table, str]:
    """The population to divide by and where it came from: ``population`` when given, else
    the one the lake was built with (a synthetic state's, recorded at ingest), else the
    reference pack's."""
    if population is None:
        recorded = recorded_population(lake)
        if recorded is not None:
            people, source = recorded
            return people, f"{source} (registrada no lago)"
    path = population or pack.directory / "populacao_sexo_faixa5.csv"
    return read_population(path), str(path)


def compute(lake: Lake, pack: ReferencePack, *, catalog: Catalog | None = None,
            years: Sequence[int] | None = None, population: Path | None = None,
            threshold: int = 5, only: Sequence[str] | None = None,
            progress: Callable[[str], None] | None = None,
            engine: str | Engine = "duckdb") -> ComputeResult:
    """Compute the catalog (or the indicators in ``only``) for ``years`` (default: the
    years the lake covers) and replace the mart with the result. The counts and the roll-up
    run on ``engine`` (``duckdb``: the lake's connection; ``spark``: Spark reading the
    lake's Parquet files); intervals, smoothing and suppression run on the collected grid,
    the same code whatever the engine; the mart is written into the lake in one commit."""
    if isinstance(engine, str):
        opened = open_engine(engine, lake)
        try:
            return compute(lake, pack, catalog=catalog, years=years, population=population,
                           threshold=threshold, only=only, progress=progress, engine=opened)
        finally:
            opened.close()
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        if progress:
            progress(name)

    catalog = catalog or load_catalog()
    chosen = [catalog.get(i) for i in only] if only else list(catalog)
    span = tuple(years) if years else span_years(engine)
    if not span:
        raise ConfigurationError("o lago não tem eventos: carregue arquivos com 'rmds "
                                 "ingest' antes de calcular indicadores")
    people, population_source = population_for(lake, pack, population)
    population_years = sorted({int(y) for y in people.column("year").to_pylist()
                               if y is not None})
    if not population_years:
        raise InputError(f"arquivo de população vazio: {population_source}")
    engine.register("ind_population", people)
    prepare_territory(engine, pack, lake.con)
    notes = _calendar(engine, span, population_years, pack.vintages)
    prepare_inputs(engine, pack, inputs_of(chosen))
    lap("preparo")
    engine.register("ind_counts", _counts(engine, chosen, dt.date(span[0], 1, 1),
                                          dt.date(span[-1] + 1, 1, 1)))
    lap("contagens")
    wanted: dict[str, list[Any]] = {"indicator": [], "period_type": [], "has_denominator": [],
                                    "num_divisor": [], "den_divisor": []}
    for indicator in chosen:
        for kind in indicator.periods:
            wanted["indicator"].append(indicator.id)
            wanted["period_type"].append(kind)
            wanted["has_denominator"].append(indicator.denominator is not None)
            wanted["num_divisor"].append(divisor(indicator.numerator))
            wanted["den_divisor"].append(divisor(indicator.denominator)
                                         if indicator.denominator is not None else 1.0)
    engine.register("ind_list", pa.table(wanted))
    engine.create("ind_rolled", """
        SELECT k.indicator, k.role, t.level, t.unit_code, k.period_type, k.period,
               sum(k.n) AS n
        FROM ind_counts k
        JOIN ind_periods p ON p.period_type = k.period_type AND p.period = k.period
        JOIN ind_membership t ON t.municipality = k.municipality AND t.vintage = p.vintage
             AND (t.valid_from IS NULL OR t.valid_from <= p.last_day)
             AND (t.valid_to IS NULL OR t.valid_to >= p.first_day)
        GROUP BY k.indicator, k.role, t.level, t.unit_code, k.period_type, k.period""")
    grid = _conform(engine.query("""
        SELECT g.indicator AS indicator_id, u.level, u.unit_code, p.vintage, p.period_type,
               p.period, CAST(p.year AS INTEGER) AS year,
               CAST(coalesce(num.n, 0) AS DOUBLE) / g.num_divisor AS numerator,
               CAST(CASE WHEN g.has_denominator THEN coalesce(den.n, 0) END AS DOUBLE)
                   / g.den_divisor AS denominator
        FROM ind_list g
        JOIN ind_periods p ON p.period_type = g.period_type
        JOIN ind_units u ON u.vintage = p.vintage
        LEFT JOIN ind_rolled num ON num.role = 'numerator' AND num.indicator = g.indicator
             AND num.level = u.level AND num.unit_code = u.unit_code
             AND num.period_type = p.period_type AND num.period = p.period
        LEFT JOIN ind_rolled den ON den.role = 'denominator' AND den.indicator = g.indicator
             AND den.level = u.level AND den.unit_code = u.unit_code
             AND den.period_type = p.period_type AND den.period = p.period
        ORDER BY g.indicator, u.level, u.unit_code, p.period_type, p.period"""))
    units = engine.query("SELECT level, unit_code, vintage, name FROM ind_units")
    lap("agregacao")
    places = engine.query("SELECT municipality, vintage, region, macro FROM ind_regions"
                          ).to_pydict()
    hierarchy = {(str(m), str(v)): (str(r), str(g)) for m, v, r, g in zip(
        places["municipality"], places["vintage"], places["region"], places["macro"],
        strict=True)}
    urs = engine.query("SELECT DISTINCT municipality, vintage, unit_code FROM ind_membership "
                       "WHERE level = 'urs'").to_pydict()
    mart = cell_statistics(grid, catalog, threshold, hierarchy, {
        (str(m), str(v)): str(u) for m, v, u in zip(
            urs["municipality"], urs["vintage"], urs["unit_code"], strict=True)},
        consortia=_consortium_members(engine),
        standardised=standardised_cells(engine, grid, chosen))
    lap("estatisticas")
    run_id = _write(lake, mart, units, span, len(chosen), population_source, threshold,
                    notes, sum(timings.values()), only is not None, engine.name)
    lap("gravacao")
    return ComputeResult(run_id, span, len(chosen), mart.num_rows, sum(timings.values()),
                         population_source, notes, timings)


_GRID_TYPES = {"year": pa.int32(), "numerator": pa.float64(), "denominator": pa.float64()}


def _conform(table: pa.Table) -> pa.Table:
    """The grid with the same Arrow types whatever engine produced it."""
    fields = [pa.field(f.name, _GRID_TYPES.get(f.name, pa.string())) for f in table.schema]
    return table.cast(pa.schema(fields))


def _counts(engine: Engine, chosen: Sequence[Indicator], start: dt.date, end: dt.date
            ) -> pa.Table:
    """(indicator, role, municipality, period_type, period, n) of every measure."""
    parts: list[pa.Table] = []
    for indicator in chosen:
        measures = [("numerator", indicator.numerator)]
        if indicator.denominator is not None:
            measures.append(("denominator", indicator.denominator))
        measures += band_measures(indicator)
        for role, measure in measures:
            counted_sql = measure_sql(measure, start, end)
            found = engine.query(
                f"SELECT municipality, period_type, period, n FROM ({counted_sql}) q "
                f"WHERE period_type IN ({lit_list(indicator.periods)})")
            size = found.num_rows
            parts.append(pa.table({
                "indicator": pa.array([indicator.id] * size, pa.string()),
                "role": pa.array([role] * size, pa.string()),
                "municipality": found.column("municipality").cast(pa.string()),
                "period_type": found.column("period_type").cast(pa.string()),
                "period": found.column("period").cast(pa.string()),
                "n": found.column("n").cast(pa.float64())}))
    if not parts:
        return pa.table({name: pa.array([], kind) for name, kind in (
            ("indicator", pa.string()), ("role", pa.string()), ("municipality", pa.string()),
            ("period_type", pa.string()), ("period", pa.string()), ("n", pa.float64()))})
    return pa.concat_tables(parts)


def _consortium_members(engine: Engine) -> list[tuple[str, str, str, dt.date | None,
                                                       dt.date | None]]:
    found = engine.query(
        "SELECT unit_code, vintage, municipality, valid_from, valid_to FROM ind_membership "
        f"WHERE level = {lit(Level.CONSORTIUM.value)}").to_pydict()
    return [(str(c), str(v), str(m), f, t) for c, v, m, f, t in zip(
        found["unit_code"], found["vintage"], found["municipality"], found["valid_from"],
        found["valid_to"], strict=True)]


def _write(lake: Lake, mart: pa.Table, units: pa.Table, years: Sequence[int],
           indicators: int, population: str, threshold: int, notes: list[str],
           seconds: float, partial: bool, engine: str) -> int:
    con = lake.con
    columns_sql = ", ".join(f"{ident(name)} {sql}" for name, sql, _ in MART_COLUMNS)
    source_snapshot = lake.snapshot_id()   # what the computation read
    lake.run("BEGIN TRANSACTION")
    try:
        lake.run(f"CREATE TABLE IF NOT EXISTS indicator_values ({columns_sql})")
        lake.run(f"CREATE TABLE IF NOT EXISTS indicator_runs ({RUN_COLUMNS_SQL})")
        con.register("rmds_units", units)
        lake.run("CREATE OR REPLACE TABLE indicator_units AS SELECT * FROM rmds_units")
        con.unregister("rmds_units")
        run_id = int(lake.scalar("SELECT coalesce(max(run_id), 0) + 1 FROM indicator_runs"))
        if partial:
            ids = pa.array(sorted(set(mart.column("indicator_id").to_pylist())))
            con.register("rmds_ids", pa.table({"id": ids}))
            lake.run("DELETE FROM indicator_values WHERE indicator_id IN "
                     "(SELECT id FROM rmds_ids)")
            con.unregister("rmds_ids")
        else:
            lake.run("DELETE FROM indicator_values")
        lake.insert("indicator_values", mart.append_column(
            "run_id", pa.array(np.full(mart.num_rows, run_id, np.int64))))
        lake.run("INSERT INTO indicator_runs VALUES (?, current_timestamp, ?, ?, ?, ?, ?, ?, ?, "
                 "?)", [run_id, f"{years[0]}–{years[-1]}", indicators, mart.num_rows,
                        population, threshold, round(seconds, 3), "; ".join(notes),
                        source_snapshot])
        lake.commit("indicadores", calculo=run_id, indicadores=indicators,
                    linhas=mart.num_rows, snapshot_lido=source_snapshot, motor=engine)
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return run_id
