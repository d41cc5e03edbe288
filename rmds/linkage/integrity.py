"""What makes two identity records certainly different people.

A shared CNS or CPF, or a high Splink score, is evidence, not a verdict. A pair is refused
(:func:`conflicts`) when the records cannot be one person:

- **one is the other's mother**: the folded full name of one is the mother's name of the
  other (a mother's CNS on her newborn's SIH/SINASC record is routine);
- **birth dates years apart**: more than two years (an off-by-one year stays possible);
- **different sex** where the first names differ too (a sex typo on an otherwise equal
  name is kept as a possible error);
- **twins**: same mother and same birth date with first names more than a one-letter
  typo apart (EDSON and NELSON; not EDSON and ESDON), different
  given middle names (the middle names that are not the mother's names: JÉSSICA
  FRANCISCA and JÉSSICA ROSÂNGELA, daughters of MARIA SILVA COSTA; an initial or a typo is
  not a difference), or different sex;
- **siblings**: same mother, other birth dates and clearly other first names (Jaro-Winkler
  below 0.8: not a typo), as when the mother's CNS is on each child's record;
- **homonyms**: equal names but different mothers (both known, first and last names of the
  mother both differ);
- **two mothers**: whatever the names, mothers' first names that are not a typo, an initial
  or a shortening of one another (homonyms' mothers often share the last name, the one
  passed on to the child).

Two SINASC birth records that cannot be told apart (nameless, same mother, birth date,
sex and municipality: same-sex twins) are each a different baby, and which one a later
named record belongs to cannot be known from them (:func:`indistinct_births`): their
scored links are not accepted but sent to review.

Clusters are then checked as a whole (:func:`broken_clusters`): two deaths, or both sexes,
in one cluster are impossible for one person; such clusters are split and their links go
to the review queue (``rmds link review``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from jellyfish import damerau_levenshtein_distance, jaro_winkler_similarity

__all__ = ["ambiguous_births", "broken_clusters", "conflicts", "first_names",
           "indistinct_births", "phonetic_key", "split_impossible", "twin_signatures"]

# first "names" that are not names: a newborn's placeholder (RN DE MARIA → RN MARIA)
_PLACEHOLDERS = frozenset({"RN", "RECEM", "NASCIDO", "NATIMORTO", "FETO", "FILHO", "FILHA",
                           "IGNORADO", "DESCONHECIDO"})
_MAX_DAYS_APART = 731
# first names this far apart (Jaro-Winkler) are not a typo of one another
_SIBLING_JW = 0.8


@dataclass(frozen=True)
class _Coded:
    """A string column as integer codes into its distinct values: equality over millions
    of pairs on integers, the strings themselves only where a test needs them (at state
    scale a Python string per record and column held several gigabytes)."""

    codes: npt.NDArray[np.int32]       # per record; -1: null
    values: npt.NDArray[np.object_]    # the distinct values, then None (code -1)
    known: npt.NDArray[np.bool_]       # per code: a value, neither null nor ""


def _coded(table: pa.Table, *names: str, drop: frozenset[str] = frozenset()
           ) -> list[_Coded]:
    """``names`` encoded over one dictionary, so that codes compare across them; values
    in ``drop`` read as null."""
    joined = pa.concat_arrays([table.column(n).combine_chunks().cast(pa.large_string())
                               for n in names])
    encoded = pc.dictionary_encode(joined)
    values = np.array([None if v in drop else v for v in encoded.dictionary.to_pylist()]
                      + [None], dtype=object)
    known = np.array([v is not None and v != "" for v in values], dtype=np.bool_)
    codes = pc.fill_null(encoded.indices, -1).to_numpy()
    n = table.num_rows
    return [_Coded(codes[k * n:(k + 1) * n], values, known) for k in range(len(names))]


@dataclass(frozen=True)
class _Side:
    """One side of the pairs of a coded column: indexed, its strings."""

    column: _Coded
    codes: npt.NDArray[np.int32]

    def __getitem__(self, at: npt.NDArray[np.intp]) -> npt.NDArray[np.object_]:
        return self.column.values[self.codes[at]]


def conflicts(table: pa.Table, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
              ) -> npt.NDArray[np.bool_]:
    """For each pair ``left[i]–right[i]`` (0-based row positions of a standardised table,
    :data:`rmds.linkage.prepare.SCHEMA`), whether the two records are certainly different
    people (see the module's docstring)."""
    if left.size == 0:
        return np.zeros(0, dtype=np.bool_)
    full, mother = _coded(table, "full_name", "mother_name")
    [first] = _coded(table, "first_name", drop=_PLACEHOLDERS)
    dob = table.column("dob").cast(pa.int32()).to_numpy(zero_copy_only=False)
    dob = np.where(np.isnan(dob.astype(np.float64)), np.nan, dob.astype(np.float64))

    def pair(column: _Coded) -> tuple[_Side, _Side, npt.NDArray[np.bool_]]:
        a, b = column.codes[left], column.codes[right]
        return _Side(column, a), _Side(column, b), column.known[a] & column.known[b]

    def same(a: _Side, b: _Side) -> npt.NDArray[np.bool_]:
        return np.asarray(a.codes == b.codes, dtype=np.bool_)

    def known(a: _Side) -> npt.NDArray[np.bool_]:
        return a.column.known[a.codes]

    full_l, full_r, _ = pair(full)
    mom_l, mom_r, mom_known = pair(mother)
    mother_of = (known(full_l) & same(full_l, mom_r)) | (known(full_r) & same(full_r, mom_l))
    days = np.abs(dob[left] - dob[right])
    years_apart = np.nan_to_num(days, nan=0.0) > _MAX_DAYS_APART
    first_l, first_r, first_known = pair(first)
    first_differs = first_known & ~same(first_l, first_r)
    sex_l, sex_r, sex_known = pair(_coded(table, "sex")[0])
    sex_differs = sex_known & ~same(sex_l, sex_r)
    same_dob = np.nan_to_num(days, nan=1.0) == 0
    same_mother = mom_known & same(mom_l, mom_r)
    # twins' records carry typos too: the mother's name or the birth date a typo apart
    # (the name comparisons run only on the pairs where their answer counts)
    text_l, text_r, text_known = pair(_coded(table, "dob_text")[0])
    near_dob = same_dob | _where(text_known & ~same_dob, _near_dates, text_l, text_r)
    twin_mother = same_mother | _where(mom_known & near_dob & ~same_mother, _two_typos,
                                       mom_l, mom_r)
    maybe = twin_mother & near_dob
    middle_l, middle_r, _ = pair(_coded(table, "middle_names")[0])
    given_differs = _where(maybe, _given_names_apart, middle_l, middle_r, mom_l)
    first_apart = _where(first_differs, _names_apart, first_l, first_r)
    twins = maybe & (first_apart | sex_differs | given_differs)
    # siblings (a mother's CNS on each child's record): same mother, clearly other name
    other_child = same_mother & ~same_dob & first_known
    siblings = other_child & _where(other_child, _clearly_apart, first_l, first_r)
    mf_l, mf_r, mf_known = pair(_coded(table, "mother_first")[0])
    ml_l, ml_r, ml_known = pair(_coded(table, "mother_last")[0])
    other_mother = mf_known & ml_known & ~same(mf_l, mf_r) & ~same(ml_l, ml_r)
    homonyms = known(full_l) & same(full_l, full_r) & other_mother
    # two mothers: her first name is not a typo, an initial or a shortening of the other
    two_mothers = _where(mf_known & ~same(mf_l, mf_r), _mothers_apart, mf_l, mf_r)
    return np.asarray(mother_of | years_apart | (sex_differs & first_differs) | twins
                      | siblings | homonyms | two_mothers, dtype=np.bool_)


def _where(mask: npt.NDArray[np.bool_], test: Callable[..., bool],
           *columns: npt.NDArray[np.object_] | _Side) -> npt.NDArray[np.bool_]:
    """``test`` applied to the pairs where ``mask`` holds; False elsewhere."""
    out = np.zeros(mask.size, dtype=np.bool_)
    at = np.flatnonzero(mask)
    if at.size:
        out[at] = [test(*values) for values in zip(*(c[at] for c in columns), strict=True)]
    return out


def _two_typos(a: str, b: str) -> bool:
    return _close(a, b, 2)


def _given_names_apart(middle_a: str | None, middle_b: str | None, mother: str | None
                       ) -> bool:
    return _given_differ(middle_a, middle_b, mother) or _first_given_apart(middle_a, middle_b)


def _mothers_apart(a: str, b: str) -> bool:
    """Two mothers' first names that cannot be one woman's (Jaro-Winkler below 0.8, not an
    initial of the other): SÔNIA and RAQUEL, not MARIA and MRIA or M."""
    return not _same_name(a, b, clearly=True)


def _same_name(a: str, b: str, clearly: bool = False) -> bool:
    """Two name words that may be one: equal, an initial of the other, or a typo (one
    letter apart; ``clearly``: Jaro-Winkler 0.8 or more, for a cluster holding several
    typos of one word)."""
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    if clearly:
        return not _clearly_apart(a, b)
    return bool(damerau_levenshtein_distance(a, b) <= 1)


def _clearly_apart(a: str, b: str) -> bool:
    """Two first names that are not one name mistyped: Jaro-Winkler below 0.8 and more
    than one edit apart (a transposition counts one: ANA and AAN are 0.56 apart by
    Jaro-Winkler, short names being what they are, but one slip of the hand)."""
    return (a != b and jaro_winkler_similarity(a, b) < _SIBLING_JW
            and _names_apart(a, b))


def _close(a: str, b: str, typos: int) -> bool:
    """Whether two strings are at most ``typos`` edits (a transposition counts one) apart."""
    return bool(damerau_levenshtein_distance(a, b) <= typos)


def _near_dates(a: str, b: str) -> bool:
    """Two birth dates (``YYYYMMDD``) one record's slip apart: one digit, or the day and
    the month swapped (03/01 for 01/03)."""
    return _close(a, b, 1) or (a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6])


def _first_given_apart(middle_a: str | None, middle_b: str | None) -> bool:
    """Whether two middle-name strings begin with given names clearly apart, neither of
    which the other string holds anywhere: HELOÍSA **MARIA** SILVA and HELOÍSA **CAMILA**
    SILVA (even when MARIA is also the mother's name), not GABRIELA MARIA SOUZA and
    GABRIELA SOUZA (a record that dropped a name) nor VANESSA NOGUEIRA and VANESSA ALINE
    NOGUEIRA (NOGUEIRA is in both)."""
    if not middle_a or not middle_b:
        return False
    a, b = middle_a.split(), middle_b.split()
    if len(a[0]) == 1 or len(b[0]) == 1:
        return False      # an initial against a name (or a mistyped one) tells nothing
    return (not any(_same_name(a[0], w) for w in b) and not any(_same_name(b[0], w) for w in a)
            and not _same_name(a[0], b[0], clearly=True))


def _same_birth(a: Signature, b: Signature) -> bool:
    """Whether two signatures may be of one delivery: mothers' names at most two typos
    apart, birth dates equal, one digit apart (a year typed wrong) or with the day and the
    month swapped."""
    if a[1] != b[1] and not _near_dates(f"{a[1]:%Y%m%d}", f"{b[1]:%Y%m%d}"):
        return False
    return a[0] == b[0] or _close(a[0], b[0], 2)


def _names_apart(a: str, b: str) -> bool:
    """Two first names more than a one-letter typo (a transposition counts one) apart."""
    return bool(damerau_levenshtein_distance(a, b) > 1)


# a record's twin signature: mother's name, birth date, first name, middle names
Signature = tuple[str, dt.date, str, str | None]


def twin_signatures(table: pa.Table, names: npt.NDArray[np.object_] | None = None
                    ) -> list[Signature | None]:
    """Per record, what tells a twin from the other (mother's name, birth date, first name,
    middle names), None where the mother, the date or the first name is unknown;
    ``names``: the table's :func:`first_names`, when the caller has them already."""
    firsts = first_names(table) if names is None else names
    rows = zip(table.column("mother_name").to_pylist(), table.column("dob").to_pylist(),
               firsts.tolist(), table.column("middle_names").to_pylist(), strict=True)
    return [(m, d, f, mid) if m and d is not None and f else None for m, d, f, mid in rows]


def _twins(signatures: Counter[Signature]) -> bool:
    """Whether two signatures in a cluster (with how many records carry each) are twins:
    same mother and birth date, and first names or given middle names clearly apart, or
    more than a typo apart and each carried by two records or more (a cluster gathers
    single typos of one name: FRACNISCO and FRANCSICO are two letters apart but not twins;
    EDSON and NELSON on several records each are)."""
    ordered = sorted(signatures, key=repr)
    return any(_same_birth(a, b)
               and (_clearly_apart(a[2], b[2])
                    or _given_differ(a[3], b[3], a[0], clearly=True)
                    or (signatures[a] > 1 and signatures[b] > 1
                        and (_names_apart(a[2], b[2]) or _given_differ(a[3], b[3], a[0])
                             or _first_given_apart(a[3], b[3]))))
               for k, a in enumerate(ordered) for b in ordered[k + 1:])


def _two_mothers(signatures: Counter[Signature]) -> bool:
    """Whether a cluster's records name two mothers (homonyms: one name and birth date,
    two women who bore them)."""
    firsts = sorted({a[0].split()[0] for a in signatures})
    return any(_mothers_apart(a, b) for k, a in enumerate(firsts) for b in firsts[k + 1:])


def _given_differ(middle_a: str | None, middle_b: str | None, mother: str | None,
                  clearly: bool = False) -> bool:
    """Whether two middle-name strings hold different given names: the words that are not
    the mother's surnames (her names after the first, passed on; abbreviated or mistyped
    too) are known on both sides and none of one side may be any of the other's
    (:func:`_same_name`). A given name on one side only tells nothing: records drop
    middle names. The mother's first name is a given name (GABRIELA MARIA, daughter of
    MARIA MANUELA JESUS PORTO)."""
    if not middle_a or not middle_b:
        return False
    hers = (mother or "").split()[1:]
    a = [w for w in middle_a.split() if not any(_same_name(w, m) for m in hers)]
    b = [w for w in middle_b.split() if not any(_same_name(w, m) for m in hers)]
    return (bool(a) and bool(b)
            and not any(_same_name(x, y, clearly) for x in a for y in b))


def indistinct_births(table: pa.Table) -> npt.NDArray[np.bool_]:
    """Per record, whether it is a SINASC birth record (``record_uid`` ``SINASC|…|
    recem_nascido``) without a name that another such record matches on the mother's first
    and last names (GERALDA F MAIA is GERALDA FERREIRA MAIA), birth date, sex and
    municipality: one of same-sex twins (or triplets), each a different baby,
    whose later named records cannot be told apart by these fields. Counted in Arrow: a
    tuple per record in Python held gigabytes at state scale."""
    uid, first = table.column("record_uid"), table.column("first_name")
    nameless = pc.fill_null(pc.or_kleene(pc.or_kleene(
        pc.is_null(first), pc.equal(first, "")),
        pc.is_in(first, value_set=pa.array(sorted(_PLACEHOLDERS)))), True)
    birth = pc.and_(pc.and_(pc.starts_with(uid, "SINASC|"),
                            pc.ends_with(uid, "|recem_nascido")), nameless)

    def given(name: str) -> pa.ChunkedArray:
        column = table.column(name)
        return pc.fill_null(pc.not_equal(column, ""), False)

    counted = pc.and_(pc.and_(birth, pc.and_(given("mother_first"), given("mother_last"))),
                      pc.is_valid(table.column("dob")))
    keys = ["mother_first", "mother_last", "dob", "sex", "municipality"]
    rows = pa.table({"row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
                     **{k: table.column(k) for k in keys}}).filter(counted)
    # a null sex or municipality is a value of the key like any other (as in a dictionary)
    for k in ("sex", "municipality"):
        rows = rows.set_column(rows.schema.get_field_index(k), k,
                               pc.fill_null(rows.column(k).cast(pa.string()), "\0"))
    groups = rows.group_by(keys).aggregate([("row", "count")])
    twins = rows.join(groups.filter(pc.greater(groups.column("row_count"), 1)), keys,
                      join_type="inner")
    out = np.zeros(table.num_rows, dtype=np.bool_)
    out[twins.column("row").to_numpy()] = True
    return out


def ambiguous_births(nameless_birth: npt.NDArray[np.bool_], left: npt.NDArray[np.int64],
                     right: npt.NDArray[np.int64], signatures: list[Signature | None]
                     ) -> npt.NDArray[np.bool_]:
    """Per record, whether it is a nameless birth record (``nameless_birth``) whose links
    ``left–right`` reach two children that are twins (:func:`_twins` over the linked
    records' signatures): the other twin's declaration may be missing from the lake, but
    which baby this one was is still unknown."""
    seen: dict[int, Counter[Signature]] = {}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        for birth, other in ((a, b), (b, a)):
            if nameless_birth[birth] and (sig := signatures[other]) is not None:
                seen.setdefault(birth, Counter())[sig] += 1
    out = np.zeros(nameless_birth.size, dtype=np.bool_)
    for birth, found in seen.items():
        out[birth] = len(found) > 1 and _twins(found)
    return out


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


def _impossible(names: set[str], sexes: set[str], deaths: int, births: int = 0,
                signatures: Counter[Signature] | None = None) -> bool:
    if deaths > 1 or births > 1 or len(sexes) > 1:
        return True
    if signatures and len(signatures) > 1 and (_twins(signatures)
                                               or _two_mothers(signatures)):
        return True
    ordered = sorted(names)
    return any(_clearly_apart(a, b) for k, a in enumerate(ordered) for b in ordered[k + 1:])


def split_impossible(labels: npt.NDArray[np.int64], left: npt.NDArray[np.int64],
                     right: npt.NDArray[np.int64], weight: npt.NDArray[np.float64],
                     first: npt.NDArray[np.object_], sex: npt.NDArray[np.object_],
                     death: npt.NDArray[np.bool_], birth: npt.NDArray[np.bool_] | None = None,
                     signatures: list[Signature | None] | None = None
                     ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Clusters (``labels``, from the edges ``left–right``) that cannot be one person (two
    deaths, two birth records (``birth``: SINASC), both sexes, first names clearly
    apart, or twins by their ``signatures`` (:func:`twin_signatures`): twins joined through
    a nameless birth record or their mother's CNS) are rebuilt from their own
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
    sig = [None] * n if signatures is None else signatures
    bad = [c for c, rows in members.items() if _impossible(
        {first[i] for i in rows if first[i] is not None},
        {sex[i] for i in rows if sex[i] in ("F", "M")}, int(death[rows].sum()),
        int(born[rows].sum()), Counter(t for i in rows if (t := sig[i]) is not None))]
    if not bad:
        return labels, refused
    in_bad = np.isin(labels, np.array(bad, dtype=np.int64))
    edges = np.flatnonzero(in_bad[left])
    edges = edges[np.argsort(-weight[edges], kind="stable")]
    parent = {int(i): int(i) for i in np.flatnonzero(in_bad).tolist()}
    state: dict[int, tuple[set[str], set[str], int, int, Counter[Signature]]] = {
        i: ({first[i]} if first[i] is not None else set(),
            {sex[i]} if sex[i] in ("F", "M") else set(), int(death[i]), int(born[i]),
            Counter([t] if (t := sig[i]) is not None else []))
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
        names_a, sexes_a, deaths_a, births_a, sigs_a = state[a]
        names_b, sexes_b, deaths_b, births_b, sigs_b = state[b]
        merged = (names_a | names_b, sexes_a | sexes_b, deaths_a + deaths_b,
                  births_a + births_b, sigs_a + sigs_b)
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
    words = [_word_key(word) for word in text.upper().translate(_FOLD).split()
             if word not in _PARTICLES]
    return " ".join(w for w in words if w) or None


_PARTICLES = frozenset({"DA", "DE", "DO", "DOS", "DAS", "E", "DI", "DU"})


@functools.lru_cache(maxsize=1 << 18)
def _word_key(word: str) -> str:
    """The key of one folded word ('' for a word with no letter): names repeat, so keys are
    kept (a state's identity records hold a few hundred thousand distinct words)."""
    word = "".join(ch for ch in word if "A" <= ch <= "Z")
    if word.startswith("H"):
        word = word[1:]
    for old, new in _SOUNDS:
        word = word.replace(old, new)
    if not word:
        return ""
    tail = "".join(ch for ch in word[1:] if ch not in "AEIOU")
    key = word[0]
    for ch in tail:
        if ch != key[-1]:
            key += ch
    return key
