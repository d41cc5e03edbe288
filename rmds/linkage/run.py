"""``rmds link``: who is who across every source in the lake.

1. Identity records are standardised (:mod:`rmds.linkage.prepare`).
2. Deterministic rule: records sharing a valid CNS or a valid CPF are the same person.
3. Probabilistic matching with Splink on names, mother's name, birth date, sex,
   municipality and CEP; pairs at or above ``accept`` are linked, pairs between ``review``
   and ``accept`` go to the review queue (``rmds link review``), where a decision recorded
   by a person is respected on the next run.
4. Clusters are the connected components of the links; each gets a stable ``person_id``
   (a cluster keeps the id most of its records had).

Results live in the lake: ``person_links`` (record → person, rule, probability),
``persons`` and ``link_review``. The identifying fields stay in ``identity_records``;
everything downstream uses ``person_id``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rmds.lake.store import Lake, fetch_arrow
from rmds.linkage.cluster import components, stable_ids
from rmds.linkage.evaluate import Scores, score
from rmds.linkage.model import predict
from rmds.linkage.prepare import standardise

__all__ = ["LinkSummary", "evaluate_against_truth", "link", "record_review"]

RECORD_UID = ("source_system || '|' || source_file || '|' || coalesce(record_key, "
              "CAST(source_row AS VARCHAR)) || '|' || role")
LINK_TABLES = {
    "person_links": "record_uid VARCHAR PRIMARY KEY, person_id BIGINT, source_system VARCHAR, "
                    "batch_id BIGINT, rule VARCHAR, match_probability DOUBLE",
    "persons": "person_id BIGINT PRIMARY KEY, records BIGINT, systems VARCHAR",
    "link_review": "record_uid_l VARCHAR, record_uid_r VARCHAR, match_probability DOUBLE, "
                   "match_weight DOUBLE",
    "link_decisions": "record_uid_l VARCHAR, record_uid_r VARCHAR, same_person BOOLEAN, "
                      "decided_by VARCHAR, decided_at TIMESTAMP",
}


@dataclass
class LinkSummary:
    records: int
    persons: int
    deterministic_links: int
    probabilistic_links: int
    review_pairs: int
    kept_ids: int
    new_ids: int


def _ensure(lake: Lake) -> None:
    for name, columns in LINK_TABLES.items():
        lake.run(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")


def _edges_sharing(table: pa.Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    values = table.column(column)
    uids = table.column("uid").to_numpy() - 1
    present = pc.is_valid(values).to_numpy(zero_copy_only=False)
    if not present.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    keys = pc.dictionary_encode(values.filter(pa.array(present))).combine_chunks().indices
    codes = np.asarray(keys.to_numpy(zero_copy_only=False), dtype=np.int64)
    members = uids[present]
    order = np.argsort(codes, kind="stable")
    codes, members = codes[order], members[order]
    first = np.r_[0, np.flatnonzero(np.diff(codes)) + 1]
    head = np.repeat(members[first], np.diff(np.r_[first, codes.size]))
    keep = head != members
    return head[keep], members[keep]


def link(lake: Lake, *, accept: float = 0.999, review: float = 0.5) -> LinkSummary:
    _ensure(lake)
    source = fetch_arrow(lake.con, f"""
        SELECT {RECORD_UID} AS record_uid, name, mother_name, birth_date, sex,
               residence_municipality, cep, cns, cpf, source_system, batch_id
        FROM identity_records""")
    con = duckdb.connect()
    table = standardise(con, source)
    con.close()
    n = table.num_rows
    meta = {u: (s, b) for u, s, b in zip(source.column("record_uid").to_pylist(),
                                         source.column("source_system").to_pylist(),
                                         source.column("batch_id").to_pylist(), strict=True)}
    det_left, det_right, rules = [], [], []
    for column in ("cns", "cpf"):
        left, right = _edges_sharing(table, column)
        det_left.append(left)
        det_right.append(right)
        rules.append(np.full(left.size, column))
    pairs = predict([table], "rmds", threshold=review).pairs
    uid_l = pairs.column("uid_l").to_numpy() - 1
    uid_r = pairs.column("uid_r").to_numpy() - 1
    prob = pairs.column("match_probability").to_numpy()
    record_uid = np.array(table.column("record_uid").to_pylist(), dtype=object)
    decisions = {(a, b): same for a, b, same in lake.run(
        "SELECT record_uid_l, record_uid_r, same_person FROM link_decisions")}

    def decided(i: int, j: int) -> bool | None:
        a, b = record_uid[i], record_uid[j]
        return decisions.get((a, b), decisions.get((b, a)))

    accepted = prob >= accept
    forced_same = [(i, j) for i, j in zip(uid_l[~accepted], uid_r[~accepted], strict=True)
                   if decided(i, j) is True]
    refused = np.array([decided(i, j) is False for i, j in zip(uid_l, uid_r, strict=True)],
                       dtype=np.bool_)
    accepted &= ~refused
    queue = ~accepted & ~refused & np.array(
        [decided(i, j) is None for i, j in zip(uid_l, uid_r, strict=True)], dtype=np.bool_)
    left = np.concatenate([*det_left, uid_l[accepted],
                           np.array([i for i, _ in forced_same], dtype=np.int64)])
    right = np.concatenate([*det_right, uid_r[accepted],
                            np.array([j for _, j in forced_same], dtype=np.int64)])
    labels = components(n, left.astype(np.int64), right.astype(np.int64))
    # the best probability and the rule that linked each record
    best = np.zeros(n)
    np.maximum.at(best, uid_l[accepted], prob[accepted])
    np.maximum.at(best, uid_r[accepted], prob[accepted])
    rule = np.full(n, "sozinho", dtype=object)
    rule[uid_l[accepted]] = "probabilistica"
    rule[uid_r[accepted]] = "probabilistica"
    for l_, r_, name in zip(det_left, det_right, ("cns", "cpf"), strict=True):
        rule[l_] = name
        rule[r_] = name
    previous_map = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
    previous = np.array([previous_map.get(u, -1) for u in record_uid], dtype=np.int64)
    start = int(lake.scalar("SELECT coalesce(max(person_id), 0) + 1 FROM persons") or 1)
    person, _ = stable_ids(labels, previous, start)
    kept = int(((previous >= 0) & (person == previous)).sum())
    lake.run("BEGIN TRANSACTION")
    try:
        lake.run("DELETE FROM person_links")
        lake.run("DELETE FROM persons")
        lake.run("DELETE FROM link_review")
        links = pa.table({
            "record_uid": pa.array(record_uid.tolist(), pa.string()),
            "person_id": pa.array(person),
            "source_system": pa.array([meta[u][0] for u in record_uid]),
            "batch_id": pa.array([meta[u][1] for u in record_uid], pa.int64()),
            "rule": pa.array(rule.tolist(), pa.string()),
            "match_probability": pa.array(np.where(rule == "sozinho", np.nan,
                                                   np.where(np.isin(rule, ["cns", "cpf"]),
                                                            1.0, best))),
        })
        lake.insert("person_links", links)
        lake.run("""INSERT INTO persons SELECT person_id, count(*),
                    string_agg(DISTINCT source_system, ',' ORDER BY source_system)
                    FROM person_links GROUP BY person_id""")
        review_rows = pa.table({
            "record_uid_l": pa.array(record_uid[uid_l[queue]].tolist(), pa.string()),
            "record_uid_r": pa.array(record_uid[uid_r[queue]].tolist(), pa.string()),
            "match_probability": pa.array(prob[queue]),
            "match_weight": pairs.column("match_weight").filter(pa.array(queue)),
        })
        lake.insert("link_review", review_rows)
        lake.run("COMMIT")
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return LinkSummary(n, int(np.unique(person).size), int(sum(x.size for x in det_left)),
                       int(accepted.sum()), int(queue.sum()), kept,
                       int(np.unique(person[person >= start]).size))


def record_review(lake: Lake, uid_l: str, uid_r: str, same: bool, who: str) -> None:
    """Record a person's decision on a pair; the next ``link`` respects it."""
    _ensure(lake)
    lake.run("INSERT INTO link_decisions VALUES (?, ?, ?, ?, ?)",
             [uid_l, uid_r, same, who, dt.datetime.now()])


def evaluate_against_truth(lake: Lake, truth_path: Path) -> Scores:
    """Scores of ``person_links`` against a synthetic truth (``verdade/registros.parquet``:
    source, file, record, role, person_id). Records absent from the truth are left out."""
    import pyarrow.parquet as pq

    truth = pq.read_table(truth_path, columns=["source", "file", "record", "role",
                                                "person_id"])
    con = lake.con
    con.register("truth", truth)
    try:
        rows = lake.run("""
            SELECT l.person_id, t.person_id
            FROM person_links l
            JOIN truth t ON l.record_uid = t.source || '|' ||
                 regexp_extract(t.file, '[^/]+$') || '|' || t.record || '|' || t.role""")
    finally:
        con.unregister("truth")
    predicted = np.array([r[0] for r in rows], dtype=np.int64)
    actual = np.array([r[1] for r in rows], dtype=np.int64)
    return score(predicted, actual)
