"""The linkage scored in parts of whole birth years gives exactly the pairs of one pass.

Every blocking rule holds the birth date or its year, so a blocked pair never crosses a
birth year: the parts bound the size of Splink's table of blocked pairs (what spilled tens
of gigabytes at state scale) without changing a single score.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.linkage.model import BLOCKING, birth_year_parts, predict, predict_with
from rmds.linkage.run import standardised_identity
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack


def test_parts_gather_consecutive_years_up_to_the_size_and_leave_out_unknown_years() -> None:
    years = pa.array([1950] * 3 + [1951] * 2 + [1990] * 4 + [None] * 2 + [2023] * 7
                     + [2024], pa.int64())
    parts = [p.to_pylist() for p in birth_year_parts(years, 5)]
    # 1950 (3) + 1951 (2) fill a part; 1990 (4) cannot take 2023 (7), which is alone even
    # though it is larger than a part; 2024 (1) does not fit beside 2023
    assert parts == [[1950, 1951], [1990], [2023], [2024]]
    assert [p.to_pylist() for p in birth_year_parts(years, 100)] == [
        [1950, 1951, 1990, 2023, 2024]]


def test_every_blocking_rule_keeps_a_pair_inside_one_birth_year() -> None:
    assert all({"dob_text", "dob_year"} & set(rule) for rule in BLOCKING)


def _pairs(table: pa.Table) -> dict[tuple[int, int], float]:
    return {(min(a, b), max(a, b)): p for a, b, p in zip(
        table.column("uid_l").to_pylist(), table.column("uid_r").to_pylist(),
        table.column("match_probability").to_pylist(), strict=True)}


@pytest.fixture(scope="module")
def identity(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    folder = tmp_path_factory.mktemp("parts")
    state = generate(SynthConfig(0.002, (2023,), 3, folder / "estado"), pack).out
    with Lake(folder / "lago") as lake:
        ingest(lake, [state / "SIM", state / "SINASC", state / "SIH", state / "PNI"], pack)
        _, table = standardised_identity(lake)
    return table


def test_a_linkage_scored_in_parts_finds_the_same_pairs_with_the_same_scores(
        identity: pa.Table) -> None:
    rows = identity.num_rows
    part_rows = rows // 6
    assert len(birth_year_parts(identity.column("dob_year"), part_rows)) >= 4
    whole = predict([identity], "rmds", threshold=0.5, part_rows=rows)
    cut = predict([identity], "rmds", threshold=0.5, part_rows=part_rows)
    one, parts = _pairs(whole.pairs), _pairs(cut.pairs)
    assert len(one) > rows // 10             # the state has people with several records
    assert one.keys() == parts.keys()
    # trained on every record either way: two trainings differ only in the last digits
    # of parallel sums
    assert max(abs(one[k] - parts[k]) for k in one) <= 1e-9

    # the saved model applied again, as incremental runs do: new records among themselves
    # and against the indexed ones, never indexed × indexed
    model = json.loads(json.dumps(whole.model))
    fresh = pa.array(np.arange(rows) % 5 == 0)
    new, existing = identity.filter(fresh), identity.filter(pc.invert(fresh))
    again = _pairs(predict_with(model, new, existing, 0.5, part_rows=rows))
    again_cut = _pairs(predict_with(model, new, existing, 0.5, part_rows=part_rows))
    assert again.keys() == again_cut.keys() and again
    assert max(abs(again[k] - again_cut[k]) for k in again) <= 1e-12
    new_uids = set(new.column("uid").to_pylist())
    assert all(a in new_uids or b in new_uids for a, b in again)
    assert {k for k in one if k[0] in new_uids or k[1] in new_uids} == again.keys()

