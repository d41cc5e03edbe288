"""Synthetic SINAN dengue files with planted epidemics and their ground truth.

Every municipality has a seasonal endemic level of probable dengue cases (higher in the
summer, weeks ~5–20, as in Minas Gerais); in a few chosen municipality-years an epidemic
is planted on top of it, between two weeks. Weekly counts are drawn (Poisson), each case
becomes a notification in its year's layout (classification codes of SINAN Net before 2014,
SINAN Online from 2014), and discarded notifications are added. The ground truth
(``verdade/sinan_semanas.parquet``) gives, per municipality, year and epidemiological week
of onset, the probable cases, notifications, deaths and whether the week is planted; the
plan (``verdade/sinan_epidemias.parquet``) the planted epidemics.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rmds.sources.datasus.dbf_writer import dbf_bytes, write_dbc
from rmds.systems.sinan.channel import BASELINE_YEARS
from rmds.systems.sinan.epiweek import epi_weeks, week_start, weeks_in_year
from rmds.systems.sinan.layouts import LAYOUTS

__all__ = ["PLAN_FILE", "TRUTH_FILE", "Epidemic", "SinanPlan", "default_plan", "write_sinan",
           "write_state"]

# Parquet, as the state's other truths: what rmds ingest does not take for a source file
TRUTH_FILE = "verdade/sinan_semanas.parquet"
PLAN_FILE = "verdade/sinan_epidemias.parquet"
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
    # weekly probable cases per 100,000 at the season's peak: ~280 a year, an ordinary
    # (non-epidemic) year in Minas Gerais
    endemic_incidence: float = 20.0
    discarded_share: float = 0.3     # of notifications
    unclassified_share: float = 0.02  # probable cases never closed
    late_share: float = 0.05          # closed more than 60 days after notification
    # in municipalities with degraded data (PQA-VS: many close under half in 60 days)
    degraded_unclassified_share: float = 0.30
    degraded_late_share: float = 0.60
    fatality: float = 0.002          # deaths by dengue among probable cases


def seasonal(week: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Relative endemic level by week: a summer peak at week 12, low in the winter."""
    return np.asarray(0.1 + np.exp(-(((week - 12.0) / 5.0) ** 2)), dtype=np.float64)


def default_plan(municipalities: list[str], populations: list[int], years: tuple[int, ...],
                 seed: int) -> SinanPlan:
    """Epidemics in the last year in three of the more populous municipalities, and in the
    year before in one other; weeks 8–16, at 150–300 cases per 100,000 at the peak."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1710]))
    order = np.argsort(-np.asarray(populations), kind="stable")[:max(4, len(populations) // 10)]
    chosen = rng.choice(order, size=min(4, len(order)), replace=False)
    epidemics = []
    for rank, index in enumerate(chosen):
        year = years[-1] if rank < 3 or len(years) < 2 else years[-2]
        epidemics.append(Epidemic(municipalities[int(index)], year, 8, 16,
                                  float(rng.uniform(150, 300))))
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
                plan: SinanPlan | None = None, degraded: list[bool] | None = None
                ) -> list[str]:
    """Write ``DENGBR<yy>`` files for ``years`` (one per notification year) and the truth;
    returns the files written, relative to ``out``."""
    plan = plan or default_plan(municipalities, populations, years, seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1711]))
    folder = out / "sinan"
    folder.mkdir(parents=True, exist_ok=True)
    truth: list[tuple[str, int, int, int, int, int, int]] = []
    planted = {(e.municipality, e.year, w) for e in plan.epidemics
               for w in range(e.first_week, e.last_week + 1)}
    records: dict[int, pa.Table] = {}
    codes = np.array(municipalities)
    bad_data = np.array(degraded if degraded is not None else [False] * len(municipalities))
    for year in years:
        first_day = (week_start(year, 1) - _EPOCH).days
        mean = np.stack([expected_cases(plan, population, code, year)
                         for code, population in zip(municipalities, populations, strict=True)])
        probable = rng.poisson(mean)                       # [municipality, week]
        discarded = rng.poisson(mean * plan.discarded_share / (1 - plan.discarded_share))
        total = probable + discarded
        n = int(total.sum())
        cell = np.repeat(np.arange(total.size), total.ravel())  # one per notification
        muni, week = np.divmod(cell, total.shape[1])
        week = week + 1
        # within each cell, the first `probable` notifications are the probable cases
        starts = np.concatenate([[0], np.cumsum(total.ravel())[:-1]])
        rank = np.arange(n) - np.repeat(starts, total.ravel())
        is_probable = rank < probable.ravel()[cell]
        onset = first_day + (week - 1) * 7 + rng.integers(0, 7, n)
        notified = onset + rng.integers(0, 5, n)
        classes = _classes(rng, notified)
        worse = bad_data[muni]
        unclassified = is_probable & (rng.random(n) < np.where(
            worse, plan.degraded_unclassified_share, plan.unclassified_share))
        died = is_probable & ~unclassified & (rng.random(n) < plan.fatality)
        online = _calendar_year(notified) >= 2014
        classes = np.where(is_probable, classes, "5")
        classes = np.where(died, np.where(online, "12", "3"), classes)
        classes = np.where(unclassified, "", classes)
        late = rng.random(n) < np.where(worse, plan.degraded_late_share, plan.late_share)
        delay = np.where(late, rng.integers(61, 120, n), rng.integers(3, 61, n))
        closing = np.where(unclassified, -1, notified + delay)
        records[year] = pa.table({
            "day_notified": notified, "day_onset": onset, "classes": classes, "died": died,
            "closing": closing, "age": rng.integers(0, 90, n),
            "sex": rng.choice(np.array(["M", "F"]), n), "municipality": codes[muni],
            "race": rng.choice(np.array(["1", "2", "4", "9"]), n),
        })
        deaths = np.bincount(cell[died], minlength=total.size).reshape(total.shape)
        for i, code in enumerate(municipalities):
            truth += [(code, year, w + 1, int(probable[i, w]), int(total[i, w]),
                       int(deaths[i, w]), int((code, year, w + 1) in planted))
                      for w in range(total.shape[1])]
    files = [_write_year(folder, year, data, dbc) for year, data in sorted(records.items())]
    (out / "verdade").mkdir(exist_ok=True)
    names = ["municipio", "ano", "semana", "casos_provaveis", "notificacoes", "obitos",
             "epidemia_plantada"]
    pq.write_table(pa.table({name: [row[i] for row in truth] for i, name in enumerate(names)}
                            ).cast(pa.schema([(n, pa.string() if n == "municipio" else
                                               pa.int64()) for n in names])),
                   out / TRUTH_FILE)
    pq.write_table(pa.Table.from_pylist([asdict(e) for e in plan.epidemics], schema=pa.schema(
        [("municipality", pa.string()), ("year", pa.int64()), ("first_week", pa.int64()),
         ("last_week", pa.int64()), ("peak_incidence", pa.float64())])), out / PLAN_FILE)
    return [*files, TRUTH_FILE, PLAN_FILE]


def write_state(out: Path, municipalities: list[str], populations: list[int],
                years: tuple[int, ...], seed: int, *, dbc: bool = False,
                degraded: list[bool] | None = None) -> list[str]:
    """The synthetic state's hook: its years and the ones before them that the epidemic
    channel takes as its baseline; municipalities with degraded data close late and leave
    cases unclassified far more often."""
    every = tuple(range(years[0] - BASELINE_YEARS, years[-1] + 1))
    return write_sinan(out, municipalities, populations, every, seed, dbc=dbc,
                       degraded=degraded)


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
    uf = pc.utf8_slice_codeunits(municipality, 0, 2)      # the UF: the code's first 2 digits
    data = pa.table({
        "TP_NOT": ["2"] * n, "ID_AGRAVO": ["A90"] * n,
        "DT_NOTIFIC": dates(notified, no),
        "SEM_NOT": pa.array(epi_weeks(notified).astype(str)),
        "NU_ANO": [str(year)] * n, "SG_UF_NOT": uf, "ID_MUNICIP": municipality,
        "DT_SIN_PRI": dates(onset, no),
        "SEM_PRI": pa.array(epi_weeks(onset).astype(str)),
        "NU_IDADE_N": pa.array((4000 + table.column("age").to_numpy()).astype(str)),
        "CS_SEXO": table.column("sex"), "CS_RACA": table.column("race"),
        "SG_UF": uf, "ID_MN_RESI": municipality,
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
