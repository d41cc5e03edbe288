"""Map classes (issue 23): no two classes read the same range, a single value is neutral,
suppressed and missing have marks of their own, colours follow the indicator's direction."""

from __future__ import annotations

from rmds.web.charts import MISSING, PALETTE, SUPPRESSED, classes, colour


def test_many_equal_values_never_give_repeated_ranges() -> None:
    # 60% zeros, as a rare event by municipality: quintile breaks 0, 0, 0, 0.4 before
    values = [0.0] * 60 + [0.4] * 20 + [1.2, 3.5, 7.0] * 7
    breaks, bands = classes(values, higher_is_better=False)
    labels = [b.label for b in bands]
    assert len(labels) == len(set(labels))
    assert breaks == sorted(set(breaks))
    assert bands[0].low == 0.0 and bands[-1].high == 7.0
    # every value falls in the band whose range holds it
    for v in set(values):
        band = next(b for b in bands if colour(v, breaks, bands) == b.colour)
        assert band.low <= v <= band.high


def test_labels_take_the_decimals_they_need() -> None:
    _breaks, bands = classes([0.01, 0.02, 0.03, 0.04, 0.05], higher_is_better=True)
    assert [b.label for b in bands] == ["0,01", "0,02", "0,03", "0,04", "0,05"]


def test_a_single_value_is_neutral_not_the_best() -> None:
    _breaks, bands = classes([12.5] * 853, higher_is_better=True)
    assert len(bands) == 1 and bands[0].colour not in PALETTE
    assert "um só valor" in bands[0].label


def test_direction_suppressed_and_missing() -> None:
    breaks, bands = classes([1.0, 2.0, 3.0, 4.0, 5.0], higher_is_better=True)
    best, worst = PALETTE[-1], PALETTE[0]
    assert colour(5.0, breaks, bands) == best and colour(1.0, breaks, bands) == worst
    breaks, bands = classes([1.0, 2.0, 3.0, 4.0, 5.0], higher_is_better=False)
    assert colour(1.0, breaks, bands) == best and colour(5.0, breaks, bands) == worst
    assert colour(None, breaks, bands, suppressed=True) == SUPPRESSED
    assert colour(None, breaks, bands) == MISSING
    assert len({SUPPRESSED, MISSING, *PALETTE}) == len(PALETTE) + 2


def test_most_values_at_the_top_still_give_two_classes() -> None:
    """A few low values under many equal top ones (every quantile at the maximum): the
    low values are a class of their own, not an error."""
    breaks, bands = classes([0.0, 1.0] + [5.0] * 20, higher_is_better=True)
    assert breaks == [1.0]
    assert [(b.low, b.high) for b in bands] == [(0.0, 1.0), (5.0, 5.0)]
    assert colour(0.5, breaks, bands, False) != colour(5.0, breaks, bands, False)


def test_a_chart_compares_the_unit_with_the_units_above_and_leaves_gaps() -> None:
    from rmds.web.charts import line_chart

    points = [("2023-T1", 10.0, 8.0, 12.0), ("2023-T2", None, None, None),
              ("2023-T3", 11.0, 9.0, 13.0), ("2023-T4", 12.0, 10.0, 14.0)]
    svg = line_chart(points, unit="%", compare=[("Minas Gerais", [9.0, 9.5, None, 10.0])])
    # the state's line breaks where its value is missing, like the unit's
    assert svg.count('class="comparacao"') == 1        # only T1–T2 joined; T4 alone
    assert "— Minas Gerais" in svg and "comparado com Minas Gerais" in svg
    assert "Minas Gerais, 2023-T2: 9,50 %" in svg
