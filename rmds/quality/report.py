"""The municipal data-maturity diagnosis: rules measured per municipality, rolled up into a
score from 0 to 100, a level, and what pulls the score down.

Each rule's value is measured per municipality of residence. It scores 100 at its target or
better and 0 at its limit or worse; to be fair to small municipalities, the score is taken
from the end of the 99% interval nearest the target (the lower Wilson bound of a share of
bad records, the upper Poisson bound of a coverage ratio), so a municipality only loses
points where the evidence says so. The municipal score is the weighted mean of the rules it
has data for; the explanation lists the rules that take the most points away.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from rmds.engine import Engine, open_engine
from rmds.engine.sql import col, ident, lit
from rmds.indicators.compute import population_for, prepare_inputs, prepare_territory
from rmds.indicators.expr import filter_sql
from rmds.indicators.inputs import INPUTS
from rmds.indicators.stats import poisson_interval, wilson_interval
from rmds.lake.store import Lake, table_exists
from rmds.quality.rules import DIMENSIONS, RECORD_KEYS, Rule, load_rules
from rmds.schema.keys import RECORD_UID as RECORD_UID_SQL
from rmds.territory import ReferencePack

__all__ = ["CONFIDENCE", "LEVELS", "QualityResult", "level_of", "municipality_report",
           "quality_report"]

# the interval a rule's score is read from: 99%, so that a municipality with a handful of
# records is not marked down by chance (at 95%, a few good municipalities of each synthetic
# state were)
CONFIDENCE = 0.99
LEVELS = ((85.0, "avançada"), (70.0, "intermediária"), (50.0, "básica"), (0.0, "inicial"))


def level_of(score: float | None) -> str:
    if score is None or np.isnan(score):
        return "sem dados"
    return next(name for floor, name in LEVELS if score >= floor)


@dataclass
class QualityResult:
    municipalities: int
    evaluated: int
    rules: int
    skipped: dict[str, str] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)


def _share_sql(rule: Rule) -> str:
    assert rule.input and rule.territory
    relation_sql = ident(INPUTS[rule.input].relation)
    territory_sql = col("x", rule.territory)
    return (f"SELECT {territory_sql} AS municipality, count(*) AS n, "
            f"count(*) FILTER (WHERE coalesce({filter_sql(rule.bad, 'x')}, FALSE)) AS k "
            f"FROM {relation_sql} x WHERE {territory_sql} IS NOT NULL "
            f"AND {filter_sql(rule.filter, 'x')} GROUP BY {territory_sql}")


def _duplicates_sql(rule: Rule) -> str:
    """Records counted once per source key (a FHIR Patient re-sent in many bundles is one
    registration); a record is a duplicate when its person already has one with the same
    values of ``same``."""
    records_sql = (f"SELECT residence_municipality AS municipality, source_file, record_key, "
                   f"{RECORD_UID_SQL} AS record_uid FROM identity_records "
                   f"WHERE source_system = {lit(rule.system)} AND role = {lit(rule.role)} "
                   "AND residence_municipality IS NOT NULL")
    join_sql, extra_sql = "", ""
    if rule.same and rule.input:
        key = RECORD_KEYS[rule.input]
        join_sql = (f" JOIN {ident(rule.input)} i ON i.source_file = r.source_file "
                    f"AND {col('i', key)} = r.record_key")
        extra_sql = ", " + ", ".join(
            f"coalesce(CAST({col('i', c)} AS VARCHAR), '') AS {ident('s_' + c)}"
            for c in rule.same)
    same_sql = "".join(", " + ident("s_" + c) for c in rule.same)
    return (
        f"SELECT municipality, count(*) AS n, count(*) - count(DISTINCT concat_ws('|', "
        f"CAST(person_id AS VARCHAR){same_sql})) AS k FROM ("
        f"SELECT DISTINCT r.municipality, r.record_key, l.person_id{extra_sql} FROM "
        f"({records_sql}) r JOIN person_links l ON l.record_uid = r.record_uid{join_sql}) d "
        "GROUP BY municipality")


def _coverage_sql(rule: Rule) -> str:
    assert rule.input and rule.territory
    relation_sql = ident(INPUTS[rule.input].relation)
    territory_sql = col("x", rule.territory)
    date_sql = col("x", {"births": "birth_date", "deaths": "death_date"}[rule.input])
    where_sql = (f"{territory_sql} IS NOT NULL AND {filter_sql(rule.filter, 'x')} "
                 f"AND year({date_sql}) IN (SELECT DISTINCT year FROM ind_population)")
    if rule.expected_by == "fecundidade":
        return f"""
        WITH obs AS (SELECT {territory_sql} AS municipality, year({date_sql}) AS year,
                            count(*) AS n FROM {relation_sql} x WHERE {where_sql}
                     GROUP BY {territory_sql}, year({date_sql})),
             women AS (SELECT municipality, year, sum(pop) AS w FROM ind_population
                       WHERE sex = 'F' AND age_low BETWEEN 10 AND 45
                       GROUP BY municipality, year),
             totals AS (SELECT year, sum(w) AS w FROM women GROUP BY year),
             rate AS (SELECT o.year, sum(o.n) / min(t.w) AS r FROM obs o
                      JOIN totals t ON t.year = o.year GROUP BY o.year)
        SELECT w.municipality, coalesce(sum(o.n), 0) AS n, sum(w.w * rate.r) AS expected
        FROM women w JOIN rate ON rate.year = w.year
        LEFT JOIN obs o ON o.municipality = w.municipality AND o.year = w.year
        GROUP BY w.municipality"""
    return f"""
        WITH obs AS (SELECT {territory_sql} AS municipality, year({date_sql}) AS year,
                            CASE x.sex WHEN 'M' THEN 'M' WHEN 'F' THEN 'F' END AS sex,
                            least(floor(x.age_years / 5) * 5, 80) AS age_low, count(*) AS n
                     FROM {relation_sql} x WHERE {where_sql} AND x.age_years IS NOT NULL
                     GROUP BY 1, 2, 3, 4),
             rate AS (SELECT p.year, p.sex, p.age_low,
                             coalesce(sum(o.n), 0) / sum(p.pop) AS r
                      FROM (SELECT year, sex, age_low, sum(pop) AS pop FROM ind_population
                            GROUP BY year, sex, age_low) p
                      LEFT JOIN (SELECT year, sex, age_low, sum(n) AS n FROM obs
                                 GROUP BY year, sex, age_low) o
                      ON o.year = p.year AND o.sex = p.sex AND o.age_low = p.age_low
                      WHERE p.year IN (SELECT DISTINCT year FROM obs)
                      GROUP BY p.year, p.sex, p.age_low),
             observed AS (SELECT municipality, sum(n) AS n FROM obs GROUP BY municipality)
        SELECT p.municipality, coalesce(min(ob.n), 0) AS n, sum(p.pop * rate.r) AS expected
        FROM ind_population p JOIN rate ON rate.year = p.year AND rate.sex = p.sex
             AND rate.age_low = p.age_low
        LEFT JOIN observed ob ON ob.municipality = p.municipality
        GROUP BY p.municipality"""


def _has_links(con: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(con, "person_links") and bool(
        con.execute("SELECT count(*) FROM person_links").fetchall()[0][0])


def _measure(engine: Engine, rule: Rule) -> pa.Table:
    if rule.kind == "cobertura":
        return engine.query(_coverage_sql(rule))
    if rule.kind == "duplicidade":
        return engine.query(_duplicates_sql(rule))
    return engine.query(_share_sql(rule))


def _score(rule: Rule, n: np.ndarray, k_or_expected: np.ndarray, k: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value %, bound %, score) for one rule's municipalities."""
    if rule.kind == "cobertura":
        observed, expected = n, k_or_expected
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(expected > 0, observed / expected * 100, np.nan)
        _, high = poisson_interval(observed, expected, CONFIDENCE)
        bound = high * 100
        share = (bound - rule.limit) / (rule.target - rule.limit)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(n > 0, k / n * 100, np.nan)
        low, _ = wilson_interval(k, n, CONFIDENCE)
        bound = low * 100
        share = (rule.limit - bound) / (rule.limit - rule.target)
    score = np.clip(share, 0, 1) * 100
    return value, bound, np.where(np.isnan(bound), np.nan, score)


def quality_report(lake: Lake, pack: ReferencePack, *, population: Path | None = None,
                   rules: Sequence[Rule] | None = None,
                   engine: str | Engine = "duckdb") -> QualityResult:
    """Measure every rule, score every municipality and store both in the lake
    (``quality_values``, ``quality_scores``), replacing the previous diagnosis. The rules
    are measured on ``engine`` (``duckdb`` or ``spark``); the scores, from the measured
    counts, by the same code whatever the engine."""
    if isinstance(engine, str):
        opened = open_engine(engine, lake)
        try:
            return quality_report(lake, pack, population=population, rules=rules,
                                  engine=opened)
        finally:
            opened.close()
    rules = tuple(rules or load_rules())
    con = lake.con
    # the population the lake was built with (a synthetic state's) unless one is given
    engine.register("ind_population", population_for(lake, pack, population)[0])
    prepare_territory(engine, pack, con)
    prepare_inputs(engine, pack, {r.input for r in rules
                                  if r.input and r.kind != "duplicidade"})
    linked = _has_links(con)
    codes = sorted(pack.municipalities)
    index = {code: i for i, code in enumerate(codes)}
    columns: dict[str, list[Any]] = {k: [] for k in (
        "rule_id", "municipality", "records", "failing", "expected", "value", "bound",
        "score")}
    skipped: dict[str, str] = {}
    scores = np.full((len(codes), len(rules)), np.nan)
    # a municipality with no record in any rule has no diagnosis ("sem dados"): its coverage
    # rules alone (0 records against a small expected count) would otherwise score it 100
    has_records = np.zeros(len(codes), np.bool_)
    for j, rule in enumerate(rules):
        if rule.kind == "duplicidade" and not linked:
            skipped[rule.id] = "vinculação ainda não rodou (rmds link)"
            continue
        table = _measure(engine, rule)
        munis = [index.get(m, -1) for m in table.column("municipality").to_pylist()]
        keep = np.array(munis) >= 0 if munis else np.zeros(0, np.bool_)
        n = np.asarray(table.column("n").to_numpy(zero_copy_only=False), np.float64)[keep]
        if rule.kind == "cobertura":
            other = np.asarray(table.column("expected").to_numpy(zero_copy_only=False),
                               np.float64)[keep]
            k = np.zeros_like(n)
        else:
            k = np.asarray(table.column("k").to_numpy(zero_copy_only=False), np.float64)[keep]
            other = k
        value, bound, score = _score(rule, n, other, k)
        rows = np.array(munis, np.int64)[keep]
        scores[rows, j] = score
        has_records[rows[n > 0]] = True
        columns["rule_id"] += [rule.id] * rows.size
        columns["municipality"] += [codes[i] for i in rows]
        columns["records"] += n.tolist()
        columns["failing"] += (k.tolist() if rule.kind != "cobertura" else [None] * rows.size)
        columns["expected"] += (other.tolist() if rule.kind == "cobertura"
                                else [None] * rows.size)
        columns["value"] += value.tolist()
        columns["bound"] += bound.tolist()
        columns["score"] += score.tolist()
    scores[~has_records, :] = np.nan
    weights = np.array([r.weight for r in rules])
    values_table = pa.table(columns)
    summary = _summaries(codes, rules, scores, weights, values_table).append_column(
        "name", pa.array([pack.municipalities[c].name for c in codes]))
    lake.run("BEGIN TRANSACTION")
    try:
        for name, data in (("quality_values", values_table), ("quality_scores", summary)):
            con.register("rmds_incoming", data)
            lake.run(f"CREATE OR REPLACE TABLE {ident(name)} AS SELECT * FROM rmds_incoming")
            con.unregister("rmds_incoming")
        lake.commit("qualidade", municipios=len(codes), regras=len(rules))
    except BaseException:
        lake.run("ROLLBACK")
        raise
    levels = summary.column("level").to_pylist()
    return QualityResult(len(codes), sum(1 for lv in levels if lv != "sem dados"), len(rules),
                         skipped, {lv: levels.count(lv) for lv in sorted(set(levels))})


def _summaries(codes: list[str], rules: Sequence[Rule], scores: np.ndarray,
               weights: np.ndarray, values: pa.Table) -> pa.Table:
    measured = {(r, m): (v, b) for r, m, v, b in zip(
        values.column("rule_id").to_pylist(), values.column("municipality").to_pylist(),
        values.column("value").to_pylist(), values.column("bound").to_pylist(), strict=True)}
    total: list[float | None] = []
    dims: dict[str, list[float | None]] = {d: [] for d in DIMENSIONS}
    explanations: list[str] = []
    for i, code in enumerate(codes):
        row = scores[i]
        ok = ~np.isnan(row)
        total.append(float(np.sum(row[ok] * weights[ok]) / weights[ok].sum())
                     if ok.any() else None)
        for dim in DIMENSIONS:
            mask = ok & np.array([r.dimension == dim for r in rules])
            dims[dim].append(float(np.sum(row[mask] * weights[mask]) / weights[mask].sum())
                             if mask.any() else None)
        lost = []
        if ok.any():
            for j in np.flatnonzero(ok):
                points = weights[j] * (100 - row[j]) / weights[ok].sum()
                if points >= 0.5:
                    rule = rules[int(j)]
                    value, bound = measured[(rule.id, code)]
                    lost.append({"regra": rule.id, "nome": rule.name,
                                 "dimensao": rule.dimension, "pontos_perdidos": round(points, 1),
                                 "valor": None if value is None else round(value, 1),
                                 "limite_ic": None if bound is None else round(bound, 1),
                                 "meta": rule.goal()})
        lost.sort(key=lambda item: -float(str(item["pontos_perdidos"])))
        explanations.append(json.dumps(lost, ensure_ascii=False))
    return pa.table({
        "municipality": codes,
        "score": pa.array(total, pa.float64()),
        "level": [level_of(s) for s in total],
        **{f"score_{d}": pa.array(v, pa.float64()) for d, v in dims.items()},
        "explanation": explanations,
    })


def municipality_report(con: duckdb.DuckDBPyConnection, code: str | None = None
                        ) -> list[dict[str, Any]]:
    """The stored diagnosis, worst first (or one municipality's, with its rule values)."""
    where_sql, params = ("WHERE s.municipality = ?", [code]) if code else ("", [])
    cursor = con.execute(
        f"SELECT * FROM quality_scores s {where_sql} ORDER BY s.score NULLS LAST, s.municipality",
        params)
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        item["explanation"] = json.loads(item["explanation"])
        out.append(item)
    if code and out:
        cursor = con.execute("SELECT * FROM quality_values WHERE municipality = ? "
                             "ORDER BY rule_id", [code])
        names = [d[0] for d in cursor.description]
        out[0]["rules"] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return out
