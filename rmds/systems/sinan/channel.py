"""The epidemic channel (diagrama de controle / canal endêmico) of probable arbovirus cases.

For a year and a territorial level, each unit's weekly incidence of probable cases (all
notified minus the discarded) per 100,000 residents, by epidemiological week of symptom
onset (``SEM_PRI``), is set against the same week of the previous years (by default the
five before):

* the channel is the quartile method (canal endêmico por quartis): first quartile, median
  and third quartile of the baseline years' incidence in that week, quantiles by linear
  interpolation between the sorted values (numpy's default, R's type 7);
* the week's zone: **sucesso** (at or below the first quartile), **segurança** (up to the
  median), **alerta** (up to the third quartile) and **epidemia** (above it).

The quartile method is the one the Ministry of Health's dengue guidelines describe and that
state bulletins draw; the mean ± 2 standard deviations variant is not implemented. A
baseline year without a week 53 lends its week 52 to that week. Regions and macro-regions
sum their members' cases and populations, in the regionalisation valid in the target year,
for every year. Populations are the reference pack's (DATASUS estimates by default).

Only counts leave the lake: no personal field is read.
"""

from __future__ import annotations

from enum import StrEnum

import duckdb
import numpy as np
import pyarrow as pa

from rmds.exceptions import ConfigurationError
from rmds.systems.sinan.epiweek import weeks_in_year
from rmds.territory import Level, ReferencePack, Unit

__all__ = ["BASELINE_YEARS", "CHANNEL_SCHEMA", "Zone", "epidemic_channel", "weekly_cases",
           "zone_of"]


class Zone(StrEnum):
    SUCESSO = "sucesso"
    SEGURANCA = "seguranca"
    ALERTA = "alerta"
    EPIDEMIA = "epidemia"

    @property
    def label(self) -> str:
        return {"sucesso": "Sucesso", "seguranca": "Segurança", "alerta": "Alerta",
                "epidemia": "Epidemia"}[self.value]


CHANNEL_SCHEMA = pa.schema([
    pa.field("level", pa.string()), pa.field("unit", pa.string()),
    pa.field("year", pa.int32()), pa.field("week", pa.int32()),
    pa.field("cases", pa.int64()), pa.field("population", pa.int64()),
    pa.field("incidence", pa.float64()), pa.field("q1", pa.float64()),
    pa.field("median", pa.float64()), pa.field("q3", pa.float64()),
    pa.field("zone", pa.string()),
])

_WEEKS = 53
BASELINE_YEARS = 5


def weekly_cases(con: duckdb.DuckDBPyConnection, years: list[int],
                 disease: str = "dengue") -> dict[tuple[str, int, int], int]:
    """Probable cases of ``disease`` by (residence municipality, year, week) of onset."""
    rows = con.execute(
        "SELECT residence_municipality, onset_week // 100 AS y, onset_week % 100 AS w, "
        "count(*) FROM notifications WHERE disease = ? AND probable "
        "AND residence_municipality IS NOT NULL AND onset_week // 100 BETWEEN ? AND ? "
        "GROUP BY ALL", [disease, min(years), max(years)]).fetchall()
    return {(str(m), int(y), int(w)): int(n) for m, y, w, n in rows}


def zone_of(incidence: float, q1: float, median: float, q3: float) -> Zone:
    if incidence <= q1:
        return Zone.SUCESSO
    if incidence <= median:
        return Zone.SEGURANCA
    if incidence <= q3:
        return Zone.ALERTA
    return Zone.EPIDEMIA


def epidemic_channel(con: duckdb.DuckDBPyConnection, pack: ReferencePack, year: int, *,
                     level: Level = Level.MUNICIPALITY, disease: str = "dengue",
                     baseline_years: int = BASELINE_YEARS, source: str | None = None) -> pa.Table:
    """One row per unit of ``level`` and epidemiological week of ``year``: cases, population,
    incidence per 100,000, the channel (q1, median, q3) from the ``baseline_years`` before,
    and the zone (:class:`Zone`)."""
    if level not in (Level.MUNICIPALITY, Level.REGION, Level.MACRO, Level.STATE):
        raise ConfigurationError(f"canal endêmico por {level.label} não disponível; use "
                                 "município, região de saúde, macrorregião ou estado")
    if baseline_years < 2:
        raise ConfigurationError("o canal endêmico precisa de pelo menos 2 anos anteriores")
    years = list(range(year - baseline_years, year + 1))
    counts = weekly_cases(con, years, disease)
    vintage = pack.vintage_for_year(year)
    units = sorted(pack.units(level, vintage))
    index = {code: i for i, code in enumerate(units)}
    member_of: dict[str, str] = {}
    for municipality in pack.municipalities.values():
        if level is Level.MUNICIPALITY:
            member_of[municipality.ibge7] = municipality.ibge7
        elif level is Level.STATE:
            member_of[municipality.ibge7] = municipality.state
        else:
            parent = pack.parents(municipality, vintage)[level]
            member_of[municipality.ibge7] = parent.code
    cases = np.zeros((len(units), len(years), _WEEKS), dtype=np.int64)
    for (resident, y, w), n in counts.items():
        unit = member_of.get(resident)
        if unit is not None and 1 <= w <= _WEEKS:
            cases[index[unit], y - years[0], w - 1] += n
    # municipal populations once, summed into the units (as ReferencePack.population sums a
    # region's members); asking the pack unit by unit is quadratic in the municipalities
    population = np.zeros((len(units), len(years)), dtype=np.int64)
    for municipality in pack.municipalities.values():
        unit_of = Unit(Level.MUNICIPALITY, municipality.ibge7, municipality.name)
        row = index[member_of[municipality.ibge7]]
        for j, y in enumerate(years):
            population[row, j] += pack.population(unit_of, y, source=source).value
    incidence = cases / population[:, :, None] * 1e5
    for j, y in enumerate(years[:-1]):  # a baseline year without week 53 lends its 52
        if weeks_in_year(y) == 52:
            incidence[:, j, 52] = incidence[:, j, 51]
    q1, median, q3 = np.percentile(incidence[:, :-1, :], [25, 50, 75], axis=1)
    weeks = weeks_in_year(year)
    value = incidence[:, -1, :weeks]
    low, middle, high = q1[:, :weeks], median[:, :weeks], q3[:, :weeks]
    zone = np.select([value <= low, value <= middle, value <= high],
                     [Zone.SUCESSO.value, Zone.SEGURANCA.value, Zone.ALERTA.value],
                     Zone.EPIDEMIA.value)
    count = len(units) * weeks
    rows = {
        "level": pa.repeat(pa.scalar(level.value), count),
        "unit": np.repeat(np.array(units, dtype=object), weeks),
        "year": np.full(count, year, dtype=np.int32),
        "week": np.tile(np.arange(1, weeks + 1, dtype=np.int32), len(units)),
        "cases": cases[:, -1, :weeks].ravel(),
        "population": np.repeat(population[:, -1], weeks),
        "incidence": value.ravel(), "q1": low.ravel(), "median": middle.ravel(),
        "q3": high.ravel(), "zone": zone.ravel(),
    }
    return pa.table(rows, schema=CHANNEL_SCHEMA)
