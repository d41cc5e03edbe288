"""Person linkage: clusters, stable ids, quality on the synthetic state and on FEBRL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.linkage import evaluate_against_truth, link, record_review, score
from rmds.linkage.cluster import components, stable_ids
from rmds.linkage.model import predict
from rmds.linkage.prepare import febrl_table
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

FEBRL = Path(__file__).resolve().parents[3] / "shared" / "data" / "linkage" / "febrl"


def test_components_follow_chains_and_leave_singletons() -> None:
    labels = components(7, np.array([0, 1, 4]), np.array([1, 2, 5]))
    assert labels.tolist() == [0, 0, 0, 3, 4, 4, 6]


def test_stable_ids_keep_the_majority_id_and_give_new_ones_to_new_clusters() -> None:
    labels = np.array([0, 0, 0, 3, 3, 5])
    previous = np.array([10, 10, 11, 11, -1, -1])
    ids, next_id = stable_ids(labels, previous, 20)
    assert ids.tolist() == [10, 10, 10, 11, 11, 20]
    assert next_id == 21


def test_pair_scores_by_hand() -> None:
    # truth: {a,b,c} {d}; predicted: {a,b} {c,d} → true pairs 3, predicted 2, right 1
    s = score(np.array([1, 1, 2, 2]), np.array([7, 7, 7, 8]))
    assert (s.true_pairs, s.predicted_pairs, s.true_positive_pairs) == (3, 2, 1)
    assert s.precision == 0.5 and s.recall == pytest.approx(1 / 3, abs=1e-6)


def test_cli_evaluates_febrl_two_file_linkage_by_rec_id() -> None:
    result = CliRunner().invoke(cli, ["link", "evaluate", "--febrl",
                                      str(FEBRL / "dataset4a.csv"),
                                      str(FEBRL / "dataset4b.csv"), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["true_pairs"] == 5000 and scores["f1"] >= 0.99


def test_febrl_4a_4b_two_file_linkage_f1_above_099() -> None:
    a = febrl_table(FEBRL / "dataset4a.csv")
    b = febrl_table(FEBRL / "dataset4b.csv")
    b = b.set_column(b.column_names.index("uid"), "uid", pc.add(b.column("uid"), 100_000))
    pairs = predict([a, b], "febrl", threshold=0.999).pairs
    origin = {u: r.split("-")[1] for t in (a, b) for u, r in zip(
        t.column("uid").to_pylist(), t.column("rec_id").to_pylist(), strict=True)}
    predicted = {tuple(sorted(p)) for p in zip(pairs.column("uid_l").to_pylist(),
                                               pairs.column("uid_r").to_pylist(), strict=True)}
    right = sum(1 for left, other in predicted if origin[left] == origin[other])
    precision, recall = right / len(predicted), right / 5000
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.99, (precision, recall)


@pytest.fixture(scope="module")
def linked(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("link")
    state = generate(SynthConfig(0.003, (2023, 2024), 5, folder / "estado"), pack).out
    lake_path = folder / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state], pack)
        link(lake)
    return lake_path, state


def test_synthetic_state_links_with_f1_098_and_precision_099(linked: tuple[Path, Path]
                                                              ) -> None:
    lake_path, state = linked
    with Lake(lake_path, read_only=True) as lake:
        scores = evaluate_against_truth(lake, state / "verdade" / "registros.parquet")
        identity = int(lake.scalar("SELECT count(*) FROM identity_records"))
    # every identity record is in the truth; true records never indexed count as missed
    assert scores.records - scores.missing_records == identity
    # measured 0.976 (scale 0.003) and 0.978 (scale 0.01)
    assert scores.blocking_recall is not None and scores.blocking_recall >= 0.97
    assert scores.precision >= 0.99 and scores.f1 >= 0.98, scores


def test_relinking_without_new_data_changes_no_person_id(linked: tuple[Path, Path]) -> None:
    lake_path, _ = linked
    with Lake(lake_path) as lake:
        before = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
        summary = link(lake)
        after = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
    assert before == after
    assert summary.new_ids == 0 and summary.kept_ids == len(before)


def test_a_review_decision_is_respected_on_the_next_run(linked: tuple[Path, Path]) -> None:
    lake_path, _ = linked
    with Lake(lake_path) as lake:
        # split an accepted probabilistic pair: the analyst says they are different people
        row = lake.run("""
            SELECT a.record_uid, b.record_uid FROM person_links a JOIN person_links b
              ON a.person_id = b.person_id AND a.record_uid < b.record_uid
            JOIN persons p ON p.person_id = a.person_id
            WHERE a.rule = 'probabilistica' AND b.rule = 'probabilistica' AND p.records = 2
            LIMIT 1""")
        assert row
        left, right = row[0]
        record_review(lake, left, right, same=False, who="teste")
        link(lake)
        ids = dict(lake.run("SELECT record_uid, person_id FROM person_links WHERE "
                            "record_uid IN (?, ?)", [left, right]))
    assert ids[left] != ids[right]


def test_cli_link_evaluate_prints_the_scores(linked: tuple[Path, Path]) -> None:
    lake_path, state = linked
    result = CliRunner().invoke(cli, ["link", "--lake", str(lake_path), "evaluate",
                                      "--truth", str(state / "verdade" / "registros.parquet"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["f1"] >= 0.98


def test_adding_a_batch_changes_only_the_ids_it_must(pack: ReferencePack,
                                                     tmp_path: Path) -> None:
    state = generate(SynthConfig(0.002, (2023,), 8, tmp_path / "estado"), pack).out
    lake_path = tmp_path / "lago"
    later = state / "SIH" / "RDMG2312.dbc"
    first = [p for p in sorted((state / "SIH").glob("*.dbc")) if p != later]
    with Lake(lake_path) as lake:
        ingest(lake, [*first, state / "SIM", state / "SINASC", state / "PNI"], pack)
        link(lake)
        before = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
        ingest(lake, [later], pack)
        summary = link(lake)
        after = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
    assert len(after) > len(before) and summary.new_ids > 0
    changed = [uid for uid, pid in before.items() if after[uid] != pid]
    # an old record may only change id when its new cluster merged old clusters
    old_ids_by_new: dict[int, set[int]] = {}
    for uid, pid in before.items():
        old_ids_by_new.setdefault(after[uid], set()).add(pid)
    assert all(len(old_ids_by_new[after[uid]]) > 1 for uid in changed)
    assert len(changed) <= 0.01 * len(before)


def test_incremental_linking_scores_only_the_new_batch_and_keeps_ids(
        pack: ReferencePack, tmp_path: Path) -> None:
    state = generate(SynthConfig(0.002, (2023,), 9, tmp_path / "estado"), pack).out
    later = state / "SIH" / "RDMG2312.dbc"
    first = [p for p in sorted((state / "SIH").glob("*.dbc")) if p != later]
    sources = [*first, state / "SIM", state / "SINASC", state / "PNI"]
    incremental_lake, full_lake = tmp_path / "incremental", tmp_path / "full"
    for path in (incremental_lake, full_lake):
        with Lake(path) as lake:
            ingest(lake, sources, pack)
            link(lake)
            ingest(lake, [later], pack)
    with Lake(incremental_lake) as lake:
        before = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
        summary = link(lake, incremental=True)
        after = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
        scores = evaluate_against_truth(lake, state / "verdade" / "registros.parquet")
        added = int(lake.scalar("SELECT rows_read FROM batches WHERE file_name = ?",
                                [later.name]))
    with Lake(full_lake) as lake:
        link(lake)
        full = evaluate_against_truth(lake, state / "verdade" / "registros.parquet")
    assert summary.scored_records == added == len(after) - len(before)
    changed = [u for u, pid in before.items() if after[u] != pid]
    assert len(changed) <= 0.01 * len(before)
    assert scores.f1 >= full.f1 - 0.005 and scores.precision >= 0.99


def test_a_model_saved_on_duckdb_is_rendered_for_spark_with_its_parameters() -> None:
    from rmds.linkage.model import _for_dialect, _settings

    model = _settings("rmds", "dedupe_only").create_settings_dict("duckdb")
    model.update(sql_dialect="duckdb", probability_two_random_records_match=0.002)
    for k, level in enumerate(model["comparisons"][0]["comparison_levels"][1:]):
        level.update(m_probability=0.5 / (k + 1), u_probability=0.01 * (k + 1))
    spark = _for_dialect(model, "rmds", "spark")
    levels = spark["comparisons"][0]["comparison_levels"]
    assert spark["sql_dialect"] == "spark"
    assert spark["probability_two_random_records_match"] == 0.002
    assert "jaro_winkler(" in levels[2]["sql_condition"]          # Splink's jar on Spark
    assert "jaro_winkler_similarity" in (
        model["comparisons"][0]["comparison_levels"][2]["sql_condition"])
    assert [lv.get("m_probability") for lv in levels[1:]] == [0.5, 0.25, 0.5 / 3, 0.125]
    assert _for_dialect(model, "rmds", "duckdb") is model


def test_evaluating_a_lake_never_linked_says_so(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rmds.exceptions import ConfigurationError

    truth = tmp_path / "registros.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in
                             ("source", "file", "record", "role")}
                            | {"person_id": pa.array([], pa.int64())}), truth)
    with Lake(tmp_path / "lago") as lake, pytest.raises(ConfigurationError,
                                                         match="rmds link"):
        evaluate_against_truth(lake, truth)


def test_the_saved_model_scores_again_without_training(pack: ReferencePack,
                                                       tmp_path: Path) -> None:
    """``reuse_model``: the lake's model applied to every record again (what another
    engine does with it) gives the same persons and the same review queue, once, and
    leaves the model as it was; a lake never linked has no model to reuse."""
    from rmds.exceptions import ConfigurationError

    state = generate(SynthConfig(0.0005, (2023,), 4, tmp_path / "estado"), pack).out
    with Lake(tmp_path / "lago") as lake:
        ingest(lake, [state / "SIM", state / "SINASC", state / "PNI"], pack)
        with pytest.raises(ConfigurationError, match="nenhum modelo"):
            link(lake, reuse_model=True)
        link(lake)
        persons = dict(lake.run("SELECT record_uid, person_id FROM person_links"))
        queue = lake.run("SELECT * FROM link_review ORDER BY ALL")
        model = lake.run("SELECT saved_at, model FROM link_model")
        again = link(lake, reuse_model=True)
        assert again.scored_records == len(persons)
        assert dict(lake.run("SELECT record_uid, person_id FROM person_links")) == persons
        assert lake.run("SELECT * FROM link_review ORDER BY ALL") == queue
        assert lake.run("SELECT saved_at, model FROM link_model") == model


def test_the_review_queue_shows_first_what_a_decision_would_change(
        linked: tuple[Path, Path]) -> None:
    """Pending pairs only (a decided pair leaves the list), those in two different persons
    today before those already in one, each group by probability; counts by hand."""
    from rmds.linkage import pending_reviews

    lake_path, _ = linked
    with Lake(lake_path) as lake:
        rows = lake.run("""
            SELECT r.record_uid_l, r.record_uid_r, r.match_probability,
                   a.person_id <> b.person_id
            FROM link_review r JOIN person_links a ON a.record_uid = r.record_uid_l
            JOIN person_links b ON b.record_uid = r.record_uid_r""")
        undecided = [r for r in rows if not lake.run(
            "SELECT 1 FROM link_decisions WHERE record_uid_l IN (?, ?) AND "
            "record_uid_r IN (?, ?)", [r[0], r[1], r[0], r[1]])]
        apart = [r for r in undecided if r[3]]
        together = [r for r in undecided if not r[3]]
        assert apart and together          # the queue holds both kinds
        queue = pending_reviews(lake, limit=len(undecided))
        assert (queue.pending, queue.apart) == (len(undecided), len(apart))
        listed = queue.first
        assert [p.apart for p in listed] == [True] * len(apart) + [False] * len(together)
        assert [p.probability for p in listed[:len(apart)]] == sorted(
            (r[2] for r in apart), reverse=True)
        first = listed[0]
        record_review(lake, first.right, first.left, same=True, who="teste")
        after = pending_reviews(lake, limit=5)
    assert after.pending == queue.pending - 1 and after.decided == queue.decided + 1
    assert (first.left, first.right) not in {(p.left, p.right) for p in after.first}
    shown = CliRunner().invoke(cli, ["link", "--lake", str(lake_path), "review", "--limit",
                                     "3", "--json"])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    assert body["pendentes"] == after.pending and len(body["pares"]) == 3
