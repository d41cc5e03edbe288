"""Pairwise and cluster quality of a linkage against a ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["Scores", "blocking_recall", "score"]


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
