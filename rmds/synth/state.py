"""The territory and population the synthetic state is drawn from.

People are drawn from the reference pack's population by municipality, sex and five-year
age group (DATASUS/SVS estimates for the first generated year, or the nearest year in the
pack). Municipal rate factors have real spatial structure: a deprivation gradient from the
south to the north and north-east of the state (as in the Jequitinhonha, Mucuri and Norte
macro-regions), a shared health-region effect and municipal noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rmds.territory import Municipality, ReferencePack
from rmds.territory.model import AGE_GROUPS, Vintage

__all__ = [
    "EPOCH",
    "Facility",
    "Population",
    "Territory",
    "build_population",
    "build_territory",
    "days",
]

EPOCH = np.datetime64("1970-01-01", "D")
I32 = np.int32


def days(year: int, month: int = 1, day: int = 1) -> int:
    return int((np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D") - EPOCH).astype(int))


@dataclass(frozen=True)
class Facility:
    cnes: str
    municipality: int          # index into Territory.municipalities
    kind: str                  # ubs, hospital, policlinica
    unit_type: str             # CNES TP_UNID
    beds: int


@dataclass
class Territory:
    municipalities: list[Municipality]
    population: npt.NDArray[np.int64]          # resident population (pack, base year)
    region: npt.NDArray[np.int32]              # index of PDR health region
    macro: npt.NDArray[np.int32]
    region_hub: npt.NDArray[np.int32]          # most populous municipality of the region
    macro_hub: npt.NDArray[np.int32]
    deprivation: npt.NDArray[np.float64]       # standardised latent, higher = worse
    degraded: npt.NDArray[np.bool_]            # municipalities with degraded data quality
    cep_prefix: npt.NDArray[np.int32]          # first five CEP digits
    consortium: npt.NDArray[np.int32]          # index into consortia, −1 = none known
    consortia: list[tuple[str, str]]           # (sigla, name)
    facilities: list[Facility]
    ubs: list[npt.NDArray[np.int32]]           # facility indices per municipality
    hospital: npt.NDArray[np.int32]            # main hospital facility index, −1 = none
    capital: int
    state_capital: npt.NDArray[np.int32]       # the most populous municipality of each one's UF

    def factor(self, rng: np.random.Generator, beta: float, noise: float) -> npt.NDArray[
            np.float64]:
        """Municipal multiplier exp(beta·deprivation + noise), weighted mean 1."""
        raw = np.exp(beta * self.deprivation + rng.normal(0.0, noise, self.deprivation.size))
        factor: npt.NDArray[np.float64] = raw / np.average(raw, weights=self.population)
        return factor


def build_territory(pack: ReferencePack, rng: np.random.Generator, year: int,
                    degraded_share: float, scale: float = 1.0) -> Territory:
    """Municipalities, their factors' latent structure and facilities. Primary-care units
    scale with the population drawn (one per 3,500 people); hospitals follow the real
    population, so that referral flows keep their shape at any scale."""
    municipalities = sorted(pack.municipalities.values(), key=lambda m: m.ibge7)
    n = len(municipalities)
    pop_year = min(max(year, 2000), 2024)
    population = np.array([pack.population(m.ibge7, pop_year, source="datasus").value
                           for m in municipalities], dtype=np.int64)
    vintage = Vintage.PDR_CURRENT
    region_codes = sorted({m.region[vintage] for m in municipalities})
    macro_codes = sorted({m.macro[vintage] for m in municipalities})
    region = np.array([region_codes.index(m.region[vintage]) for m in municipalities], I32)
    macro = np.array([macro_codes.index(m.macro[vintage]) for m in municipalities], I32)
    region_hub = np.zeros(n, I32)
    for r in range(len(region_codes)):
        members = np.flatnonzero(region == r)
        region_hub[members] = members[np.argmax(population[members])]
    macro_hub = np.zeros(n, I32)
    for r in range(len(macro_codes)):
        members = np.flatnonzero(macro == r)
        macro_hub[members] = members[np.argmax(population[members])]
    lat = np.array([m.lat for m in municipalities])
    lon = np.array([m.lon for m in municipalities])
    # north and east are poorer: latitude less negative, longitude less negative
    gradient = (lat - lat.mean()) / lat.std() * 0.8 + (lon - lon.mean()) / lon.std() * 0.3
    region_effect = rng.normal(0.0, 0.5, len(region_codes))[region]
    latent = gradient + region_effect + rng.normal(0.0, 0.5, n)
    deprivation = (latent - latent.mean()) / latent.std()
    degraded = np.zeros(n, np.bool_)
    # degraded data quality is likelier in poorer, smaller municipalities, never the capital
    weights = np.exp(0.8 * deprivation) / np.sqrt(population)
    capital = int(np.argmax(population))
    # the capital of each municipality's UF (a pack of several UFs has one per UF)
    state = np.array([m.state for m in municipalities])
    state_capital = np.zeros(n, I32)
    for code in np.unique(state):
        members = np.flatnonzero(state == code)
        state_capital[members] = members[np.argmax(population[members])]
    weights[np.unique(state_capital)] = 0
    count = max(1, round(degraded_share * n))
    degraded[rng.choice(n, size=count, replace=False, p=weights / weights.sum())] = True
    cep_prefix = _cep_prefixes(rng, population, capital)
    consortia_units = sorted(pack.consortia.values(), key=lambda u: u.code)
    roster = pack.consortium_members
    consortium = np.full(n, -1, I32)
    index = {m.ibge7: i for i, m in enumerate(municipalities)}
    consortia = [(u.code, u.name) for u in consortia_units]
    for k, unit in enumerate(consortia_units):
        for code in roster.get(unit.code, ()):
            if code in index and consortium[index[code]] < 0:
                consortium[index[code]] = k
    facilities, ubs, hospital = _facilities(rng, population, consortium, consortia, scale)
    return Territory(municipalities, population, region, macro, region_hub, macro_hub,
                     deprivation, degraded, cep_prefix, consortium, consortia, facilities,
                     ubs, hospital, capital, state_capital)


def _cep_prefixes(rng: np.random.Generator, population: npt.NDArray[np.int64],
                  capital: int) -> npt.NDArray[np.int32]:
    """MG CEPs run 30000-000 to 39999-999; Belo Horizonte holds 30000-31999."""
    n = population.size
    prefixes = rng.choice(np.arange(32000, 39999), size=n, replace=False).astype(I32)
    prefixes[capital] = 30000
    return prefixes


def _facilities(rng: np.random.Generator, population: npt.NDArray[np.int64],
                consortium: npt.NDArray[np.int32], consortia: list[tuple[str, str]],
                scale: float
                ) -> tuple[list[Facility], list[npt.NDArray[np.int32]], npt.NDArray[np.int32]]:
    n = population.size
    ubs_count = np.maximum(1, np.round(population * scale / 3500)).astype(
        np.int64)
    total = int(ubs_count.sum()) + n + len(consortia)
    codes = rng.choice(np.arange(2_000_000, 9_999_999), size=total, replace=False)
    facilities: list[Facility] = []
    ubs: list[npt.NDArray[np.int32]] = []
    hospital = np.full(n, -1, I32)
    k = 0
    for m in range(n):
        start = len(facilities)
        for _ in range(int(ubs_count[m])):
            facilities.append(Facility(f"{codes[k]:07d}", m, "ubs", "02", 0))
            k += 1
        ubs.append(np.arange(start, len(facilities), dtype=I32))
        if population[m] >= 12_000:
            beds = int(min(1500, max(20, population[m] // 800)))
            hospital[m] = len(facilities)
            facilities.append(Facility(f"{codes[k]:07d}", m, "hospital", "05", beds))
            k += 1
    for c in range(len(consortia)):
        seats = np.flatnonzero(consortium == c)
        if seats.size:
            seat = int(seats[np.argmax(population[seats])])
            facilities.append(Facility(f"{codes[k]:07d}", seat, "policlinica", "04", 0))
            k += 1
    return facilities, ubs, hospital


@dataclass
class Population:
    """The people of the state, one row per person (index = person number)."""

    municipality: npt.NDArray[np.int16]
    female: npt.NDArray[np.bool_]
    birth: npt.NDArray[np.int32]               # days since 1970-01-01
    race: npt.NDArray[np.int8]                 # 1 branca … 5 indígena
    death: npt.NDArray[np.int32]               # day of death, NO_DEATH if none
    mother: npt.NDArray[np.int64]              # person number of the mother, −1 unknown

    NO_DEATH = np.iinfo(np.int32).max

    @property
    def size(self) -> int:
        return int(self.municipality.size)

    def extend(self, municipality: npt.NDArray[np.int16], female: npt.NDArray[np.bool_],
               birth: npt.NDArray[np.int32], race: npt.NDArray[np.int8],
               mother: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        start = self.size
        self.municipality = np.concatenate([self.municipality, municipality])
        self.female = np.concatenate([self.female, female])
        self.birth = np.concatenate([self.birth, birth])
        self.race = np.concatenate([self.race, race])
        self.death = np.concatenate([self.death, np.full(birth.size, self.NO_DEATH, I32)])
        self.mother = np.concatenate([self.mother, mother])
        return np.arange(start, self.size, dtype=np.int64)


RACE_SHARES = np.array([0.40, 0.11, 0.01, 0.475, 0.005])  # MG, census 2022 order of size


def race_draw(rng: np.random.Generator, deprivation: npt.NDArray[np.float64]
              ) -> npt.NDArray[np.int8]:
    """Race/colour with more parda/preta where deprivation is higher."""
    u = rng.random(deprivation.size)
    white = RACE_SHARES[0] * np.exp(-0.25 * deprivation)
    cuts = np.stack([white, white + RACE_SHARES[1], white + RACE_SHARES[1] + RACE_SHARES[2],
                     1.0 - RACE_SHARES[4] * np.ones_like(white)], axis=1)
    cuts = np.minimum(cuts, 0.995)
    race: npt.NDArray[np.int8] = (1 + (u[:, None] > cuts).sum(axis=1)).astype(np.int8)
    return race


def build_population(pack: ReferencePack, territory: Territory, rng: np.random.Generator,
                     scale: float, year: int) -> Population:
    pop_year = min(max(year, 2000), 2024)
    counts = np.zeros((len(territory.municipalities), 2, len(AGE_GROUPS)), np.float64)
    table = pack._datasus_population
    for i, m in enumerate(territory.municipalities):
        for s in (1, 2):
            counts[i, s - 1] = table[(m.ibge7, pop_year, s)][:len(AGE_GROUPS)]
    expected = counts * scale
    drawn = np.floor(expected).astype(np.int64)
    drawn += rng.random(expected.shape) < (expected - drawn)   # stochastic rounding
    flat = drawn.reshape(-1)
    cell = np.repeat(np.arange(flat.size), flat)
    muni = (cell // (2 * len(AGE_GROUPS))).astype(np.int16)
    female = ((cell // len(AGE_GROUPS)) % 2 == 1)
    group = cell % len(AGE_GROUPS)
    age_days = (group * 5 * 365.25 + rng.random(cell.size) * 5 * 365.25)
    oldest = group == len(AGE_GROUPS) - 1
    age_days[oldest] = (80 + np.minimum(rng.exponential(7.0, int(oldest.sum())), 25)) * 365.25
    start = days(year)
    birth = (start - age_days).astype(I32)
    race = race_draw(rng, territory.deprivation[muni])
    return Population(muni, female, birth, race, np.full(cell.size, Population.NO_DEATH, I32),
                      np.full(cell.size, -1, np.int64))
