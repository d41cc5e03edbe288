"""The synthetic state's planted vaccine coverages come back out of the catalog: for every
coverage indicator whose dose the generator plants, the state's value for a year holds the
planted rate inside its 95 % interval. The planted rate is the generator's own expectation
(the sum of each child's probability of the dose over the live births of the cohort the
SI-PNI target uses: the same year for children under 1, the previous year for 1-year-olds).
A dose given on the first birthday counts at age 1 (calendar age), so SCR D1 and the
pneumococcal booster are not short of their planted rates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rmds.codes.vaccines import CALENDAR
from rmds.indicators.catalog import load_catalog
from rmds.indicators.compute import compute
from rmds.indicators.mart import values
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.synth import SynthConfig, generate
from rmds.synth.config import VACCINE_SCHEDULE
from rmds.territory import ReferencePack

YEAR = 2023
_COVERAGE = re.compile(r"pni_dose\(vaccine_code, dose_code, '([a-z0-9_]+)'\)")


def _planted() -> dict[str, tuple[str, str, int]]:
    """indicator → (acronym, dose of the calendar, target year offset), for the calendar
    doses the generator plants, read from the catalog's own declarations (the generator
    plants each calendar dose whatever product gives it: hexavalent for pentavalent, …)."""
    planted = {(acronym, dose) for _, acronym, _, dose, _, _, _ in VACCINE_SCHEDULE}
    calendar = {d.coverage: (d.vaccine.acronym, d.dose_code) for d in CALENDAR
                if d.coverage is not None}
    found: dict[str, tuple[str, str, int]] = {}
    for indicator in load_catalog():
        denominator = indicator.denominator
        if denominator is None or denominator.target_year_offset is None:
            continue
        coverages = _COVERAGE.findall(indicator.numerator.filter or "")
        doses = [calendar[c] for c in coverages if calendar.get(c) in planted]
        if doses:
            acronym, dose = doses[0]
            found[indicator.id] = (acronym, dose, denominator.target_year_offset)
    return found


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("plantadas")
    out = generate(SynthConfig(0.006, (YEAR - 1, YEAR), 17, folder / "estado"), pack).out
    with Lake(folder / "lago") as lake:
        ingest(lake, [out], pack)
        compute(lake, pack, years=(YEAR,), population=out / "populacao.csv",
                only=sorted(_planted()))
    expected: dict[str, Any] = json.loads((out / "rates.json").read_text(encoding="utf-8"))
    return folder / "lago", expected["esperado"]


def test_every_planted_dose_has_its_indicator() -> None:
    planted = _planted()
    # SCR D1, SCR D2 and the pneumococcal booster among them, with the previous year's births
    for acronym, dose in (("SCR", "1"), ("SCR", "2"), ("VPC10", "6")):
        assert (acronym, dose, -1) in planted.values()
    assert len(planted) >= 10


@pytest.mark.slow
def test_planted_coverage_is_recovered(state: tuple[Path, dict[str, Any]]) -> None:
    path, expected = state
    outside = []
    with Lake(path, read_only=True) as lake:
        for indicator, (acronym, dose, offset) in sorted(_planted().items()):
            cohort = str(YEAR + offset)
            planted = (expected[f"vaccine_{acronym}_{dose}_cohort"][cohort]
                       / expected["births"][cohort] * 100)
            [row] = values(lake.con, indicator, "estado", str(YEAR))
            if not row["ci_low"] <= planted <= row["ci_high"]:
                outside.append((indicator, round(planted, 2), round(row["value"], 2),
                                round(row["ci_low"], 2), round(row["ci_high"], 2)))
    assert outside == []
