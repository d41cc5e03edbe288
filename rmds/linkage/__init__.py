"""Person linkage: a master patient index over every source in the lake."""

from rmds.linkage.evaluate import Scores, score
from rmds.linkage.run import (
                              LinkSummary,
                              evaluate_against_truth,
                              evaluate_febrl,
                              link,
                              record_review,
)

__all__ = ["LinkSummary", "Scores", "evaluate_against_truth", "evaluate_febrl", "link",
           "record_review", "score"]
