"""``rmds link``: who is who across every source in the lake.

1. Identity records are standardised (:mod:`rmds.linkage.prepare`).
2. Deterministic rule: records sharing a valid CPF, then a valid CNS, are the same person
   unless they are certainly different people (:func:`rmds.linkage.integrity.conflicts`:
   one is the other's mother, birth dates years apart, different sex and first name,
   twins); such an identifier is shared (a mother's CNS on her baby's record) and counted
   in ``shared_identifier_pairs``.
3. Probabilistic matching with Splink on names, mother's name, birth date, sex,
   municipality and CEP; pairs at or above ``accept`` are linked, pairs between ``review``
   and ``accept`` go to the review queue (``rmds link review``), where a decision recorded
   by a person is respected on the next run.
   Scored pairs between certainly different people are refused and queued for review, as
   are those of a birth record of same-sex twins (either twin's; ``indistinct_births``).
4. Clusters are the connected components of the links; a cluster holding two deaths or
   both sexes loses its scored links (to review), then its identifier links, and is
   clustered again. Each cluster gets a stable ``person_id``
   (a cluster keeps the id most of its records had).

``incremental=True`` links only the records not yet in the index: new × new and
new × indexed pairs are scored with the model saved by the last full run (no retraining,
never indexed × indexed), indexed records stay tied to their persons, and a person id
changes only where a new record merges two persons.

``engine="spark"`` standardises and runs Splink on Spark instead of DuckDB (the same SQL
and the same model declaration; ``tests/engine/test_linkage_parity.py`` checks that both
engines find the same persons).

Results live in the lake: ``person_links`` (record → person, rule, probability),
``persons`` and ``link_review``. The identifying fields stay in ``identity_records``;
everything downstream uses ``person_id``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rmds.engine import ENGINES, Engine
from rmds.engine.duck import DuckDBEngine
from rmds.engine.sql import ident
from rmds.exceptions import ConfigurationError
from rmds.lake.store import Lake, fetch_arrow
from rmds.linkage.cluster import components, stable_ids
from rmds.linkage.evaluate import Scores, score
from rmds.linkage.integrity import (
    ambiguous_births,
    conflicts,
    first_names,
    indistinct_births,
    split_impossible,
    twin_signatures,
)
from rmds.linkage.model import bounded_duckdb, predict, predict_with
from rmds.linkage.prepare import standardise
from rmds.schema.keys import RECORD_UID as RECORD_UID_SQL

__all__ = ["LinkSummary", "evaluate_against_truth", "evaluate_febrl", "link",
           "standardised_identity"]

LINK_TABLES = {
    "person_links": "record_uid VARCHAR, person_id BIGINT, source_system VARCHAR, "
                    "batch_id BIGINT, rule VARCHAR, match_probability DOUBLE",
    "persons": "person_id BIGINT, records BIGINT, systems VARCHAR",
    "link_review": "record_uid_l VARCHAR, record_uid_r VARCHAR, match_probability DOUBLE, "
                   "match_weight DOUBLE",
    "link_decisions": "record_uid_l VARCHAR, record_uid_r VARCHAR, same_person BOOLEAN, "
                      "decided_by VARCHAR, decided_at TIMESTAMP",
    "link_model": "saved_at TIMESTAMP, model VARCHAR",
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
    scored_records: int = 0       # records whose pairs were scored in this run
    shared_identifier_pairs: int = 0  # CNS/CPF pairs refused: the number is someone else's


def _ensure(lake: Lake) -> None:
    for name, columns_sql in LINK_TABLES.items():
        lake.run(f"CREATE TABLE IF NOT EXISTS {ident(name)} ({columns_sql})")


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


def identifier_edges(table: pa.Table, column: str
                     ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Links between records sharing a valid ``column`` (CNS or CPF), and how many records
    were refused by the first record of their group. A shared identifier is evidence, not a
    verdict: a pair of certain strangers (:func:`conflicts`: a mother's CNS on her baby's
    record, a relative's number) is not linked, and the refused records are grouped again
    among themselves (the mother's own records still link to each other whoever came
    first)."""
    left, right = _edges_sharing(table, column)
    out_l, out_r = [], []
    refused_first = -1
    while left.size:
        bad = conflicts(table, left, right)
        if refused_first < 0:
            refused_first = int(bad.sum())
        out_l.append(left[~bad])
        out_r.append(right[~bad])
        if not bad.any():
            break
        heads, rest = left[bad], right[bad]
        order = np.lexsort((rest, heads))
        heads, rest = heads[order], rest[order]
        first = np.r_[True, heads[1:] != heads[:-1]]
        new_head = rest[first][np.cumsum(first) - 1]
        left, right = new_head[~first], rest[~first]
    if not out_l:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    return (np.concatenate(out_l).astype(np.int64), np.concatenate(out_r).astype(np.int64),
            max(refused_first, 0))


def _engine(kind: str) -> Engine:
    """An engine of its own for the linkage input (not the lake's connection), other than
    DuckDB (:func:`standardised_identity` opens a bounded one)."""
    if kind == "spark":
        from rmds.engine.spark import SparkEngine

        return SparkEngine()
    raise ConfigurationError(f"motor desconhecido {kind!r}; conhecidos: {', '.join(ENGINES)}")


def standardised_identity(lake: Lake, engine: str = "duckdb") -> tuple[pa.Table, pa.Table]:
    """The lake's identity records as read (with their source system and batch) and
    standardised for linkage on ``engine``: the one input of the linkage, its evaluation
    and its benchmark."""
    source = fetch_arrow(lake.con, f"""
        SELECT {RECORD_UID_SQL} AS record_uid, name, mother_name, birth_date, sex,
               residence_municipality, cep, cns, cpf, source_system, batch_id
        FROM identity_records""")
    if engine == "duckdb":
        # bounded, spilling beyond 4 GB: unbounded, the sorts of the standardisation took
        # ~12 GB at state scale, which the process then kept for the rest of the linkage
        with bounded_duckdb() as con:
            runner: Engine = DuckDBEngine(con)
            try:
                return source, standardise(runner, source)
            finally:
                runner.close()
    runner = _engine(engine)
    try:
        table = standardise(runner, source)
    finally:
        runner.close()
    return source, table


def link(lake: Lake, *, accept: float = 0.999, review: float = 0.5,
         incremental: bool = False, engine: str = "duckdb",
         reuse_model: bool = False) -> LinkSummary:
    """Link every identity record of the lake to a person (see the module's docstring).
    ``engine`` (``"duckdb"``, the default, or ``"spark"``) computes the standardised input
    and runs Splink; the rule on CNS/CPF, the clusters and the ids are the same code on
    both, and the results are written into the lake either way. ``reuse_model`` scores
    every record again with the lake's last trained model instead of training a new one:
    one model, whatever engine applies it (a model trained on one engine gives the same
    probabilities on the other to ~1e-6), so two engines, or two runs, differ only by the
    data."""
    _ensure(lake)
    source, table = standardised_identity(lake, engine)
    # one order of records whatever the engine: positions index the pairs, and ties
    # between equal scores are broken by position
    table = table.sort_by("record_uid")
    n = table.num_rows
    # each record's system and batch, in the same order; the raw names and addresses are
    # let go here (at state scale they, and a dictionary of this, held ~3.5 GB)
    origin = source.select(["record_uid", "source_system", "batch_id"]).sort_by("record_uid")
    del source
    if not origin.column("record_uid").equals(table.column("record_uid")):
        raise RuntimeError("a padronização da vinculação perdeu ou repetiu registros")
    det_left, det_right = [], []
    shared = 0
    for column in ("cpf", "cns"):  # CPF first (Lei 14.534/2023), then CNS
        left, right, refused_ids = identifier_edges(table, column)
        shared += refused_ids
        det_left.append(left)
        det_right.append(right)
    record_uid = np.array(table.column("record_uid").to_pylist(), dtype=object)
    previous_map = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
    previous = np.array([previous_map.get(u, -1) for u in record_uid], dtype=np.int64)
    saved = lake.scalar("SELECT model FROM link_model ORDER BY saved_at DESC LIMIT 1")
    model: dict[str, Any] | None = None
    if reuse_model and saved is None:
        raise ConfigurationError("nenhum modelo de vinculação treinado neste lago: rode "
                                 "'rmds link' sem --reuse-model uma vez")
    if reuse_model and not incremental:
        pairs = predict_with(json.loads(saved), table, None, review, engine=engine)
        scored = n
    elif incremental and saved is not None and previous_map:
        fresh = previous < 0
        pairs = predict_with(json.loads(saved), table.filter(pa.array(fresh)),
                             table.filter(pa.array(~fresh)), review, engine=engine)
        # indexed records stay tied to their persons; new edges may only add to that
        tied = pa.array(previous, pa.int64(), mask=fresh).cast(pa.string())
        tie_l, tie_r = _edges_sharing(table.append_column("previous_person", tied),
                                      "previous_person")
        det_left.append(tie_l)
        det_right.append(tie_r)
        scored = int(fresh.sum())
    else:
        prediction = predict([table], "rmds", threshold=review, engine=engine)
        pairs, model, scored = prediction.pairs, prediction.model, n
    # the pairs in one canonical order (smaller record first, sorted), whatever order the
    # engine returned them in: where later steps break ties between equal scores, the
    # persons must not depend on the engine (Spark and DuckDB return rows differently)
    raw_l = pairs.column("uid_l").to_numpy() - 1
    raw_r = pairs.column("uid_r").to_numpy() - 1
    order = np.lexsort((np.maximum(raw_l, raw_r), np.minimum(raw_l, raw_r)))
    pairs = pairs.take(pa.array(order))
    uid_l, uid_r = np.minimum(raw_l, raw_r)[order], np.maximum(raw_l, raw_r)[order]
    prob = pairs.column("match_probability").to_numpy()
    decisions = lake.run("SELECT record_uid_l, record_uid_r, same_person FROM link_decisions")
    accepted = prob >= accept
    refused = np.zeros(prob.size, dtype=np.bool_)
    undecided = np.ones(prob.size, dtype=np.bool_)
    forced: list[tuple[int, int]] = []
    if decisions:  # a person's decisions override the model, pair by pair
        wanted = {u for a, b, _ in decisions for u in (a, b)}
        index = {u: i for i, u in enumerate(record_uid) if u in wanted}
        keys = np.minimum(uid_l, uid_r) * n + np.maximum(uid_l, uid_r)
        same_keys: list[int] = []
        different_keys: list[int] = []
        for a, b, same in decisions:
            if a in index and b in index:
                i, j = sorted((index[a], index[b]))
                (same_keys if same else different_keys).append(i * n + j)
                if same:
                    forced.append((i, j))
        refused = np.isin(keys, np.array(different_keys, dtype=np.int64))
        undecided = ~np.isin(keys, np.array(same_keys + different_keys, dtype=np.int64))
    accepted &= ~refused
    # a high score between certain strangers (twins, homonyms, mother and child) is refused
    # and left to a person's review
    accepted &= ~(conflicts(table, uid_l, uid_r) & undecided)
    # a birth record of same-sex twins may be either twin's: left to a person's review
    names = first_names(table)
    newborn = np.array([u.startswith("SINASC|") and u.endswith("|recem_nascido")
                        for u in record_uid], dtype=np.bool_)
    signatures = twin_signatures(table, names)
    nameless_birth = newborn & np.array([f is None for f in names], dtype=np.bool_)
    twin_birth = indistinct_births(table) | ambiguous_births(
        nameless_birth, uid_l[accepted], uid_r[accepted], signatures)
    accepted &= ~((twin_birth[uid_l] | twin_birth[uid_r]) & undecided)
    death = np.array([u.endswith("|falecido") for u in record_uid], dtype=np.bool_)
    sexes = np.array(table.column("sex").to_pylist(), dtype=object)
    forced_l = np.array([i for i, _ in forced], dtype=np.int64)
    forced_r = np.array([j for _, j in forced], dtype=np.int64)

    def cluster() -> npt.NDArray[np.int64]:
        left = np.concatenate([*det_left, uid_l[accepted], forced_l])
        right = np.concatenate([*det_right, uid_r[accepted], forced_r])
        return components(n, left.astype(np.int64), right.astype(np.int64))

    labels = cluster()
    # cluster integrity: two deaths, two birth records, both sexes or first names clearly
    # apart (twins joined through their nameless birth records) cannot be one person; such
    # a cluster is rebuilt from its strongest links, and the links that would make it
    # impossible go to review (scored) or are counted as a shared identifier (CNS/CPF)
    det_sizes = [a.size for a in det_left]
    all_l = np.concatenate([*det_left, uid_l, forced_l]).astype(np.int64)
    all_r = np.concatenate([*det_right, uid_r, forced_r]).astype(np.int64)
    weight = np.concatenate([np.full(sum(det_sizes), 2.0),
                             np.where(accepted, prob, -1.0), np.full(forced_l.size, 3.0)])
    usable = weight >= 0
    labels, refused_edge = split_impossible(
        labels, all_l[usable], all_r[usable], weight[usable], names, sexes, death, newborn,
        signatures)
    if refused_edge.any():
        refused_all = np.zeros(weight.size, dtype=np.bool_)
        refused_all[np.flatnonzero(usable)] = refused_edge
        bounds = np.cumsum([0, *det_sizes])
        for k in range(len(det_left)):
            keep = ~refused_all[bounds[k]:bounds[k + 1]]
            shared += int((~keep).sum())
            det_left[k], det_right[k] = det_left[k][keep], det_right[k][keep]
        accepted &= ~refused_all[bounds[-1]:bounds[-1] + uid_l.size]
        labels = cluster()
    queue = ~accepted & undecided
    # the best probability and the rule that linked each record
    best = np.zeros(n)
    np.maximum.at(best, uid_l[accepted], prob[accepted])
    np.maximum.at(best, uid_r[accepted], prob[accepted])
    rule = np.full(n, "sozinho", dtype=object)
    rule[uid_l[accepted]] = "probabilistica"
    rule[uid_r[accepted]] = "probabilistica"
    for l_, r_, name in zip(det_left[:2], det_right[:2], ("cpf", "cns"), strict=True):
        rule[l_] = name
        rule[r_] = name
    # records not touched by this run keep how they were linked before
    old = {u: (r, p) for u, r, p in lake.run(
        "SELECT record_uid, rule, match_probability FROM person_links")}
    for i in np.flatnonzero((rule == "sozinho") & (previous >= 0)).tolist():
        rule[i], best[i] = old[record_uid[i]][0], old[record_uid[i]][1] or 0.0
    start = int(lake.scalar("SELECT coalesce(max(person_id), 0) + 1 FROM persons") or 1)
    person, _ = stable_ids(labels, previous, start)
    kept = int(((previous >= 0) & (person == previous)).sum())
    full = model is not None or (reuse_model and not incremental)
    lake.run("BEGIN TRANSACTION")
    try:
        lake.run("DELETE FROM person_links")
        lake.run("DELETE FROM persons")
        if full:  # a full run replaces the queue (and a trained model the model)
            lake.run("DELETE FROM link_review")
        if model is not None:
            lake.run("DELETE FROM link_model")
            lake.run("INSERT INTO link_model VALUES (?, ?)",
                     [dt.datetime.now(), json.dumps(model)])
        links = pa.table({
            "record_uid": pa.array(record_uid.tolist(), pa.string()),
            "person_id": pa.array(person),
            "source_system": origin.column("source_system").cast(pa.string()),
            "batch_id": origin.column("batch_id").cast(pa.int64()),
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
        lake.commit("vinculação", registros=n, pessoas=int(np.unique(person).size),
                    completa=full)
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return LinkSummary(n, int(np.unique(person).size),
                       int(sum(x.size for x in det_left[:2])), int(accepted.sum()),
                       int(queue.sum()), kept, int(np.unique(person[person >= start]).size),
                       scored, shared)


def evaluate_against_truth(lake: Lake, truth_path: Path) -> Scores:
    """Scores of ``person_links`` against a synthetic truth (``verdade/registros.parquet``:
    source, file, record, role, person_id). A true record that never reached the index
    (quarantined, never loaded) counts as missed: a person of its own
    (``missing_records``); records absent from the truth are left out. ``blocking_recall``
    is the share of true pairs among indexed records that reach comparison (a blocking rule
    or a shared CNS/CPF), apart from how well they are then scored."""
    import pyarrow.parquet as pq

    from rmds.linkage.evaluate import blocking_recall, hazards
    from rmds.linkage.model import BLOCKING

    if "person_links" not in lake.table_names() or not lake.scalar(
            "SELECT count(*) FROM person_links"):
        raise ConfigurationError(
            f"o lago {lake.path} ainda não foi vinculado: rode 'rmds link' antes de avaliar")
    truth = pq.read_table(truth_path, columns=["source", "file", "record", "role",
                                                "person_id"])
    con = lake.con
    con.register("truth", truth)
    try:
        # a true record is missed when no file's copy of it reached the index: a FHIR
        # resource repeated in several bundles is indexed once, from one of them
        rows = lake.run("""
            WITH indexed AS (
              SELECT DISTINCT split_part(record_uid, '|', 1) AS source,
                     split_part(record_uid, '|', 3) AS record,
                     split_part(record_uid, '|', 4) AS role FROM person_links)
            SELECT l.person_id, t.person_id, l.record_uid
            FROM truth t
            LEFT JOIN person_links l ON l.record_uid = t.source || '|' ||
                 regexp_extract(t.file, '[^/]+$') || '|' || t.record || '|' || t.role
            WHERE l.record_uid IS NOT NULL OR NOT EXISTS (
              SELECT 1 FROM indexed i WHERE i.source = t.source AND i.record = t.record
                AND i.role = t.role)""")
    finally:
        con.unregister("truth")
    missing = sum(1 for r in rows if r[0] is None)
    predicted = np.array([r[0] if r[0] is not None else -1 - k
                          for k, r in enumerate(rows)], dtype=np.int64)
    actual = np.array([r[1] for r in rows], dtype=np.int64)
    scores = score(predicted, actual)
    true_of = {r[2]: r[1] for r in rows if r[2] is not None}
    _, table = standardised_identity(lake)
    indexed = pa.array([u in true_of for u in table.column("record_uid").to_pylist()])
    table = table.filter(indexed)
    ids = np.array([true_of[u] for u in table.column("record_uid").to_pylist()],
                   dtype=np.int64)
    recall = blocking_recall(table, ids, [*BLOCKING, ("cns",), ("cpf",)])
    people_path = truth_path.with_name("pessoas.parquet")
    extra: dict[str, int] = {}
    if people_path.exists():  # the synthetic state's people: twins, homonyms, deaths
        found = [r for r in rows if r[0] is not None]
        people = pq.read_table(people_path, columns=["person_id", "name", "birth_date",
                                                     "sex", "mother_person_id"])
        extra = dataclasses.asdict(hazards(
            np.array([r[0] for r in found], dtype=np.int64),
            np.array([r[1] for r in found], dtype=np.int64),
            np.array([r[2].endswith("|falecido") for r in found], dtype=np.bool_), people))
    return dataclasses.replace(scores, missing_records=missing, blocking_recall=recall,
                               **extra)


def evaluate_febrl(first: Path, second: Path, accept: float = 0.999) -> Scores:
    """Two-file linkage of FEBRL files (e.g. ``dataset4a.csv`` and ``dataset4b.csv``) with
    the FEBRL profile, scored against the truth in ``rec_id`` (``rec-N-org`` and
    ``rec-N-dup-k`` are the same person N)."""
    from rmds.linkage.prepare import febrl_table

    a, b = febrl_table(first), febrl_table(second)
    offset = a.num_rows
    b = b.set_column(b.column_names.index("uid"), "uid", pc.add(b.column("uid"), offset))
    pairs = predict([a, b], "febrl", threshold=accept).pairs
    n = a.num_rows + b.num_rows
    labels = components(n, pairs.column("uid_l").to_numpy() - 1,
                        pairs.column("uid_r").to_numpy() - 1)
    rec_ids = a.column("rec_id").to_pylist() + b.column("rec_id").to_pylist()
    truth = np.array([int(str(r).split("-")[1]) for r in rec_ids], dtype=np.int64)
    return score(labels, truth)
