"""Pairwise and cluster quality of a linkage against a ground truth."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Scores", "score"]


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

    def as_dict(self) -> dict[str, float | int]:
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
