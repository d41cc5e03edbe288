"""Pairwise and cluster quality of a linkage against a ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["Hazards", "Scores", "blocking_recall", "hazards", "score"]


@dataclass(frozen=True)
class Scores:
    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float
    true_clusters: int
    predicted_clusters: int
    exact_clusters: int          # predicted clusters equal to a true person's records
    missing_records: int = 0     # true records that never reached the index (each alone)
    blocking_recall: float | None = None  # true pairs that reach comparison (or an id rule)
    twin_pairs: int | None = None             # pairs of indexed twins in the truth
    twin_pairs_merged: int | None = None      # … of them in one predicted cluster
    homonym_pairs: int | None = None          # same name and birth date, other people
    homonym_pairs_merged: int | None = None
    clusters_two_deaths: int | None = None    # predicted clusters with two people's deaths
    clusters_two_sexes: int | None = None     # … with people of both sexes

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _pairs(counts: npt.NDArray[np.int64]) -> int:
    return int((counts * (counts - 1) // 2).sum())


def score(predicted: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> Scores:
    """Scores of record clusters ``predicted`` against true person ids ``truth`` (same
    order): pairs counted within clusters, without listing them."""
    _, pred_counts = np.unique(predicted, return_counts=True)
    _, true_counts = np.unique(truth, return_counts=True)
    joint = np.stack([predicted, truth], axis=1)
    cells, cell_counts = np.unique(joint, axis=0, return_counts=True)
    tp = _pairs(cell_counts)
    pp, tpairs = _pairs(pred_counts), _pairs(true_counts)
    precision = tp / pp if pp else 1.0
    recall = tp / tpairs if tpairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # exact clusters: a predicted cluster made of one true person, and all of them
    per_pred = dict(zip(*np.unique(predicted, return_counts=True), strict=True))
    per_true = dict(zip(*np.unique(truth, return_counts=True), strict=True))
    exact = sum(1 for (p, t), c in zip(cells.tolist(), cell_counts.tolist(), strict=True)
                if per_pred[p] == c and per_true[t] == c)
    return Scores(int(predicted.size), tpairs, pp, tp, round(precision, 6), round(recall, 6),
                  round(f1, 6), len(true_counts), len(pred_counts), exact)


def blocking_recall(table: pa.Table, truth: npt.NDArray[np.int64],
                    rules: Sequence[tuple[str, ...]]) -> float:
    """Share of the true pairs of ``table`` (standardised records; ``truth`` gives each
    row's true person) that reach comparison: equal, non-null values on every column of at
    least one of ``rules`` (the blocking rules and the identifier rules). It measures what
    scoring could at best find, apart from how well it scores."""
    columns = {c: table.column(c).to_pylist() for rule in rules for c in rule}
    order = np.argsort(truth, kind="stable")
    bounds = np.flatnonzero(np.diff(truth[order])) + 1
    total = reached = 0
    for members in np.split(order, bounds) if truth.size else []:
        rows = members.tolist()
        for k, i in enumerate(rows):
            for j in rows[k + 1:]:
                total += 1
                if any(all(columns[c][i] is not None and columns[c][i] == columns[c][j]
                           for c in rule) for rule in rules):
                    reached += 1
    return round(reached / total, 6) if total else 1.0


@dataclass(frozen=True)
class Hazards:
    twin_pairs: int
    twin_pairs_merged: int
    homonym_pairs: int
    homonym_pairs_merged: int
    clusters_two_deaths: int
    clusters_two_sexes: int


def _merged(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64],
            clusters_of: dict[int, set[int]]) -> int:
    return sum(1 for x, y in zip(a.tolist(), b.tolist(), strict=True)
               if clusters_of[x] & clusters_of[y])


def hazards(predicted: npt.NDArray[np.int64], truth: npt.NDArray[np.int64],
            death: npt.NDArray[np.bool_], people: pa.Table) -> Hazards:
    """The merges a patient index must not make, for records in predicted clusters
    ``predicted`` of true people ``truth`` (``death``: the record is a death record), with
    ``people`` the truth's people (person_id, name, birth_date, sex, mother_person_id):

    - twin pairs (same known mother and birth date) and homonym pairs (same name and
      birth date, other mothers) whose records share a predicted cluster;
    - predicted clusters holding the deaths of two true people, or true people of both
      sexes (in a cluster the linkage left as one person, not sent to review).
    """
    clusters_of: dict[int, set[int]] = {}
    for c, t in zip(predicted.tolist(), truth.tolist(), strict=True):
        clusters_of.setdefault(t, set()).add(c)
    person = people.column("person_id").to_numpy()
    present = np.isin(person, np.fromiter(clusters_of, dtype=np.int64, count=len(clusters_of)))
    person = person[present]
    mother = people.column("mother_person_id").to_numpy(zero_copy_only=False)[present]
    born = people.column("birth_date").cast(pa.int32()).to_numpy(zero_copy_only=False)[present]
    names = np.array(people.column("name").to_pylist(), dtype=object)[present]
    female = np.array(people.column("sex").to_pylist(), dtype=object)[present] == "F"

    def adjacent(keys: list[npt.NDArray[np.generic]], valid: npt.NDArray[np.bool_]
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        order = np.lexsort(keys)
        order = order[valid[order]]
        same = np.ones(max(order.size - 1, 0), dtype=np.bool_)
        for key in keys:
            ordered = key[order]
            same &= ordered[1:] == ordered[:-1]
        return person[order[:-1][same]], person[order[1:][same]]

    twin_a, twin_b = adjacent([born, mother], mother >= 0)
    hom_a, hom_b = adjacent([born, names], np.array([n is not None for n in names]))
    mother_of = dict(zip(person.tolist(), mother.tolist(), strict=True))
    other = np.array([mother_of[a] < 0 or mother_of[a] != mother_of[b]
                      for a, b in zip(hom_a.tolist(), hom_b.tolist(), strict=True)],
                     dtype=np.bool_)
    hom_a, hom_b = hom_a[other], hom_b[other]
    sex_of = dict(zip(person.tolist(), female.tolist(), strict=True))
    deaths: dict[int, set[int]] = {}
    sexes: dict[int, set[bool]] = {}
    for c, t, d in zip(predicted.tolist(), truth.tolist(), death.tolist(), strict=True):
        if d:
            deaths.setdefault(c, set()).add(t)
        if t in sex_of:
            sexes.setdefault(c, set()).add(sex_of[t])
    return Hazards(int(twin_a.size), _merged(twin_a, twin_b, clusters_of),
                   int(hom_a.size), _merged(hom_a, hom_b, clusters_of),
                   sum(1 for v in deaths.values() if len(v) > 1),
                   sum(1 for v in sexes.values() if len(v) > 1))
