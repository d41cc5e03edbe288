"""Age-standardised rates: the direct method and the Fay–Feuer interval, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rmds.exceptions import CatalogError
from rmds.indicators.catalog import parse_catalog
from rmds.indicators.standards import bands, load_standards
from rmds.indicators.stats import direct_standardised, poisson_interval


def test_one_age_group_gives_the_crude_rate_and_the_exact_poisson_interval() -> None:
    # with a single group the Fay–Feuer interval is Garwood's exact Poisson interval
    events = np.array([[0.0], [3.0], [40.0]])
    exposure = np.array([[1000.0], [1000.0], [2000.0]])
    rate, low, high = direct_standardised(events, exposure, [1.0])
    p_low, p_high = poisson_interval(events[:, 0], exposure[:, 0])
    assert rate == pytest.approx([0.0, 0.003, 0.02])
    assert low == pytest.approx(p_low)
    assert high == pytest.approx(p_high)


def test_two_groups_by_hand() -> None:
    # 2 deaths in 100 people (weight 0.25) and 1 in 400 (weight 0.75):
    # rate = 0.25 × 0.02 + 0.75 × 0.0025 = 0.006875
    # variance = 0.25² × 2 / 100² + 0.75² × 1 / 400² = 1.25e-5 + 3.515625e-6
    rate, low, high = direct_standardised(np.array([[2.0, 1.0]]), np.array([[100.0, 400.0]]),
                                          [0.25, 0.75])
    assert rate[0] == pytest.approx(0.006875)
    var = 1.25e-5 + 3.515625e-6
    from scipy import stats
    assert low[0] == pytest.approx(stats.gamma.ppf(0.025, 0.006875 ** 2 / var,
                                                   scale=var / 0.006875))
    wm = 0.25 / 100
    assert high[0] == pytest.approx(stats.gamma.ppf(
        0.975, (0.006875 + wm) ** 2 / (var + wm * wm), scale=(var + wm * wm) / (0.006875 + wm)))
    assert low[0] < rate[0] < high[0]


def test_a_group_with_deaths_and_no_people_leaves_no_rate() -> None:
    rate, low, high = direct_standardised(np.array([[1.0, 0.0], [0.0, 0.0]]),
                                          np.array([[0.0, 10.0], [0.0, 10.0]]), [0.5, 0.5])
    assert np.isnan(rate[0]) and np.isnan(low[0]) and np.isnan(high[0])
    assert rate[1] == 0.0 and low[1] == 0.0 and high[1] > 0


def test_the_who_standard_reweighted_over_30_to_69() -> None:
    standard = load_standards()["oms_2000"]
    weights = standard.weights_for((30, 69))
    assert [b[0] for b in bands((30, 69))] == [30, 35, 40, 45, 50, 55, 60, 65]
    assert sum(weights) == pytest.approx(1.0)
    assert weights[0] == pytest.approx(7610 / 43990)
    assert bands((75, 90)) == [(75, 79), (80, None)]


def _indicator(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x", "name": "x", "objective": "OE", "source": "s", "difference": "d",
        "definition": "d", "unit": "u", "multiplier": 100000, "higher_is_better": False,
        "method": "poisson",
        "numerator": {"input": "deaths", "date": "death_date",
                      "territory": "residence_municipality"},
        "denominator": {"population": True, "ages": [30, 69]}}
    base.update(extra)
    return base


def test_the_catalog_checks_every_standardisation_problem_at_once() -> None:
    objective = [{"id": "OE", "text": "t"}]
    good = parse_catalog({"objective": objective, "indicator": [_indicator(
        standardised={"standard": "oms_2000", "age": "age_years"})]}, "t.toml")
    assert good.get("x").standardised is not None
    with pytest.raises(CatalogError) as caught:
        parse_catalog({"objective": objective, "indicator": [
            _indicator(id="a", standardised={"standard": "segi", "age": "age_years"}),
            _indicator(id="b", standardised={"standard": "oms_2000", "age": "idade"}),
            _indicator(id="c", standardised={"standard": "oms_2000", "age": "age_years"},
                       denominator={"population": True}),
            _indicator(id="d", method="wilson", standardised={
                "standard": "oms_2000", "age": "age_years"})]}, "t.toml")
    where = {p.field for p in caught.value.problems}
    assert {"a.standardised.standard", "b.standardised.age", "c.standardised",
            "d.standardised"} <= where
