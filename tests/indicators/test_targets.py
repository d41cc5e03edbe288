"""Official targets (issue 23): declared with their source, every problem reported at once,
drawn on the charts and shown on the pages."""

from __future__ import annotations

import pytest

from rmds.exceptions import ConfigurationError
from rmds.indicators.targets import Target, load_targets, parse_targets
from rmds.web.charts import line_chart


def test_every_declared_target_cites_its_source_and_names_a_known_indicator() -> None:
    targets = load_targets()
    assert targets
    assert all(t.source.strip() for t in targets.values())


def test_every_problem_of_the_file_is_reported_together() -> None:
    data = {"target": [
        {"indicator": "nao_existe", "value": 95, "direction": "min", "source": "x"},
        {"indicator": "cobertura_bcg", "value": "noventa", "direction": "acima",
         "source": ""}]}
    with pytest.raises(ConfigurationError) as error:
        parse_targets(data, ["cobertura_bcg"], "metas.toml")
    text = str(error.value)
    for expected in ("target 1, campo indicator", "target 2, campo value",
                     "target 2, campo direction", "target 2, campo source"):
        assert expected in text


def test_met_and_label() -> None:
    at_least = Target("x", 95.0, "min", "fonte")
    assert at_least.met(95.0) and not at_least.met(94.9) and at_least.met(None) is None
    assert at_least.label == "meta ≥ 95"
    assert Target("y", 15.0, "max", "fonte").met(16.0) is False


def test_the_chart_draws_the_target_even_above_every_value() -> None:
    svg = line_chart([("2023-01", 50.0, None, None), ("2023-02", 60.0, None, None)],
                     unit="%", target=(95.0, "meta ≥ 95"))
    assert 'class="meta"' in svg and "meta ≥ 95" in svg
    assert "meta" not in line_chart([("2023-01", 50.0, None, None)], unit="%")
