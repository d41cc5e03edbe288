"""Synthetic SINAN dengue files with planted epidemics and their ground truth.

Every municipality has a seasonal endemic level of probable dengue cases (higher in the
summer, weeks ~5–20, as in Minas Gerais); in a few chosen municipality-years an epidemic
is planted on top of it, between two weeks. Weekly counts are drawn (Poisson), each case
becomes a notification in its year's layout (classification codes of SINAN Net before 2014,
SINAN Online from 2014), and discarded notifications are added. The ground truth
(``sinan/verdade_sinan.csv``) gives, per municipality, year and epidemiological week of
onset, the probable cases, notifications, deaths and whether the week is planted; the plan
(``sinan/epidemias.json``) the planted epidemics.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from rmds.sources.datasus.dbf_writer import dbf_bytes, write_dbc
from rmds.systems.sinan.epiweek import epi_weeks, week_start, weeks_in_year
from rmds.systems.sinan.layouts import LAYOUTS

__all__ = ["Epidemic", "SinanPlan", "default_plan", "write_sinan"]

TRUTH_FILE = "sinan/verdade_sinan.csv"
PLAN_FILE = "sinan/epidemias.json"
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Epidemic:
    municipality: str        # IBGE 6 digits
    year: int
    first_week: int
    last_week: int
    peak_incidence: float    # probable cases per 100,000 in the peak week


@dataclass(frozen=True)
class SinanPlan:
    years: tuple[int, ...]
    epidemics: tuple[Epidemic, ...]
    endemic_incidence: float = 2.0   # weekly probable cases per 100,000 at the season's peak
    discarded_share: float = 0.3     # of notifications
    unclassified_share: float = 0.05  # probable cases never closed
    fatality: float = 0.002          # deaths by dengue among probable cases


def seasonal(week: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Relative endemic level by week: a summer peak at week 12, low in the winter."""
    return np.asarray(0.1 + np.exp(-(((week - 12.0) / 5.0) ** 2)), dtype=np.float64)


def default_plan(municipalities: list[str], populations: list[int], years: tuple[int, ...],
                 seed: int) -> SinanPlan:
    """Epidemics in the last year in three of the more populous municipalities, and in the
    year before in one other; weeks 8–16, at 40–80 cases per 100,000 at the peak."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1710]))
    order = np.argsort(-np.asarray(populations), kind="stable")[:max(4, len(populations) // 10)]
    chosen = rng.choice(order, size=min(4, len(order)), replace=False)
    epidemics = []
    for rank, index in enumerate(chosen):
        year = years[-1] if rank < 3 or len(years) < 2 else years[-2]
        epidemics.append(Epidemic(municipalities[int(index)], year, 8, 16,
                                  float(rng.uniform(40, 80))))
    return SinanPlan(years, tuple(epidemics))


def expected_cases(plan: SinanPlan, population: int, municipality: str, year: int
                   ) -> npt.NDArray[np.float64]:
    """Mean weekly probable cases (weeks 1..52/53) of one municipality-year."""
    weeks = np.arange(1, weeks_in_year(year) + 1)
    incidence = plan.endemic_incidence * seasonal(weeks)
    for e in plan.epidemics:
        if e.municipality == municipality and e.year == year:
            middle, half = (e.first_week + e.last_week) / 2, (e.last_week - e.first_week) / 2
            inside = (weeks >= e.first_week) & (weeks <= e.last_week)
            shape = 1 - 0.5 * np.abs(weeks - middle) / max(half, 1)  # peak 1, edges 0.5
            incidence = incidence + np.where(inside, e.peak_incidence * shape, 0.0)
    return np.asarray(incidence * population / 1e5, dtype=np.float64)


def _classes(rng: np.random.Generator, notified: npt.NDArray[np.int64]
             ) -> npt.NDArray[np.str_]:
    """Final classes of probable cases in the layout of each notification's year."""
    draw = rng.choice(np.arange(3), size=len(notified), p=[0.9, 0.08, 0.02])
    online = _calendar_year(notified) >= 2014
    chosen: npt.NDArray[np.str_] = np.where(online, np.array(["10", "11", "12"])[draw],
                                            np.array(["1", "2", "3"])[draw])
    return chosen


def _calendar_year(days: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.asarray(days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
                      + 1970, dtype=np.int64)


def write_sinan(out: Path, municipalities: list[str], populations: list[int],
                years: tuple[int, ...], seed: int, *, dbc: bool = False,
                plan: SinanPlan | None = None) -> list[str]:
    """Write ``DENGBR<yy>`` files for ``years`` (one per notification year) and the truth;
    returns the files written, relative to ``out``."""
    plan = plan or default_plan(municipalities, populations, years, seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1711]))
    folder = out / "sinan"
    folder.mkdir(parents=True, exist_ok=True)
    truth: list[tuple[str, int, int, int, int, int, int]] = []
    planted = {(e.municipality, e.year, w) for e in plan.epidemics
               for w in range(e.first_week, e.last_week + 1)}
    records: dict[int, list[pa.Table]] = {}
    for year in years:
        first_day = (week_start(year, 1) - _EPOCH).days
        for code, population in zip(municipalities, populations, strict=True):
            mean = expected_cases(plan, population, code, year)
            probable = rng.poisson(mean)
            discarded = rng.poisson(mean * plan.discarded_share / (1 - plan.discarded_share))
            total = probable + discarded
            n = int(total.sum())
            week = np.repeat(np.arange(1, len(mean) + 1), total)
            onset = first_day + (week - 1) * 7 + rng.integers(0, 7, n)
            notified = onset + rng.integers(0, 5, n)
            is_probable = np.concatenate([np.r_[np.ones(p, bool), np.zeros(d, bool)]
                                          for p, d in zip(probable, discarded, strict=True)]
                                         ) if n else np.zeros(0, bool)
            classes = _classes(rng, notified)
            unclassified = is_probable & (rng.random(n) < plan.unclassified_share)
            died = is_probable & ~unclassified & (rng.random(n) < plan.fatality)
            classes = np.where(is_probable, classes, "5")
            classes = np.where(died, np.where(_calendar_year(notified) >= 2014, "12", "3"), classes)
            classes = np.where(unclassified, "", classes)
            closing = np.where(unclassified, -1, notified + rng.integers(5, 90, n))
            age = rng.integers(0, 90, n)
            records.setdefault(year, []).append(pa.table({
                "day_notified": notified, "day_onset": onset, "classes": classes,
                "died": died, "closing": closing, "age": age,
                "sex": rng.choice(np.array(["M", "F"]), n), "municipality": [code] * n,
                "race": rng.choice(np.array(["1", "2", "4", "9"]), n),
            }))
            for w in range(len(mean)):
                deaths_w = int((died & (week == w + 1)).sum())
                truth.append((code, year, w + 1, int(probable[w]), int(total[w]), deaths_w,
                              int((code, year, w + 1) in planted)))
    files = []
    for year, parts in sorted(records.items()):
        files.append(_write_year(folder, year, pa.concat_tables(parts), dbc))
    with (folder / "verdade_sinan.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["municipio", "ano", "semana", "casos_provaveis", "notificacoes",
                         "obitos", "epidemia_plantada"])
        writer.writerows(truth)
    (folder / "epidemias.json").write_text(json.dumps(
        {"anos": list(plan.years), "epidemias": [asdict(e) for e in plan.epidemics]},
        ensure_ascii=False, indent=2), encoding="utf-8")
    return [*files, TRUTH_FILE, PLAN_FILE]


def _write_year(folder: Path, year: int, table: pa.Table, dbc: bool) -> str:
    layout = next(lay for lay in LAYOUTS if lay.covers(year))
    n = table.num_rows
    notified = table.column("day_notified").to_numpy()
    onset = table.column("day_onset").to_numpy()
    closing = table.column("closing").to_numpy()
    died = table.column("died").to_numpy(zero_copy_only=False)

    def dates(days: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> pa.Array:
        return pa.array(days.astype(np.int32), pa.int32(), mask=mask).cast(pa.date32())

    no = np.zeros(n, bool)
    municipality = table.column("municipality")
    data = pa.table({
        "TP_NOT": ["2"] * n, "ID_AGRAVO": ["A90"] * n,
        "DT_NOTIFIC": dates(notified, no),
        "SEM_NOT": pa.array(epi_weeks(notified).astype(str)),
        "NU_ANO": [str(year)] * n, "SG_UF_NOT": ["31"] * n, "ID_MUNICIP": municipality,
        "DT_SIN_PRI": dates(onset, no),
        "SEM_PRI": pa.array(epi_weeks(onset).astype(str)),
        "NU_IDADE_N": pa.array((4000 + table.column("age").to_numpy()).astype(str)),
        "CS_SEXO": table.column("sex"), "CS_RACA": table.column("race"),
        "SG_UF": ["31"] * n, "ID_MN_RESI": municipality,
        "CLASSI_FIN": table.column("classes"),
        "CRITERIO": pa.array(np.where(table.column("classes").to_numpy(zero_copy_only=False)
                                      == "", "", "2")),
        "EVOLUCAO": pa.array(np.where(died, "2", "1")),
        "DT_OBITO": dates(closing, ~died),
        "DT_ENCERRA": dates(closing, closing < 0),
    })
    names = set(data.column_names)
    fields = [f for f in layout.fields if f.name in names]
    stem = f"DENGBR{year % 100:02d}"
    name = f"{stem}.{'dbc' if dbc else 'dbf'}"
    raw = dbf_bytes(data.select([f.name for f in fields]), fields,
                    updated=dt.date(year + 1, 1, 31))
    if dbc:
        write_dbc(folder / name, raw)
    else:
        (folder / name).write_bytes(raw)
    return f"sinan/{name}"
