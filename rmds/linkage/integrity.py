"""What makes two identity records certainly different people.

A shared CNS or CPF, or a high Splink score, is evidence, not a verdict. A pair is refused
(:func:`conflicts`) when the records cannot be one person:

- **one is the other's mother**: the folded full name of one is the mother's name of the
  other (a mother's CNS on her newborn's SIH/SINASC record is routine);
- **birth dates years apart**: more than two years (an off-by-one year stays possible);
- **different sex** where the first names differ too (a sex typo on an otherwise equal
  name is kept as a possible error);
- **twins**: same mother and same birth date with different first names, or different sex
  (newborn twins' records differ only in sex and order);
- **siblings**: same mother, other birth dates and clearly other first names (Jaro-Winkler
  below 0.8: not a typo), as when the mother's CNS is on each child's record;
- **homonyms**: equal names but different mothers (both known, first and last names of the
  mother both differ).

Clusters are then checked as a whole (:func:`broken_clusters`): two deaths, or both sexes,
in one cluster are impossible for one person; such clusters are split and their links go
to the review queue (``rmds link review``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from jellyfish import jaro_winkler_similarity

__all__ = ["broken_clusters", "conflicts", "first_names", "phonetic_key", "split_impossible"]

# first "names" that are not names: a newborn's placeholder (RN DE MARIA → RN MARIA)
_PLACEHOLDERS = frozenset({"RN", "RECEM", "NASCIDO", "NATIMORTO", "FETO", "FILHO", "FILHA",
                           "IGNORADO", "DESCONHECIDO"})
_MAX_DAYS_APART = 731
# first names this far apart (Jaro-Winkler) are not a typo of one another
_SIBLING_JW = 0.8


def _strings(table: pa.Table, column: str) -> npt.NDArray[np.object_]:
    return np.array(table.column(column).to_pylist(), dtype=object)


def _known(values: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    return np.array([v is not None and v != "" for v in values], dtype=np.bool_)


def conflicts(table: pa.Table, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
              ) -> npt.NDArray[np.bool_]:
    """For each pair ``left[i]–right[i]`` (0-based row positions of a standardised table,
    :data:`rmds.linkage.prepare.SCHEMA`), whether the two records are certainly different
    people (see the module's docstring)."""
    if left.size == 0:
        return np.zeros(0, dtype=np.bool_)
    full = _strings(table, "full_name")
    mother = _strings(table, "mother_name")
    first = _strings(table, "first_name")
    first = np.array([None if v in _PLACEHOLDERS else v for v in first], dtype=object)
    m_first = _strings(table, "mother_first")
    m_last = _strings(table, "mother_last")
    sex = _strings(table, "sex")
    dob = table.column("dob").cast(pa.int32()).to_numpy(zero_copy_only=False)
    dob = np.where(np.isnan(dob.astype(np.float64)), np.nan, dob.astype(np.float64))

    def pair(values: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.object_],
                                                        npt.NDArray[np.object_],
                                                        npt.NDArray[np.bool_]]:
        a, b = values[left], values[right]
        return a, b, _known(a) & _known(b)

    full_l, full_r, _ = pair(full)
    mom_l, mom_r, mom_known = pair(mother)
    mother_of = ((_known(full_l) & (full_l == mom_r)) | (_known(full_r) & (full_r == mom_l)))
    days = np.abs(dob[left] - dob[right])
    years_apart = np.nan_to_num(days, nan=0.0) > _MAX_DAYS_APART
    first_l, first_r, first_known = pair(first)
    first_differs = first_known & (first_l != first_r)
    sex_l, sex_r, sex_known = pair(sex)
    sex_differs = sex_known & (sex_l != sex_r)
    same_dob = np.nan_to_num(days, nan=1.0) == 0
    same_mother = mom_known & (mom_l == mom_r)
    twins = same_mother & same_dob & (first_differs | sex_differs)
    # siblings (a mother's CNS on each child's record): same mother, clearly other name
    clearly = np.array([jaro_winkler_similarity(a, b) < _SIBLING_JW if known else False
                        for a, b, known in zip(first_l, first_r, first_known, strict=True)],
                       dtype=np.bool_)
    siblings = same_mother & ~same_dob & clearly
    mf_l, mf_r, mf_known = pair(m_first)
    ml_l, ml_r, ml_known = pair(m_last)
    other_mother = mf_known & ml_known & (mf_l != mf_r) & (ml_l != ml_r)
    homonyms = _known(full_l) & (full_l == full_r) & other_mother
    return np.asarray(mother_of | years_apart | (sex_differs & first_differs) | twins
                      | siblings | homonyms, dtype=np.bool_)


def broken_clusters(labels: npt.NDArray[np.int64], sex: npt.NDArray[np.object_],
                    death: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per record, whether its cluster (``labels``) holds two deaths or both sexes."""
    n = labels.size
    deaths = np.bincount(labels, weights=death.astype(np.float64), minlength=n)
    female = np.bincount(labels, weights=(sex == "F").astype(np.float64), minlength=n)
    male = np.bincount(labels, weights=(sex == "M").astype(np.float64), minlength=n)
    bad = (deaths > 1) | ((female > 0) & (male > 0))
    return np.asarray(bad[labels], dtype=np.bool_)


def first_names(table: pa.Table) -> npt.NDArray[np.object_]:
    """Each record's first name, None where unknown or a newborn's placeholder (RN)."""
    return np.array([None if v in _PLACEHOLDERS or not v else v
                     for v in table.column("first_name").to_pylist()], dtype=object)


def _impossible(names: set[str], sexes: set[str], deaths: int, births: int = 0) -> bool:
    if deaths > 1 or births > 1 or len(sexes) > 1:
        return True
    ordered = sorted(names)
    return any(jaro_winkler_similarity(a, b) < _SIBLING_JW
               for k, a in enumerate(ordered) for b in ordered[k + 1:])


def split_impossible(labels: npt.NDArray[np.int64], left: npt.NDArray[np.int64],
                     right: npt.NDArray[np.int64], weight: npt.NDArray[np.float64],
                     first: npt.NDArray[np.object_], sex: npt.NDArray[np.object_],
                     death: npt.NDArray[np.bool_], birth: npt.NDArray[np.bool_] | None = None
                     ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Clusters (``labels``, from the edges ``left–right``) that cannot be one person (two
    deaths, two birth records (``birth``: SINASC), both sexes, or first names clearly
    apart: twins joined through their nameless birth records) are rebuilt from their own
    edges, strongest ``weight`` first, refusing any edge that would make the rebuilt
    cluster impossible (edges of weight ≥ 3, a person's decision, are always kept, and
    what they joined is taken as possible).
    Returns the new labels and, per edge, whether it was refused. Clusters that are
    possible are left untouched."""
    n = labels.size
    born = np.zeros(n, dtype=np.bool_) if birth is None else birth
    refused = np.zeros(left.size, dtype=np.bool_)
    members: dict[int, list[int]] = {}
    for i in np.flatnonzero(np.array([v is not None for v in first]) | death | born
                            | np.array([v in ("F", "M") for v in sex])).tolist():
        members.setdefault(int(labels[i]), []).append(i)
    bad = [c for c, rows in members.items() if _impossible(
        {first[i] for i in rows if first[i] is not None},
        {sex[i] for i in rows if sex[i] in ("F", "M")}, int(death[rows].sum()),
        int(born[rows].sum()))]
    if not bad:
        return labels, refused
    in_bad = np.isin(labels, np.array(bad, dtype=np.int64))
    edges = np.flatnonzero(in_bad[left])
    edges = edges[np.argsort(-weight[edges], kind="stable")]
    parent = {int(i): int(i) for i in np.flatnonzero(in_bad).tolist()}
    state: dict[int, tuple[set[str], set[str], int, int]] = {
        i: ({first[i]} if first[i] is not None else set(),
            {sex[i]} if sex[i] in ("F", "M") else set(), int(death[i]), int(born[i]))
        for i in parent}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for e in edges.tolist():
        a, b = root(int(left[e])), root(int(right[e]))
        if a == b:
            continue
        names_a, sexes_a, deaths_a, births_a = state[a]
        names_b, sexes_b, deaths_b, births_b = state[b]
        merged = (names_a | names_b, sexes_a | sexes_b, deaths_a + deaths_b,
                  births_a + births_b)
        # a cluster a person's decision already made "impossible" no longer constrains
        if (weight[e] < 3 and _impossible(*merged) and not _impossible(*state[a])
                and not _impossible(*state[b])):
            refused[e] = True
            continue
        parent[b] = a
        state[a] = merged
    out = labels.copy()
    for i in parent:
        out[i] = n + root(i)
    _, dense = np.unique(out, return_inverse=True)
    return dense.astype(np.int64).reshape(-1), refused


_FOLD = str.maketrans("ÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ", "AAAAAEEEEIIIIOOOOOUUUUCN")
# digraphs and letters that sound alike in Brazilian Portuguese, in order
_SOUNDS = (("LH", "L"), ("NH", "N"), ("CH", "X"), ("SH", "X"), ("PH", "F"), ("TH", "T"),
           ("SS", "S"), ("RR", "R"), ("SC", "S"), ("SÇ", "S"), ("QU", "K"), ("GU", "G"),
           ("CE", "SE"), ("CI", "SI"), ("GE", "JE"), ("GI", "JI"), ("C", "K"), ("Q", "K"),
           ("Z", "S"), ("W", "V"), ("Y", "I"), ("H", ""))


def phonetic_key(text: str | None) -> str | None:
    """A Portuguese phonetic key of a name (a small BR-soundex): accents folded, digraphs
    and letters that sound alike made one (LH/L, NH/N, CH/SH/X, Ç/SS/S/Z, QU/K, GE/JE,
    Y/I, W/V, silent H), vowels after the first letter of each word dropped, doubled
    letters made one. ``MARIA DA SILVA`` and ``MARYA SYLVA`` have the same key."""
    if not text:
        return None
    words = []
    for word in text.upper().translate(_FOLD).split():
        if word in {"DA", "DE", "DO", "DOS", "DAS", "E", "DI", "DU"}:
            continue
        word = "".join(ch for ch in word if "A" <= ch <= "Z")
        if word.startswith("H"):
            word = word[1:]
        for old, new in _SOUNDS:
            word = word.replace(old, new)
        if not word:
            continue
        tail = "".join(ch for ch in word[1:] if ch not in "AEIOU")
        key = word[0]
        for ch in tail:
            if ch != key[-1]:
                key += ch
        words.append(key)
    return " ".join(words) or None
