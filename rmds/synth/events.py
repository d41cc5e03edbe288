"""Life events of the synthetic population, year by year, vectorised over people.

Each event table is a dict of equal-length numpy arrays. Municipal factors have weighted
mean 1 over the population at risk, and the per-year normalisations below make the
state-level expectation equal the configured rate; the expectations are returned with the
events so that the rates actually targeted are written beside the output.

Why this module is long: the care events of every system in the synthetic state, drawn
from one population and one set of planted rates; to split per system with the
declarations of issue 17.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rmds.age import add_years
from rmds.synth.catalog import (
    ADMISSIONS,
    CHILDBIRTH,
    DEATH_CAUSES,
    ILL_DEFINED,
    INFANT_CAUSES,
    MATERNAL_CAUSES,
    REFERRAL_SERVICES,
)
from rmds.synth.config import (
    DOSE_PRODUCTS,
    FAMILY_PRODUCTS,
    PRODUCT_INDEX,
    VACCINE_SCHEDULE,
    Rates,
)
from rmds.synth.state import I32, Population, Territory, days

__all__ = ["Events", "Factors", "simulate"]

Arrays = dict[str, npt.NDArray[Any]]
YEAR = 365.25
HOSP_BANDS = np.array([0, 1, 5, 15, 40, 60, 70, 80])
#: share of deliveries with twins (SINASC, GRAVIDEZ = 2: about 1.1 % in Brazil)
TWIN_SHARE = 0.011


def _band3(age: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    return np.searchsorted(np.array([15.0, 60.0]), age, side="right")


def _concat(parts: list[Arrays]) -> Arrays:
    parts = [p for p in parts if p and next(iter(p.values())).size]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@dataclass
class Factors:
    """Municipal multipliers (weighted mean 1) and flags that shape the map."""

    birth: npt.NDArray[np.float64]
    mortality: npt.NDArray[np.float64]
    infant: npt.NDArray[np.float64]
    hospital: npt.NDArray[np.float64]
    icsap: npt.NDArray[np.float64]
    vaccine: npt.NDArray[np.float64]
    prenatal: npt.NDArray[np.float64]
    caesarean: npt.NDArray[np.float64]
    followup: npt.NDArray[np.float64]
    wait: npt.NDArray[np.float64]
    fhir_vaccination: npt.NDArray[np.bool_]    # doses sent to RNDS as FHIR, not in the CSV
    fhir_bundles: npt.NDArray[np.bool_]        # primary care sent as Bundles, not NDJSON

    @classmethod
    def draw(cls, rng: np.random.Generator, territory: Territory) -> Factors:
        t = territory
        n = t.population.size
        fhir_vaccination = (rng.random(n) < 0.15) & ~t.degraded
        return cls(
            birth=t.factor(rng, 0.10, 0.08), mortality=t.factor(rng, 0.08, 0.06),
            infant=t.factor(rng, 0.30, 0.15), hospital=t.factor(rng, 0.10, 0.15),
            icsap=t.factor(rng, 0.30, 0.15), vaccine=t.factor(rng, -0.04, 0.03),
            prenatal=t.factor(rng, -0.08, 0.04), caesarean=t.factor(rng, -0.12, 0.06),
            followup=t.factor(rng, -0.10, 0.10), wait=t.factor(rng, 0.15, 0.20),
            fhir_vaccination=fhir_vaccination, fhir_bundles=rng.random(n) < 0.1)


@dataclass
class Events:
    births: Arrays = field(default_factory=dict)
    deaths: Arrays = field(default_factory=dict)
    hospitalisations: Arrays = field(default_factory=dict)
    vaccinations: Arrays = field(default_factory=dict)
    chronic: Arrays = field(default_factory=dict)
    encounters: Arrays = field(default_factory=dict)
    referrals: Arrays = field(default_factory=dict)
    #: pregnancies followed in primary care (person, lmp, delivery day or -1, facility)
    pregnancies: Arrays = field(default_factory=dict)
    #: their prenatal consultations in the window (person, day, facility, pregnancy)
    prenatal: Arrays = field(default_factory=dict)
    expected: dict[str, dict[int, float]] = field(default_factory=dict)

    def expect(self, name: str, year: int, value: float) -> None:
        self.expected.setdefault(name, {})
        self.expected[name][year] = self.expected[name].get(year, 0.0) + value


def _term_mean(shortfall: npt.NDArray[np.float64], low_share: float) -> float:
    """The mean term birth weight that puts ``low_share`` of births under 2,500 g, given
    each birth's shortfall from it (weight ~ normal(mean − shortfall, 400 g))."""
    from scipy import optimize, stats

    def excess(mean: float) -> float:
        return float(stats.norm.cdf((2500 - (mean - shortfall)) / 400).mean() - low_share)

    return float(optimize.brentq(excess, 2000, 5000)) if shortfall.size else 3300.0


def _choice(rng: np.random.Generator, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """One draw per row of a (n × k) weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cum[:, -1]
    pick: npt.NDArray[np.intp] = np.minimum((u[:, None] > cum).sum(axis=1),
                                            weights.shape[1] - 1)
    return pick


class Simulator:
    def __init__(self, territory: Territory, people: Population, rates: Rates,
                 factors: Factors, years: tuple[int, ...], icsap: set[str],
                 rng: np.random.Generator) -> None:
        self.t, self.p, self.r, self.f = territory, people, rates, factors
        self.years, self.icsap, self.rng = years, icsap, rng
        self.window_end = days(years[-1] + 1)
        self.events = Events()
        self._deaths: list[Arrays] = []
        self._hosp: list[Arrays] = []
        self._births: list[Arrays] = []

    # ------------------------------------------------------------------ helpers
    def facility_for(self, muni: npt.NDArray[np.int16], high: npt.NDArray[np.bool_]
                     ) -> npt.NDArray[np.int32]:
        """Hospital used by residents of ``muni``: own, regional hub, macro hub or the
        capital of their UF."""
        rng = self.rng
        u = rng.random(muni.size)
        own_p = np.where(high, 0.25, 0.62)
        region_p = np.where(high, 0.2, 0.25)
        macro_p = np.where(high, 0.5, 0.10)
        # of those sent to a capital, one in ten goes to the largest of all (a reference
        # centre across UF borders, where the pack holds several UFs; the same one in MG)
        national = u >= 1.0 - 0.1 * (1.0 - (own_p + region_p + macro_p))
        target = np.where(u < own_p, muni,
                          np.where(u < own_p + region_p, self.t.region_hub[muni],
                                   np.where(u < own_p + region_p + macro_p,
                                            self.t.macro_hub[muni],
                                            np.where(national, self.t.capital,
                                                     self.t.state_capital[muni]))))
        hospital = self.t.hospital[target]
        hospital = np.where(hospital >= 0, hospital, self.t.hospital[self.t.region_hub[muni]])
        hospital = np.where(hospital >= 0, hospital, self.t.hospital[self.t.macro_hub[muni]])
        return hospital.astype(I32)

    def ubs_for(self, muni: npt.NDArray[np.int16], rng: np.random.Generator | None = None
                ) -> npt.NDArray[np.int32]:
        """A primary-care unit of each municipality, drawn from ``rng`` (the main stream
        when none is given)."""
        counts = np.array([u.size for u in self.t.ubs])
        firsts = np.array([u[0] for u in self.t.ubs])
        chosen: npt.NDArray[np.int32] = (firsts[muni] + (
            (rng or self.rng).random(muni.size) * counts[muni]).astype(int)).astype(I32)
        return chosen

    def age_at(self, who: npt.NDArray[np.int64], day: npt.NDArray[np.int32] | int
               ) -> npt.NDArray[np.float64]:
        return np.asarray((day - self.p.birth[who]) / YEAR, dtype=np.float64)

    def exposure(self, start: int, end: int) -> tuple[npt.NDArray[np.int64],
                                                      npt.NDArray[np.float64],
                                                      npt.NDArray[np.int32]]:
        """People alive some time in [start, end): ids, years exposed, first day."""
        p = self.p
        alive = (p.birth < end) & (p.death >= start)
        who = np.flatnonzero(alive)
        first = np.maximum(p.birth[who], start)
        last = np.minimum(p.death[who], end)
        return who, np.maximum(last - first, 0) / YEAR, first.astype(I32)

    # ------------------------------------------------------------------- deaths
    def record_death(self, who: npt.NDArray[np.int64], day: npt.NDArray[np.int32],
                     cause: npt.NDArray[np.str_], hospital_share: npt.NDArray[np.float64],
                     kind: str) -> None:
        rng, t = self.rng, self.t
        earlier = day < self.p.death[who]
        who, day, cause, hospital_share = who[earlier], day[earlier], cause[earlier], \
            hospital_share[earlier]
        self.p.death[who] = day
        muni = self.p.municipality[who]
        degraded = t.degraded[muni]
        ill = rng.random(who.size) < np.where(degraded, self.r.ill_defined_death_share_degraded,
                                              self.r.ill_defined_death_share)
        ill &= kind == "general"
        cause = np.where(ill, np.array(ILL_DEFINED)[rng.integers(0, 3, who.size)], cause)
        in_hospital = rng.random(who.size) < np.where(ill, 0.15, hospital_share)
        high = np.char.startswith(cause.astype(str), "I") | np.char.startswith(
            cause.astype(str), "C")
        facility = np.where(in_hospital, self.facility_for(muni, high), -1).astype(I32)
        place = np.where(in_hospital, 1, np.where(
            np.isin(cause.astype("U1"), ["V", "X"]),
            rng.choice([3, 4, 5], who.size, p=[0.3, 0.5, 0.2]), 3))
        registered = rng.random(who.size) >= np.where(degraded, 0.15, 0.02)
        delay = np.where(degraded, 45 + rng.exponential(120, who.size),
                         rng.exponential(20, who.size)).astype(I32)
        self._deaths.append({"person": who, "day": day.astype(I32), "cause": cause.astype("U4"),
                             "place": place.astype(np.int8), "facility": facility,
                             "kind": np.full(who.size, kind, dtype="U9"),
                             "registered": registered, "delay": delay})
        # deaths in hospital end an admission (SIH record with MORTE = 1)
        h = np.flatnonzero(in_hospital)
        if h.size:
            stay = 1 + rng.poisson(6, h.size)
            diag = np.where(np.isin(cause[h].astype("U1"),
                                    ["V", "W", "X", "Y"]), "T07", cause[h])
            self._hosp.append({
                "person": who[h], "admission": (day[h] - stay).astype(I32),
                "discharge": day[h].astype(I32), "diagnosis": diag.astype("U4"),
                "procedure": np.array([_procedure_for(str(c)) for c in diag], dtype="U10"),
                "elective": np.zeros(h.size, np.bool_), "facility": facility[h],
                "died": np.ones(h.size, np.bool_), "death_cause": cause[h].astype("U4"),
                "value": np.round(1500 * rng.lognormal(0, 0.4, h.size), 2)})

    def general_deaths(self, year: int) -> None:
        rng, r, p = self.rng, self.r, self.p
        start = days(year)
        who = np.flatnonzero((p.birth < start) & (p.death >= start))
        age = self.age_at(who, start + 182)
        who, age = who[age >= 1], age[age >= 1]
        q = r.mortality_base + r.mortality_scale * np.exp(r.mortality_slope * age)
        q *= np.where(p.female[who], 1.0, r.mortality_male_excess)
        q *= self.f.mortality[p.municipality[who]]
        q = np.minimum(q, 0.6)
        self.events.expect("deaths_general", year, float(q.sum()))
        dead = rng.random(who.size) < q
        who, age = who[dead], age[dead]
        day = (start + rng.integers(0, 365, who.size)).astype(I32)
        band = _band3(age)
        weights = np.array([[c[1], c[2], c[3]] for c in DEATH_CAUSES]).T[band]
        female = p.female[who]
        codes = np.array([c[0] for c in DEATH_CAUSES])
        weights[:, codes == "C61"] *= ~female[:, None]
        weights[:, codes == "C509"] *= female[:, None]
        pick = _choice(rng, weights)
        share = np.array([c[4] for c in DEATH_CAUSES])[pick]
        self.record_death(who, day, codes[pick], share, "general")

    # ------------------------------------------------------------------- births
    def births(self, year: int) -> None:
        rng, r, p, t = self.rng, self.r, self.p, self.t
        start = days(year)
        women = np.flatnonzero(p.female & (p.death >= start) & (p.birth < start))
        age = self.age_at(women, start + 182)
        group = ((age - 10) // 5).astype(int)
        ok = (group >= 0) & (group < len(r.fertility_by_age))
        women, group, age = women[ok], group[ok], age[ok]
        asfr = np.array(r.fertility_by_age)[group]
        f = self.f.birth[p.municipality[women]]
        prob = asfr * f * (asfr.sum() / (asfr * f).sum())
        # babies expected: deliveries, and a second baby for each twin delivery
        self.events.expect("births", year, float(prob.sum()) * (1 + TWIN_SHARE))
        mothers = women[rng.random(women.size) < prob]
        day = (start + rng.integers(0, 365, mothers.size)).astype(I32)
        alive = day <= p.death[mothers]
        mothers, day = mothers[alive], day[alive]
        # twins: about 1.1 % of deliveries in SINASC are multiple (GRAVIDEZ 2); the second
        # twin is a birth of its own, same mother, day, place and delivery
        single = mothers.size
        first = np.flatnonzero(rng.random(single) < TWIN_SHARE)
        mothers = np.concatenate([mothers, mothers[first]])
        day = np.concatenate([day, day[first]])
        pair = np.concatenate([np.arange(single), first])   # the delivery each birth is of
        n = mothers.size
        muni = p.municipality[mothers]
        female = rng.random(n) < 0.488
        # about a third of twins are identical (same sex); the rest are drawn apart
        same_sex = rng.random(first.size) < 0.35
        female[single:] = np.where(same_sex, female[first], female[single:])
        race = np.where(rng.random(n) < 0.85, p.race[mothers],
                        rng.integers(1, 6, n)).astype(np.int8)
        babies = p.extend(muni, female, day, race, mothers)
        mother_age = np.floor((day - p.birth[mothers]) / YEAR).astype(np.int16)
        dep = t.deprivation[muni]
        preterm_p = r.preterm_share * np.exp(0.12 * dep)
        preterm_p *= r.preterm_share / preterm_p.mean()
        preterm = rng.random(n) < preterm_p
        weeks = np.where(preterm, 36 - np.minimum(rng.exponential(2.2, n), 14),
                         np.clip(rng.normal(39.2, 1.1, n), 37, 42)).astype(np.int16)
        # weight falls 170 g a week below 39 weeks; the term mean is set so that the
        # state's share under 2,500 g is the configured one
        shortfall = np.maximum(0, 39 - weeks) * 170 + 60 * dep
        weight = np.clip(_term_mean(shortfall, r.low_birth_weight_share)
                         - shortfall + rng.normal(0, 400, n), 350, 5500).astype(np.int16)
        p7 = np.minimum(r.prenatal_7plus_share * self.f.prenatal[muni], 0.99)
        seven = rng.random(n) < p7
        visits = np.where(seven, 7 + rng.poisson(2.0, n), rng.integers(0, 7, n)).astype(
            np.int16)
        visits = visits[pair]          # twins: one pregnancy, the same prenatal care
        caes_p = np.minimum(r.caesarean_share * self.f.caesarean[muni], 0.95)
        caesarean = rng.random(n) < caes_p
        in_hospital = (rng.random(n) < r.hospital_birth_share)[pair]
        facility = np.where(in_hospital, self.facility_for(muni, np.zeros(n, np.bool_)),
                            -1).astype(I32)[pair]
        caesarean, weeks = caesarean[pair], weeks[pair]
        plural = np.zeros(n, np.bool_)
        plural[first] = plural[single:] = True
        apgar1 = np.clip(np.round(rng.normal(8.3, 1.0, n) - 2 * preterm), 0, 10).astype(
            np.int8)
        apgar5 = np.clip(apgar1 + rng.integers(0, 3, n), 0, 10).astype(np.int8)
        anomaly = rng.random(n) < 0.008
        degraded = t.degraded[muni]
        registered = rng.random(n) >= np.where(degraded, 0.08, 0.01)
        delay = np.where(degraded, 30 + rng.exponential(90, n), rng.exponential(12, n)
                         ).astype(I32)
        births = {"baby": babies, "mother": mothers, "day": day, "muni": muni,
                  "female": female, "race": race, "mother_age": mother_age, "weeks": weeks,
                  "weight": weight, "visits": visits, "caesarean": caesarean,
                  "facility": facility, "apgar1": apgar1, "apgar5": apgar5,
                  "anomaly": anomaly, "registered": registered, "delay": delay,
                  "plural": plural}
        self._births.append(births)
        # childbirth admission of the mother
        h = np.flatnonzero(in_hospital[:single])   # one admission per delivery
        kind = caesarean[h].astype(int)
        stay = np.where(kind == 1, 2 + rng.poisson(0.8, h.size), 1 + rng.poisson(0.6, h.size))
        self._hosp.append({
            "person": mothers[h], "admission": (day[h] - rng.integers(0, 2, h.size)).astype(I32),
            "discharge": (day[h] + stay).astype(I32),
            "diagnosis": np.array([c[0] for c in CHILDBIRTH])[kind].astype("U4"),
            "procedure": np.array([c[1] for c in CHILDBIRTH])[kind].astype("U10"),
            "elective": np.zeros(h.size, np.bool_), "facility": facility[h],
            "died": np.zeros(h.size, np.bool_), "death_cause": np.full(h.size, "", "U4"),
            "value": np.round(np.array([c[2] for c in CHILDBIRTH])[kind]
                              * rng.lognormal(0, 0.15, h.size), 2)})
        self.infant_deaths(babies, day, muni, preterm | (weight < 2500), year)
        self.maternal_deaths(mothers[:single], day[:single], muni[:single], year)

    def infant_deaths(self, babies: npt.NDArray[np.int64], born: npt.NDArray[np.int32],
                      muni: npt.NDArray[np.int16], at_risk: npt.NDArray[np.bool_],
                      year: int | None) -> None:
        rng, r = self.rng, self.r
        weight = self.f.infant[muni] * np.where(at_risk, 5.0, 1.0)
        prob = weight * (r.infant_mortality_per_1000 / 1000 * babies.size / weight.sum())
        if year is not None:
            self.events.expect("infant_deaths_cohort", year, float(prob.sum()))
        dies = rng.random(babies.size) < prob
        n = int(dies.sum())
        u = rng.random(n)
        early, neonatal = r.early_neonatal_share, r.neonatal_share
        age_days = np.where(u < early, rng.integers(0, 7, n),
                            np.where(u < neonatal, rng.integers(7, 28, n),
                                     28 + (rng.beta(1.0, 2.2, n) * 337).astype(int)))
        day = (born[dies] + age_days).astype(I32)
        inside = (day < self.window_end) & (day >= days(self.years[0]))
        codes = np.array([c[0] for c in INFANT_CAUSES])
        w = np.array([c[1] for c in INFANT_CAUSES])
        cause = codes[rng.choice(codes.size, n, p=w / w.sum())]
        self.record_death(babies[dies][inside], day[inside], cause[inside],
                          np.full(int(inside.sum()), 0.8), "infant")

    def maternal_deaths(self, mothers: npt.NDArray[np.int64], born: npt.NDArray[np.int32],
                        muni: npt.NDArray[np.int16], year: int) -> None:
        rng, r = self.rng, self.r
        f = self.f.infant[muni]
        prob = f * (r.maternal_mortality_per_100k / 1e5 * mothers.size / f.sum())
        self.events.expect("maternal_deaths", year, float(prob.sum()))
        dies = rng.random(mothers.size) < prob
        n = int(dies.sum())
        day = (born[dies] + rng.integers(0, 43, n)).astype(I32)
        inside = day < self.window_end
        codes = np.array([c[0] for c in MATERNAL_CAUSES])
        w = np.array([c[1] for c in MATERNAL_CAUSES])
        cause = codes[rng.choice(codes.size, n, p=w / w.sum())]
        self.record_death(mothers[dies][inside], day[inside], cause[inside],
                          np.full(int(inside.sum()), 0.9), "maternal")

    # -------------------------------------------------------- hospitalisations
    def hospitalisations(self, year: int) -> None:
        rng, r, p = self.rng, self.r, self.p
        start, end = days(year), days(year + 1)
        who, exposed, first = self.exposure(start, end)
        age = self.age_at(who, start + 182)
        band = np.searchsorted(HOSP_BANDS, np.maximum(age, 0), side="right") - 1
        rate = np.array(r.hospitalisation_per_1000)[band] / 1000
        lam = rate * self.f.hospital[p.municipality[who]] * exposed
        self.events.expect("hospitalisations_non_obstetric", year, float(lam.sum()))
        self.events.expect("person_years", year, float(exposed.sum()))
        count = rng.poisson(lam)
        idx = np.repeat(np.arange(who.size), count)
        person = who[idx]
        span = np.maximum((np.minimum(p.death[person], end) - first[idx]), 1)
        admission = (first[idx] + (rng.random(idx.size) * span).astype(int)).astype(I32)
        muni = p.municipality[person]
        age3 = _band3(age[idx])
        codes = np.array([a.cid for a in ADMISSIONS])
        is_icsap = np.array([c in self.icsap for c in codes])
        weights = np.array([a.weights for a in ADMISSIONS]).T[age3]
        # ICSAP share per admission: configured state share × municipal factor
        icsap_p = np.minimum(r.icsap_share * self.f.icsap[muni], 0.9)
        want = rng.random(idx.size) < icsap_p
        w_icsap = weights * is_icsap
        w_other = weights * ~is_icsap
        pick = np.where(want, _choice(rng, w_icsap), _choice(rng, w_other))
        chosen = ADMISSIONS
        stay_mean = np.array([a.mean_stay for a in chosen])[pick]
        stay = rng.poisson(stay_mean)
        high = np.array([a.high_complexity for a in chosen])[pick]
        self._hosp.append({
            "person": person, "admission": admission,
            "discharge": np.minimum(admission + stay, p.death[person]).astype(I32),
            "diagnosis": codes[pick].astype("U4"),
            "procedure": np.array([a.procedure for a in chosen])[pick].astype("U10"),
            "elective": np.array([a.elective for a in chosen])[pick],
            "facility": self.facility_for(muni, high),
            "died": np.zeros(idx.size, np.bool_), "death_cause": np.full(idx.size, "", "U4"),
            "value": np.round(np.array([a.base_value for a in chosen])[pick]
                              * rng.lognormal(0, 0.3, idx.size), 2)})

    # ------------------------------------------------------------- vaccination
    def vaccinations(self) -> None:
        rng, r, p = self.rng, self.r, self.p
        first_day = days(self.years[0])
        children = np.flatnonzero(p.birth >= first_day - 2 * 365)
        muni = p.municipality[children]
        g = self.f.vaccine[muni]
        by_vaccine: dict[str, npt.NDArray[np.float64]] = {}
        # which product each child gets for a whole vaccine (hexavalent, 13-valent)
        # (drawn from their own stream, seeded from the main one without consuming it, so
        # that the rest of the state is the same whatever products the doses are given as)
        product_rng = np.random.default_rng(
            [int(rng.bit_generator.state["state"]["state"]), 0x9E7A])
        family = {acr: product_rng.random(children.size) < share
                  for acr, (_, share) in FAMILY_PRODUCTS.items()}
        hexa = family["PENTA"]
        parts: list[Arrays] = []
        born_in = {y: (p.birth[children] >= days(y)) & (p.birth[children] < days(y + 1))
                   for y in self.years}
        given_by: dict[tuple[str, str], tuple[npt.NDArray[np.bool_],
                                              npt.NDArray[np.float64]]] = {}
        for k, (_, acronym, _, dose, _, offset, _) in enumerate(VACCINE_SCHEDULE):
            cov = r.vaccine_coverage[f"{acronym}_{dose}"]
            u = by_vaccine.setdefault(acronym, rng.random(children.size))
            prob = np.minimum(cov * g, 0.995)
            delay = np.where(self.t.degraded[muni], rng.exponential(40, children.size),
                             rng.exponential(12, children.size))
            # the calendar's "12 months" is the first birthday, not 365 days after birth
            due = (add_years(p.birth[children], offset // 365) if offset and offset % 365 == 0
                   else p.birth[children] + offset)
            day = (due + delay).astype(I32)
            given = (u < prob) & (day <= p.death[children]) & (day >= first_day) & (
                day < self.window_end)
            product = np.full(children.size, k, np.int16)
            if acronym in family:
                product[family[acronym]] = PRODUCT_INDEX[(FAMILY_PRODUCTS[acronym][0], dose)]
            if (acronym, dose) in DOSE_PRODUCTS:
                code, other, share = DOSE_PRODUCTS[(acronym, dose)]
                product[product_rng.random(children.size) < share] = PRODUCT_INDEX[
                    (code, other)]
            given_by[(acronym, dose)] = (given, prob)
            expected = prob
            if acronym == "VIP" and ("PENTA", dose) in given_by:
                # a hexavalent child's polio dose is the hexavalent one, already given with
                # the pentavalent's; no VIP apart
                _, penta_prob = given_by[("PENTA", dose)]
                given = given & ~hexa
                expected = np.where(hexa, penta_prob, prob)
            parts.append({"person": children[given], "day": day[given],
                          "schedule": np.full(int(given.sum()), k, np.int16),
                          "product": product[given],
                          "facility": self.ubs_for(muni[given]),
                          "probability": prob[given]})
            for y, mask in born_in.items():
                self.events.expect(f"vaccine_{acronym}_{dose}_cohort", y,
                                   float(expected[mask].sum()))
        self.events.vaccinations = _concat(parts)

    # ---------------------------------------------------------- primary care
    def primary_care(self) -> None:
        rng, r, p = self.rng, self.r, self.p
        start = days(self.years[0])
        adults = np.flatnonzero((p.birth < start - 20 * 365) & (p.death >= start))
        age = self.age_at(adults, start)
        band = np.searchsorted(np.array([40.0, 60.0]), age, side="right")
        ht = rng.random(adults.size) < np.array(r.hypertension_prevalence)[band]
        dm = rng.random(adults.size) < np.array(r.diabetes_prevalence)[band]
        muni = p.municipality[adults]
        follow = rng.random(adults.size) < np.minimum(
            r.primary_care_followup_share * self.f.followup[muni], 0.95)
        chosen = (ht | dm) & follow
        person, ht, dm = adults[chosen], ht[chosen], dm[chosen]
        onset = (start - rng.integers(30, 15 * 365, person.size)).astype(I32)
        self.events.chronic = {"person": person, "hypertension": ht, "diabetes": dm,
                               "onset": onset, "facility": self.ubs_for(p.municipality[person])}
        parts: list[Arrays] = []
        for year in self.years:
            y0, y1 = days(year), days(year + 1)
            alive = p.death[person] >= y0
            who, facility = person[alive], self.events.chronic["facility"][alive]
            n_enc = 1 + rng.poisson(1.0, who.size)
            idx = np.repeat(np.arange(who.size), n_enc)
            end = np.minimum(p.death[who[idx]], y1)
            day = (y0 + rng.random(idx.size) * np.maximum(end - y0, 1)).astype(I32)
            is_ht = ht[alive][idx]
            is_dm = dm[alive][idx]
            systolic = np.where(is_ht, rng.normal(138, 16, idx.size),
                                rng.normal(122, 12, idx.size)).round().astype(np.int16)
            diastolic = (systolic * 0.6 + rng.normal(4, 6, idx.size)).round().astype(np.int16)
            hba1c = np.where(is_dm & (rng.random(idx.size) < 0.5),
                             rng.normal(7.6, 1.3, idx.size).round(1), np.nan)
            parts.append({"person": who[idx], "day": day, "facility": facility[idx],
                          "hypertension": is_ht, "diabetes": is_dm, "systolic": systolic,
                          "diastolic": diastolic, "hba1c": hba1c})
        self.events.encounters = _concat(parts)

    # -------------------------------------------------------------- referrals
    def referrals(self) -> None:
        rng, r, p, t = self.rng, self.r, self.p, self.t
        parts: list[Arrays] = []
        weights = np.array([s[3] for s in REFERRAL_SERVICES])
        for year in self.years:
            start, end = days(year), days(year + 1)
            who, exposed, first = self.exposure(start, end)
            member = t.consortium[p.municipality[who]] >= 0
            who, exposed, first = who[member], exposed[member], first[member]
            count = rng.poisson(r.referral_per_1000 / 1000 * exposed)
            idx = np.repeat(np.arange(who.size), count)
            person = who[idx]
            span = np.maximum(np.minimum(p.death[person], end) - first[idx], 1)
            requested = (first[idx] + (rng.random(idx.size) * span).astype(int)).astype(I32)
            service = rng.choice(weights.size, idx.size, p=weights / weights.sum())
            median = np.array([s[4] for s in REFERRAL_SERVICES])[service]
            muni = p.municipality[person]
            wait = np.maximum(1, median * self.f.wait[muni] * rng.lognormal(0, 0.6, idx.size)
                              ).astype(I32)
            cancelled = rng.random(idx.size) < 0.07
            parts.append({"person": person, "muni": muni, "requested": requested,
                          "service": service.astype(np.int16), "wait": wait,
                          "cancelled": cancelled,
                          "diagnosed": (requested - rng.integers(3, 30, idx.size)).astype(I32)})
        self.events.referrals = _concat(parts)

    # -------------------------------------------------------------------- run
    def run(self) -> Events:
        p = self.p
        first = days(self.years[0])
        # infants already alive when the window opens carry their first-year risk
        infants = np.flatnonzero((p.birth >= first - 365) & (p.birth < first))
        self.infant_deaths(infants, p.birth[infants], p.municipality[infants],
                           np.zeros(infants.size, np.bool_), None)
        for year in self.years:
            self.general_deaths(year)
            self.births(year)
            self.hospitalisations(year)
        self.vaccinations()
        self.primary_care()
        self.referrals()
        ev = self.events
        ev.births = _concat(self._births)
        ev.deaths = _concat(self._deaths)
        hosp = _concat(self._hosp)
        # a death recorded later in the run ends any admission that started after it
        keep = hosp["admission"] <= p.death[hosp["person"]]
        keep &= (hosp["admission"] >= first) & (hosp["discharge"] < self.window_end)
        ev.hospitalisations = {k: v[keep] for k, v in hosp.items()}
        order = np.lexsort((ev.hospitalisations["person"], ev.hospitalisations["discharge"]))
        ev.hospitalisations = {k: v[order] for k, v in ev.hospitalisations.items()}
        self.prenatal()
        return ev

    # ---------------------------------------------------------- prenatal care
    def prenatal(self) -> None:
        """Pregnancies followed in primary care and their consultations: each delivery
        of the window from its last menstrual period (its gestational weeks before the
        birth) with the consultations its birth declaration counts, and the pregnancies
        still in course when the window closes, with the consultations held so far.
        Pregnancies in course are drawn among women the sources already know (mothers,
        admitted, followed in primary care, referred), so that the identities drawn for the
        state stay what they are. Everything here comes from its own stream, seeded from
        the main one without consuming it: the rest of the state does not move."""
        rng = np.random.default_rng([int(self.rng.bit_generator.state["state"]["state"]),
                                     0x9E57])
        p, r, ev = self.p, self.r, self.events
        first, end = days(self.years[0]), self.window_end
        b = ev.births
        # one delivery per mother and day (a twin's second birth is the same delivery)
        _, one = np.unique(np.stack([b["mother"], b["day"].astype(np.int64)]), axis=1,
                           return_index=True)
        d_person, d_day = b["mother"][one], b["day"][one].astype(I32)
        d_lmp = (d_day - b["weeks"][one].astype(I32) * 7 - rng.integers(0, 7, one.size)
                 ).astype(I32)
        d_planned = b["visits"][one].astype(np.int64)
        # in course at the close: known women of childbearing age, not delivered lately
        known = np.unique(np.concatenate([
            b["mother"], ev.hospitalisations["person"], ev.chronic["person"],
            ev.referrals.get("person", np.empty(0, np.int64))]))
        age = (end - p.birth[known]) / YEAR
        group = ((age - 10) // 5).astype(int)
        recent = np.zeros(p.size, np.bool_)
        recent[d_person[d_day > end - 300]] = True
        ok = (p.female[known] & (p.death[known] >= end) & (group >= 1)
              & (group < len(r.fertility_by_age)) & ~recent[known])
        known, group = known[ok], group[ok]
        prob = (np.array(r.fertility_by_age)[group] * 0.75
                * self.f.birth[p.municipality[known]])
        o_person = known[rng.random(known.size) < prob]
        o_lmp = (end - 1 - rng.integers(14, 280, o_person.size)).astype(I32)
        o_muni = p.municipality[o_person]
        p7 = np.minimum(r.prenatal_7plus_share * self.f.prenatal[o_muni], 0.99)
        o_planned = np.where(rng.random(o_person.size) < p7,
                             7 + rng.poisson(2.0, o_person.size),
                             rng.integers(0, 7, o_person.size))
        person = np.concatenate([d_person, o_person])
        lmp = np.concatenate([d_lmp, o_lmp])
        delivery = np.concatenate([d_day, np.full(o_person.size, -1, I32)])
        term = np.where(delivery >= 0, delivery, lmp + 273).astype(np.int64)
        planned = np.concatenate([d_planned, o_planned]).astype(np.int64)
        muni = p.municipality[person]
        facility = self.ubs_for(muni, rng)
        # the first consultation some weeks in (earlier where prenatal care is better),
        # the others spread until the delivery
        weeks_in = np.clip(5 + rng.exponential(4.0 / self.f.prenatal[muni]), 5, 36)
        start = np.minimum(lmp + (weeks_in * 7).astype(np.int64), term - 1)
        idx = np.repeat(np.arange(person.size), planned)
        rank = np.arange(idx.size) - np.repeat(np.cumsum(planned) - planned, planned)
        span = np.maximum(term[idx] - start[idx], 1)
        day = np.where(rank == 0, start[idx],
                       start[idx] + 1 + (rng.random(idx.size) * span).astype(np.int64))
        day = np.minimum(day, term[idx] - 1)
        keep = (day >= first) & (day < end) & (day <= p.death[person[idx]])
        idx, day = idx[keep], day[keep].astype(I32)
        ev.pregnancies = {"person": person, "lmp": lmp, "delivery": delivery,
                          "facility": facility}
        ev.prenatal = {"person": person[idx], "day": day, "facility": facility[idx],
                       "pregnancy": idx.astype(np.int64)}


def _procedure_for(cid: str) -> str:
    for admission in ADMISSIONS:
        if admission.cid == cid:
            return admission.procedure
    return {"I": "0303060212", "C": "0304020133", "J": "0303140135", "P": "0303010037",
            "O": "0303010037"}.get(cid[:1], "0303010037")


def simulate(territory: Territory, people: Population, rates: Rates, factors: Factors,
             years: tuple[int, ...], icsap: set[str], rng: np.random.Generator) -> Events:
    return Simulator(territory, people, rates, factors, years, icsap, rng).run()
