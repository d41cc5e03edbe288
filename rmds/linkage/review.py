"""The review queue: the uncertain pairs of the last linkage, and the decisions on them.

``rmds link`` leaves in ``link_review`` the pairs it could not settle (a probability
between the review and the acceptance thresholds, or above acceptance but refused by a
conflict such as two CNS). At state scale that is about a million pairs, and some of
them are already in one person through other records: a decision on those changes
nothing. :func:`pending_reviews` lists what a reviewer should look at first: the pairs
not yet decided, those that today sit in **two different persons** (a "same" decision
would join them) before those already joined, each group by probability, highest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rmds.lake.store import Lake

__all__ = ["PendingReviews", "ReviewPair", "pending_reviews", "record_review"]

_PENDING_SQL = """
    WITH pending AS (
      SELECT r.record_uid_l, r.record_uid_r, r.match_probability,
             coalesce(a.person_id <> b.person_id, TRUE) AS apart
      FROM link_review r
      LEFT JOIN person_links a ON a.record_uid = r.record_uid_l
      LEFT JOIN person_links b ON b.record_uid = r.record_uid_r
      WHERE NOT EXISTS (
        SELECT 1 FROM link_decisions d
        WHERE (d.record_uid_l = r.record_uid_l AND d.record_uid_r = r.record_uid_r)
           OR (d.record_uid_l = r.record_uid_r AND d.record_uid_r = r.record_uid_l)))"""


@dataclass(frozen=True)
class ReviewPair:
    left: str
    right: str
    probability: float
    apart: bool               # in two different persons today: a decision would change them


@dataclass(frozen=True)
class PendingReviews:
    pending: int              # pairs in the queue without a decision
    apart: int                # of those, in two different persons today
    decided: int              # decisions recorded (respected by the next linkage)
    first: list[ReviewPair]   # the first ``limit`` to look at


def record_review(lake: Lake, uid_l: str, uid_r: str, same: bool, who: str) -> None:
    """Record a person's decision on a pair; the next ``link`` respects it."""
    from rmds.linkage.run import _ensure

    _ensure(lake)
    lake.run("INSERT INTO link_decisions VALUES (?, ?, ?, ?, ?)",
             [uid_l, uid_r, same, who, dt.datetime.now()])


def pending_reviews(lake: Lake, limit: int = 20) -> PendingReviews:
    """The queue without the pairs already decided, the ones a decision would change
    first (see the module's docstring)."""
    tables = set(lake.table_names())
    if not {"link_review", "link_decisions", "person_links"} <= tables:
        return PendingReviews(0, 0, 0, [])
    counts = lake.run(_PENDING_SQL + " SELECT count(*), count(*) FILTER (WHERE apart) "
                      "FROM pending")[0]
    decided = lake.run("SELECT count(*) FROM link_decisions")[0][0]
    rows = lake.run(_PENDING_SQL + " SELECT * FROM pending ORDER BY apart DESC, "
                    "match_probability DESC, record_uid_l, record_uid_r LIMIT ?",
                    [int(limit)])
    return PendingReviews(int(counts[0]), int(counts[1]), int(decided),
                          [ReviewPair(str(a), str(b), float(p), bool(apart))
                           for a, b, p, apart in rows])
