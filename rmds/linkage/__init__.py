"""Person linkage: a master patient index over every source in the lake."""

from rmds.linkage.evaluate import Scores, score
from rmds.linkage.review import PendingReviews, ReviewPair, pending_reviews, record_review
from rmds.linkage.run import (
                              LinkSummary,
                              evaluate_against_truth,
                              evaluate_febrl,
                              link,
)

__all__ = ["LinkSummary", "PendingReviews", "ReviewPair", "Scores", "evaluate_against_truth",
           "evaluate_febrl", "link", "pending_reviews", "record_review", "score"]
