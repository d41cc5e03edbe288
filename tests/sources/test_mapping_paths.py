"""The mappers' numpy fast paths give what the general Arrow paths give.

``MapContext`` reads plain string columns through their buffers (blank → null, digit
codes, plain integers, blank-or-zero dates) and takes Arrow's kernels otherwise. The same
values — clean ones, which the fast paths take, and adversarial ones — are decoded both
ways here; fixed-layout dates (numpy only) are checked against Python's calendar.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import pyarrow as pa
import pytest

from rmds.schema import table
from rmds.sources import mapping
from rmds.sources.mapping import Decoded, MapContext

SPECIAL = ["", " ", "  7", "7  ", "0", "00", "000000", "12", "0012", "123456", "1234567",
           "12345678901234567890", "-5", "+5", "5.0", "5.5", "1e3", "12a", "ÿ12", "12\u00a0",
           "\u00a012", "\t12", "١٢", "9999", "999", "31021999", "29022000", "29021900",
           "1999-12-31", "31/12/1999", "19991231", "99999999", "3106200x", "A01", "a01.1",
           "A01X", "B99-", "A0", "A011", "A0111", "0000", "3106200", "3106201", "310620",
           "310000", "3100000", "3550308", "355030"]
KNOWN = {"310620": "3106200", "355030": "3550308", "123456": "1234567"}


def _values(seed: int, n: int = 400) -> list[str | None]:
    rng = random.Random(seed)
    alphabet = "0123456789 -+./aé"
    out: list[str | None] = [*SPECIAL, None, None]
    while len(out) < n:
        kind = rng.random()
        if kind < 0.5:
            out.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9))))
        elif kind < 0.9:
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))))
        else:
            out.append(None)
    rng.shuffle(out)
    return out


def _context(values: list[str | None]) -> MapContext:
    rows = pa.array(range(1, len(values) + 1), pa.int64())
    return MapContext(pa.table({"c": pa.array(values, pa.string())}), rows, "f.csv", "X", "x")


def _quarantine(ctx: MapContext) -> list[tuple[object, ...]]:
    result = ctx.finish(table("deaths"), {})
    return sorted(zip(*(result.quarantine.column(c).to_pylist()
                        for c in ("source_row", "field", "value", "reason")), strict=True))


DECODERS: list[Callable[[MapContext], pa.Array]] = [
    lambda c: c.raw("c"), lambda c: c.text("c", ("9999",)), lambda c: c.digits("c"),
    lambda c: c.digits("c", 6), lambda c: c.integer("c"),
    lambda c: c.integer("c", 0, 130, ("999",)), lambda c: c.date("c", "%d%m%Y"),
    lambda c: c.date("c", "%Y-%m-%d"), lambda c: c.cid10("c"),
    lambda c: c.municipality("c", KNOWN), lambda c: c.municipality("c", KNOWN, required=True)]


@pytest.mark.parametrize("kind", ["adversarial", "clean", "digits"])
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_and_general_paths_agree(seed: int, kind: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    values = _values(seed)
    if kind != "adversarial":  # no value begins or ends with a space: the fast raw path
        values = [v.strip(" \t\u00a0") if v else v for v in values]
        values = [v for v in values if v is None or v.isascii()]
    if kind == "digits":  # plain integers, blank and zero dates: every fast path
        values = [v if v is None or (v.isdigit() and len(v) <= 12) else "" for v in values]
    for decode in DECODERS:
        fast = _context(values)
        fast_values, fast_quarantine = decode(fast).to_pylist(), _quarantine(fast)
        monkeypatch.setattr(mapping, "FAST_PATHS", False)
        general = _context(values)
        assert decode(general).to_pylist() == fast_values
        assert _quarantine(general) == fast_quarantine
        monkeypatch.setattr(mapping, "FAST_PATHS", True)


def _python_date(value: str | None, fmt: str) -> dt.date | None:
    if value is None or len(value) != len(dt.date(2000, 1, 1).strftime(fmt)):
        return None
    try:
        parsed = dt.datetime.strptime(value, fmt).date()
    except ValueError:
        return None
    return parsed if 1800 <= parsed.year <= 2200 and parsed.strftime(fmt) == value else None


@pytest.mark.parametrize("fmt", ["%d%m%Y", "%Y%m%d", "%Y-%m-%d", "%d/%m/%Y"])
def test_fixed_layout_dates_match_the_calendar(fmt: str) -> None:
    rng = random.Random(fmt)
    values: list[str | None] = []
    for _ in range(3000):
        day = dt.date(1790, 1, 1) + dt.timedelta(days=rng.randint(0, 160_000))
        text = day.strftime(fmt)
        if rng.random() < 0.3:  # break a digit: impossible months and days, letters
            k = rng.randrange(len(text))
            text = text[:k] + rng.choice("0123456789x") + text[k + 1:]
        values.append(text)
    ctx = MapContext(pa.table({"d": pa.array(values, pa.string())}),
                     pa.array(range(1, len(values) + 1)), "f", "X", "x")
    assert ctx.date("d", fmt, allow_zero=False).to_pylist() == [
        _python_date(v, fmt) for v in values]


def test_numbers_the_reader_decoded_are_taken_as_they_are() -> None:
    """A DBF N field arrives as numbers: integer() and decimal() use them directly, with the
    same nulls, ranges and quarantine as the same values written as text."""
    numbers = [5, None, 131, -1, 999, 3_000_000_000, 0]
    rows = pa.array(range(1, len(numbers) + 1), pa.int64())
    as_numbers = MapContext(pa.table({"c": pa.array(numbers, pa.int64())}), rows, "f", "X", "x")
    as_text = MapContext(pa.table({"c": pa.array(
        [None if v is None else str(v) for v in numbers], pa.string())}), rows, "f", "X", "x")
    for ctx in (as_numbers, as_text):
        assert ctx.integer("c", 0, 130, ("999",)).to_pylist() == [5, None, None, None, None,
                                                                  None, 0]
        assert ctx.decimal("c").to_pylist() == [None if v is None else float(v)
                                                for v in numbers]
    assert _quarantine(as_numbers) == _quarantine(as_text) == [
        (3, "c", "131", "valor fora do intervalo [0, 130]"),
        (4, "c", "-1", "valor fora do intervalo [0, 130]"),
        (6, "c", "3000000000", "valor fora do intervalo [0, 130]")]


def test_contexts_sharing_decoded_columns_each_keep_their_quarantine() -> None:
    """The identity extraction reuses the mapper's decoded dates and municipalities (one
    parse per batch); each context still reports its own problems, and the results are
    those of a context decoding alone."""
    values = ["01022000", "31022000", None, "3106200", "9999999", "310620"]
    source = pa.table({"d": pa.array(values), "m": pa.array(values)})
    rows = pa.array(range(1, len(values) + 1), pa.int64())
    shared = Decoded()
    first, second, alone = (MapContext(source, rows, "f", "X", "x", decoded=d)
                            for d in (shared, shared, Decoded()))
    results = {name: (ctx.date("d", "%d%m%Y").to_pylist(),
                      ctx.municipality("m", KNOWN).to_pylist(), _quarantine(ctx))
               for name, ctx in (("first", first), ("second", second), ("alone", alone))}
    assert len(shared.derived) == 2
    assert results["first"] == results["second"] == results["alone"]
    dates, municipalities, quarantine = results["alone"]
    assert dates == [dt.date(2000, 2, 1), None, None, None, None, None]
    assert municipalities == [None, None, None, "3106200", None, "3106200"]
    assert {(row, reason) for row, _, _, reason in quarantine} == {
        (1, "município desconhecido"), (2, "data inválida (formato esperado %d%m%Y)"),
        (2, "município desconhecido"), (4, "data inválida (formato esperado %d%m%Y)"),
        (5, "data inválida (formato esperado %d%m%Y)"),  # 9999999 is an ignored municipality
        (6, "data inválida (formato esperado %d%m%Y)")}
