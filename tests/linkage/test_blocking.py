import pyarrow as pa
import pytest

from rmds.linkage.blocking import count_comparisons, extrapolate


def test_pairs_per_rule_are_counted_from_block_sizes() -> None:
    # blocks on (a, b): (x,1)×3 → 3 pairs, (y,1)×2 → 1 pair, (x,2)×1 → 0; the null row
    # joins no block
    table = pa.table({"a": ["x", "x", "x", "y", "y", "x", None],
                      "b": [1, 1, 1, 1, 1, 2, 1]})
    by_ab, by_b = count_comparisons(table, [("a", "b"), ("b",)])
    assert (by_ab.pairs, by_ab.largest_block) == (4, 3)
    # on b alone: six rows with 1 → 15 pairs, one with 2 → 0
    assert (by_b.pairs, by_b.largest_block) == (15, 6)
    assert by_b.per_record == pytest.approx(15 / 7)
    assert by_ab.label() == "a + b"


def test_chance_pairs_grow_with_the_population_and_true_ones_do_not() -> None:
    table = pa.table({"a": ["x"] * 4})
    (count,) = count_comparisons(table, [("a",)])   # 6 pairs, 1.5 per record
    # 0.5 of them are the record's own; the other 1.0 grows tenfold
    assert extrapolate(count, 0.1, 1.0, matches_per_record=0.5) == pytest.approx(10.5)


def test_hazards_count_merged_twins_homonyms_and_impossible_clusters() -> None:
    import datetime as dt

    import numpy as np

    from rmds.linkage.evaluate import hazards

    day = dt.date(2023, 5, 1)
    people = pa.table({
        "person_id": [1, 2, 3, 4, 5, 6],
        "name": ["ANA LIMA", "BRUNO LIMA", "JOSE SILVA", "JOSE SILVA", "RITA REIS",
                 "JOSE SILVA"],
        "birth_date": [day, day, dt.date(1970, 1, 2), dt.date(1970, 1, 2),
                       dt.date(1950, 3, 3), dt.date(1971, 1, 2)],
        "sex": ["F", "M", "M", "M", "F", "M"],
        "mother_person_id": [9, 9, -1, -1, -1, -1]})
    # records: twins 1 and 2 in cluster 10 with 5's death; homonyms 3 and 4 apart;
    # 6 (same name, other birth date) is no homonym
    truth = np.array([1, 1, 2, 3, 4, 5, 6], dtype=np.int64)
    predicted = np.array([10, 11, 10, 30, 40, 10, 30], dtype=np.int64)
    death = np.array([True, False, False, False, False, True, False])
    h = hazards(predicted, truth, death, people)
    assert (h.twin_pairs, h.twin_pairs_merged) == (1, 1)
    assert (h.homonym_pairs, h.homonym_pairs_merged) == (1, 0)
    # cluster 10: deaths of 1 and 5, sexes F and M; cluster 30: two men
    assert (h.clusters_two_deaths, h.clusters_two_sexes) == (1, 1)
    # merging the homonyms is counted
    predicted[4] = 30
    assert hazards(predicted, truth, death, people).homonym_pairs_merged == 1


def test_true_pairs_are_told_from_chance_pairs_with_a_truth() -> None:
    table = pa.table({"a": ["x", "x", "x", "y", "y"]})
    # x block: persons 1, 1, 2 → 3 pairs, 1 true; y block: 3, 3 → 1 pair, 1 true
    (count,) = count_comparisons(table, [("a",)], pa.array([1, 1, 2, 3, 3]))
    assert (count.pairs, count.true_pairs) == (4, 2)
    assert count.chance_per_record(5) == pytest.approx(2 / 5)
    (plain,) = count_comparisons(table, [("a",)])
    assert plain.true_pairs is None and plain.chance_per_record(5) is None
