"""Identities of the people who leave records, and the errors records make of them.

Identities are drawn only for people who appear in some record (at full scale most of the
21 million never do in three years). A newborn carries its mother's family name; a person's
mother's name ends with the person's first surname; some women use a married surname in
some records. Each record then renders the identity through a source-specific error
process: typos, abbreviated middle names, dropped particles, day/month swapped, a second
or missing CNS, a corrupted CNS or CPF, the
mother's CNS on a young child's record. Every deviation is written to the ground truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rmds.synth import names
from rmds.synth.ids import corrupt, digits_to_strings, draw_cns, draw_cpf, validity_check
from rmds.synth.state import EPOCH, Population, Territory
from rmds.territory.model import fold

__all__ = ["ErrorRates", "Identities", "RecordIdentity", "draw_identities"]


@dataclass
class Identities:
    person: npt.NDArray[np.int64]              # sorted person numbers
    female: npt.NDArray[np.bool_]
    given1: npt.NDArray[np.int16]
    given2: npt.NDArray[np.int16]
    particle: npt.NDArray[np.int8]
    surname1: npt.NDArray[np.int16]
    surname2: npt.NDArray[np.int16]
    spouse: npt.NDArray[np.int16]              # married surname, −1 = none
    mother_given1: npt.NDArray[np.int16]
    mother_given2: npt.NDArray[np.int16]
    mother_surname: npt.NDArray[np.int16]
    cns1: npt.NDArray[np.uint8]
    cns2: npt.NDArray[np.uint8]
    has_cns2: npt.NDArray[np.bool_]
    cpf: npt.NDArray[np.uint8]
    has_cpf: npt.NDArray[np.bool_]
    cep: npt.NDArray[np.int32]
    street_type: npt.NDArray[np.int8]
    street: npt.NDArray[np.int16]
    number: npt.NDArray[np.int16]

    def rows(self, person: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        return np.searchsorted(self.person, person)

    def full_name(self, rows: npt.NDArray[np.intp], married: npt.NDArray[np.bool_]
                  ) -> pa.Array:
        s2 = np.where(married, self.spouse[rows], self.surname2[rows])
        s1 = self.surname1[rows]
        return names.assemble(self.female[rows], self.given1[rows], self.given2[rows],
                              self.particle[rows], s1, s2)

    def mother_name(self, rows: npt.NDArray[np.intp]) -> pa.Array:
        n = rows.size
        return names.assemble(np.ones(n, np.bool_), self.mother_given1[rows],
                              self.mother_given2[rows], np.full(n, -1, np.int8),
                              self.mother_surname[rows], self.surname1[rows])

    def truth_table(self, people: Population, territory: Territory) -> pa.Table:
        everyone = np.arange(self.person.size)
        codes = np.array([m.ibge7 for m in territory.municipalities])
        return pa.table({
            "person_id": pa.array(self.person),
            "name": self.full_name(everyone, np.zeros(self.person.size, np.bool_)),
            "married_name": pc.if_else(pa.array(self.spouse >= 0),
                                       self.full_name(everyone, self.spouse >= 0),
                                       pa.scalar(None, pa.string())),
            "mother_name": self.mother_name(everyone),
            "mother_person_id": pa.array(people.mother[self.person]),
            "birth_date": pa.array((EPOCH + people.birth[self.person]).astype("datetime64[D]")),
            "sex": pa.array(np.where(self.female, "F", "M")),
            "municipality": pa.array(codes[people.municipality[self.person]]),
            "cns": digits_to_strings(self.cns1),
            "cns_second": pc.if_else(pa.array(self.has_cns2), digits_to_strings(self.cns2),
                                     pa.scalar(None, pa.string())),
            "cpf": pc.if_else(pa.array(self.has_cpf), digits_to_strings(self.cpf),
                              pa.scalar(None, pa.string())),
            "death_date": pa.array(np.where(
                people.death[self.person] == Population.NO_DEATH, np.datetime64("NaT"),
                (EPOCH + people.death[self.person]).astype("datetime64[D]"))),
        })


def draw_identities(rng: np.random.Generator, people: Population, territory: Territory,
                    referenced: npt.NDArray[np.int64], window_start: int) -> Identities:
    """Identities of ``referenced`` people and of their mothers known to the population."""
    mothers = people.mother[referenced]
    person = np.unique(np.concatenate([referenced, mothers[mothers >= 0]]))
    n = person.size
    female = people.female[person]
    given1, given2 = names.draw_given(rng, female)
    particle = np.where(rng.random(n) < 0.22, rng.integers(0, len(names.PARTICLES), n),
                        -1).astype(np.int8)
    surname1 = names.draw_surnames(rng, n)
    surname2 = np.where(rng.random(n) < 0.88, names.draw_surnames(rng, n), -1).astype(np.int16)
    age = (window_start - people.birth[person]) / 365.25
    spouse = np.where(female & (age >= 22) & (rng.random(n) < 0.35),
                      names.draw_surnames(rng, n), -1).astype(np.int16)
    mother_given1, mother_given2 = names.draw_given(rng, np.ones(n, np.bool_))
    mother_surname = names.draw_surnames(rng, n)
    muni = people.municipality[person]
    cep = (territory.cep_prefix[muni] * 1000 + rng.integers(0, 1000, n)).astype(np.int32)
    ident = Identities(
        person, female, given1, given2, particle, surname1, surname2, spouse, mother_given1,
        mother_given2, mother_surname, draw_cns(rng, n), draw_cns(rng, n),
        rng.random(n) < 0.22, draw_cpf(rng, n),
        rng.random(n) < np.where(age >= 18, 0.9, np.where(age >= 0, 0.45, 0.15)), cep,
        rng.integers(0, len(names.STREETS), n).astype(np.int8),
        rng.integers(0, len(names.SURNAMES), n).astype(np.int16),
        rng.integers(1, 3000, n).astype(np.int16))
    # children born in the window carry their mother's family name
    child = np.flatnonzero(people.mother[person] >= 0)
    m_rows = ident.rows(people.mother[person[child]])
    ident.surname1[child] = np.where(ident.surname2[m_rows] >= 0, ident.surname2[m_rows],
                                     ident.surname1[m_rows])
    ident.particle[child] = -1
    ident.mother_given1[child] = ident.given1[m_rows]
    ident.mother_given2[child] = ident.given2[m_rows]
    # the child's mother name is then the mother's own: given names, first surname and
    # the last surname she passed on (the child's first surname)
    ident.mother_surname[child] = np.where(ident.surname2[m_rows] >= 0,
                                           ident.surname1[m_rows], -1)
    ident.cep[child] = ident.cep[m_rows]
    ident.street_type[child] = ident.street_type[m_rows]
    ident.street[child] = ident.street[m_rows]
    ident.number[child] = ident.number[m_rows]
    _twins(rng, people, ident)
    _homonyms(rng, people, ident)
    return ident


def _twins(rng: np.random.Generator, people: Population, ident: Identities) -> None:
    """Twins (same mother and birth day) share both surnames, mother and address; a
    fifth of same-sex pairs also share the first given name and differ in the second
    (MARIA EDUARDA and MARIA CLARA), the hardest to tell apart; twins whose first names
    came out alike by chance get second names apart too."""
    mother = people.mother[ident.person]
    born = people.birth[ident.person]
    order = np.lexsort((ident.person, born, mother))
    same = ((mother[order][1:] >= 0) & (mother[order][1:] == mother[order][:-1])
            & (born[order][1:] == born[order][:-1]))
    a, b = order[:-1][same], order[1:][same]
    ident.surname2[b] = ident.surname2[a]        # the father's surname too
    shared = (ident.female[a] == ident.female[b]) & (rng.random(a.size) < 0.2)
    ident.given1[b[shared]] = ident.given1[a[shared]]
    # twins with one first name (shared on purpose, or drawn alike by chance) are both
    # given a second name, and not the same one (parents who name twins
    # MARIA EDUARDA and MARIA CLARA do not leave one of them a plain MARIA)
    alike = (ident.given1[a] == ident.given1[b]) & (ident.female[a] == ident.female[b])
    a, b = a[alike], b[alike]
    female = ident.female[a]
    alone = np.flatnonzero(ident.given2[a] < 0)
    first = names.draw_given(rng, female[alone])[0]
    for _ in range(8):  # redraw the few that came out alike the first name
        equal = _alike(first, ident.given1[a[alone]], female[alone])
        if not equal.any():
            break
        first[equal] = names.draw_given(rng, female[alone][equal])[0]
    ident.given2[a[alone]] = np.where(_alike(first, ident.given1[a[alone]], female[alone]),
                                      -1, first).astype(np.int16)
    second = names.draw_given(rng, ident.female[b])[0]
    for _ in range(8):  # redraw the few that came out alike (LUÍS and LUIZ are alike)
        equal = (_alike(second, ident.given2[a], female)
                 | _alike(second, ident.given1[b], female))
        if not equal.any():
            break
        second[equal] = names.draw_given(rng, ident.female[b[equal]])[0]
    ident.given2[b] = np.where(_alike(second, ident.given2[a], female)
                               | _alike(second, ident.given1[b], female), -1,
                               second).astype(np.int16)


def _alike(x: npt.NDArray[np.int16], y: npt.NDArray[np.int16],
           female: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Whether given names (indices, −1 for none) are one name or spellings of one
    (LUÍS and LUIZ, accents and Z/S aside)."""
    def key(idx: int, woman: bool) -> str:
        if idx < 0:
            return ""
        return fold((names.FEMALE if woman else names.MALE)[idx]).replace("z", "s")

    return np.array([x_ >= 0 and key(x_, w) == key(y_, w) for x_, y_, w
                     in zip(x.tolist(), y.tolist(), female.tolist(), strict=True)],
                    dtype=np.bool_)


#: share of people given the full name of someone of the same sex born the same day
#: elsewhere (a homonym); common names make more homonyms on their own
HOMONYM_SHARE = 0.003


def _homonyms(rng: np.random.Generator, people: Population, ident: Identities) -> None:
    born = people.birth[ident.person]
    order = np.lexsort((ident.person, ident.female, born))
    same = ((born[order][1:] == born[order][:-1])
            & (ident.female[order][1:] == ident.female[order][:-1])
            & (rng.random(order.size - 1) < HOMONYM_SHARE))
    a, b = order[:-1][same], order[1:][same]
    # a chain of copies is one copy each; a mother's or a newborn's name is tied to her
    # children's or mother's names, so those keep their own
    keep = (~np.isin(a, b) & (people.mother[ident.person[b]] < 0)
            & ~np.isin(ident.person[b], people.mother[ident.person]))
    a, b = a[keep], b[keep]
    for column in (ident.given1, ident.given2, ident.particle, ident.surname1,
                   ident.surname2):
        column[b] = column[a]


@dataclass(frozen=True)
class ErrorRates:
    """Per-record error probabilities; degraded municipalities multiply them."""

    typo: float = 0.03
    abbreviation: float = 0.02
    particle_drop: float = 0.03
    married_name_use: float = 0.6
    swap_day_month: float = 0.008
    year_typo: float = 0.003
    cns_missing: float = 0.08
    cns_second: float = 0.35
    cns_corrupt: float = 0.006
    mother_cns_on_child: float = 0.25   # a young child's record carries the mother's CNS
    young_child_days: int = 730
    cpf_missing: float = 0.35
    cpf_corrupt: float = 0.004
    degraded_multiplier: float = 3.0


@dataclass
class RecordIdentity:
    """One source's identity columns for a set of records, with the truth flags."""

    name: pa.Array
    mother_name: pa.Array
    birth_day: npt.NDArray[np.int32]
    cns: pa.Array
    cpf: pa.Array
    cep: pa.Array
    address: pa.Array
    flags: dict[str, npt.NDArray[np.generic]]


def _typo(rng: np.random.Generator, text: str) -> str:
    letters = [i for i, c in enumerate(text) if c != " "]
    if len(letters) < 3:
        return text
    i = letters[int(rng.integers(1, len(letters)))]
    op = int(rng.integers(0, 3))
    if op == 0:  # substitution by a neighbouring letter
        c = chr(ord("A") + int(rng.integers(0, 26)))
        return text[:i] + c + text[i + 1:]
    if op == 1 and i + 1 < len(text) and text[i + 1] != " ":  # transposition
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + text[i + 1:]  # deletion


def _abbreviate(_rng: np.random.Generator, text: str) -> str:
    parts = text.split(" ")
    if len(parts) < 3:
        return text
    middle = [k for k in range(1, len(parts) - 1) if parts[k] not in names.PARTICLES]
    if not middle:
        return text
    k = middle[0]
    parts[k] = parts[k][0]
    return " ".join(parts)


def _drop_particles(_rng: np.random.Generator, text: str) -> str:
    return " ".join(w for w in text.split(" ") if w not in names.PARTICLES)


def _mutate(rng: np.random.Generator, values: pa.Array, mask: npt.NDArray[np.bool_],
            fn: Callable[[np.random.Generator, str], str]) -> pa.Array:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return values
    texts = pc.take(values, pa.array(rows)).to_pylist()
    changed = [fn(rng, t) for t in texts]
    full = values.to_pylist()
    for r, t in zip(rows, changed, strict=True):
        full[r] = t
    return pa.array(full, pa.string())


def render(rng: np.random.Generator, ident: Identities, people: Population,
           territory: Territory, person: npt.NDArray[np.int64], *, rates: ErrorRates,
           fold: bool) -> RecordIdentity:
    """Identity columns of records about ``person`` as one source would have typed them."""
    n = person.size
    rows = ident.rows(person)
    degraded = territory.degraded[people.municipality[person]]
    k = np.where(degraded, rates.degraded_multiplier, 1.0)
    married = (ident.spouse[rows] >= 0) & (rng.random(n) < rates.married_name_use)
    name = ident.full_name(rows, married)
    mother = ident.mother_name(rows)
    typo = rng.random(n) < rates.typo * k
    abbreviated = rng.random(n) < rates.abbreviation * k
    dropped = rng.random(n) < rates.particle_drop
    name = _mutate(rng, name, abbreviated, _abbreviate)
    name = _mutate(rng, name, dropped, _drop_particles)
    name = _mutate(rng, name, typo, _typo)
    mother_typo = rng.random(n) < rates.typo * k
    mother = _mutate(rng, mother, mother_typo, _typo)
    if fold:
        name, mother = names.fold_upper(name), names.fold_upper(mother)
    birth = people.birth[person].copy()
    dates = (EPOCH + birth).astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype(int) + 1970
    month = (dates.astype("datetime64[M]").astype(int) % 12) + 1
    day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    swap = (rng.random(n) < rates.swap_day_month * k) & (day <= 12) & (day != month)
    year_typo = (rng.random(n) < rates.year_typo * k) & ~swap
    new_year = year + np.where(year_typo, rng.choice([-1, 1], n), 0)
    new_month = np.where(swap, day, month)
    new_day = np.where(swap, month, day)
    new_day = np.where(year_typo & (new_month == 2) & (new_day == 29), 28, new_day)
    changed = swap | year_typo
    if changed.any():
        text = [f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in
                zip(new_year[changed], new_month[changed], new_day[changed], strict=True)]
        birth[changed] = (np.array(text, dtype="datetime64[D]") - EPOCH).astype(np.int32)
    # CNS: missing, the person's second card, a corrupted number, or the first card
    u = rng.random(n)
    missing = u < rates.cns_missing * k
    second = ~missing & ident.has_cns2[rows] & (rng.random(n) < rates.cns_second)
    bad = ~missing & (rng.random(n) < rates.cns_corrupt * k)
    digits = np.where(second[:, None], ident.cns2[rows], ident.cns1[rows])
    if bad.any():
        digits[bad] = _corrupt_invalid(rng, digits[bad], "cns")
    # a young child's record with the mother's CNS (SIH and SINASC do this routinely): the
    # number is valid and belongs to someone else; the newest births stand for "now"
    mother_of = people.mother[person]
    mother_rows = np.searchsorted(ident.person, np.maximum(mother_of, 0))
    mother_rows = np.minimum(mother_rows, ident.person.size - 1)
    has_mother = (mother_of >= 0) & (ident.person[mother_rows] == mother_of)
    young = people.birth[person] >= people.birth.max() - rates.young_child_days
    mothers = has_mother & young & ~bad & (rng.random(n) < rates.mother_cns_on_child)
    if mothers.any():
        digits[mothers] = ident.cns1[mother_rows[mothers]]
        missing = missing & ~mothers
    cns = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), digits_to_strings(digits))
    cpf_missing = ~ident.has_cpf[rows] | (rng.random(n) < rates.cpf_missing)
    cpf_bad = ~cpf_missing & (rng.random(n) < rates.cpf_corrupt * k)
    cpf_digits = ident.cpf[rows].copy()
    if cpf_bad.any():
        cpf_digits[cpf_bad] = _corrupt_invalid(rng, cpf_digits[cpf_bad], "cpf")
    cpf = pc.if_else(pa.array(cpf_missing), pa.scalar(None, pa.string()),
                     digits_to_strings(cpf_digits))
    cep = pc.utf8_lpad(pa.array(ident.cep[rows]).cast(pa.string()), 8, "0")
    street = names.assemble(np.ones(n, np.bool_), np.full(n, -1, np.int16),
                            np.full(n, -1, np.int16), np.full(n, -1, np.int8),
                            ident.street[rows], np.full(n, -1, np.int16))
    address = pc.binary_join_element_wise(
        pc.take(pa.array(names.STREETS), pa.array(ident.street_type[rows])), street,
        pa.array(ident.number[rows]).cast(pa.string()), " ")
    if fold:
        address = names.fold_upper(address)
    cns_status = np.where(missing, "ausente", np.where(
        bad, "corrompido", np.where(mothers, "da_mae",
                                    np.where(second, "segundo", "principal"))))
    cpf_status = np.where(cpf_missing, "ausente", np.where(cpf_bad, "corrompido", "valido"))
    return RecordIdentity(name, mother, birth.astype(np.int32), cns, cpf, cep, address, {
        "name_typo": typo, "name_abbreviated": abbreviated, "particle_dropped": dropped,
        "married_name": married, "mother_name_typo": mother_typo,
        "birth_date_swapped": swap, "birth_year_typo": year_typo,
        "cns_status": cns_status, "cpf_status": cpf_status})


def _corrupt_invalid(rng: np.random.Generator, digits: npt.NDArray[np.uint8], kind: str
                     ) -> npt.NDArray[np.uint8]:
    """Corrupt until every row is invalid by the official rule."""
    out = corrupt(rng, digits, kind)
    while True:
        still_valid = validity_check(digits_to_strings(out), kind)
        if not still_valid.any():
            return out
        out[still_valid] = corrupt(rng, digits[still_valid], kind)
