"""Age in completed years from the calendar: the NumPy, Python and SQL forms of the rule
agree, on DuckDB and in Spark's dialect, for birthdays reached or not and 29 February."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import sqlglot

from rmds.age import add_years, completed_years, completed_years_date, completed_years_sql

EPOCH = dt.date(1970, 1, 1)


def _day(date: dt.date) -> int:
    return (date - EPOCH).days


# (birth, on, completed years), worked by hand
CASES = [
    (dt.date(2022, 6, 1), dt.date(2023, 5, 31), 0),   # the day before the first birthday
    (dt.date(2022, 6, 1), dt.date(2023, 6, 1), 1),    # on it: 365 days, floor(365/365.25) = 0
    (dt.date(2019, 6, 1), dt.date(2020, 6, 1), 1),    # 366 days across 29 February
    (dt.date(2020, 2, 29), dt.date(2021, 2, 28), 0),  # born on 29 February: birthday 1 March
    (dt.date(2020, 2, 29), dt.date(2021, 3, 1), 1),
    (dt.date(2020, 2, 29), dt.date(2024, 2, 29), 4),
    (dt.date(1953, 12, 31), dt.date(2023, 12, 30), 69),
    (dt.date(1953, 12, 31), dt.date(2023, 12, 31), 70),
]


def test_hand_worked_ages() -> None:
    for birth, on, years in CASES:
        assert completed_years_date(birth, on) == years, (birth, on)
        assert int(completed_years(np.array([_day(birth)]), np.array([_day(on)]))[0]) == years
    # the old rule got the first birthday wrong: that is why it is gone
    assert int(np.floor(365 / 365.25)) == 0


def test_numpy_python_and_sql_agree() -> None:
    rng = np.random.default_rng(7)
    birth = rng.integers(_day(dt.date(1920, 1, 1)), _day(dt.date(2024, 12, 31)), 3000)
    on = birth + rng.integers(0, 40_000, birth.size)
    # plus every birthday and the day before it, where the rules part ways
    anniversaries = add_years(birth[:500], 1)
    birth = np.concatenate([birth, birth[:500], birth[:500]])
    on = np.concatenate([on, anniversaries, anniversaries - 1])
    expected = completed_years(birth, on)
    dates = [(EPOCH + dt.timedelta(days=int(b)), EPOCH + dt.timedelta(days=int(o)))
             for b, o in zip(birth, on, strict=True)]
    assert [completed_years_date(b, o) for b, o in dates] == expected.tolist()
    assert (completed_years(birth[-1000:-500], on[-1000:-500]) == 1).all()
    assert (completed_years(birth[-500:], on[-500:]) == 0).all()
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, b DATE, o DATE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)",
                    [(i, b, o) for i, (b, o) in enumerate(dates)])
    sql = completed_years_sql("b", "o")
    got = [r[0] for r in con.execute(f"SELECT {sql} FROM t ORDER BY i").fetchall()]
    assert got == expected.tolist()
    assert con.execute(f"SELECT {completed_years_sql('CAST(NULL AS DATE)', 'o')} FROM t LIMIT 1"
                       ).fetchone() == (None,)
    # the same text is valid Spark SQL once sqlglot renders it
    spark = sqlglot.transpile(f"SELECT {sql} FROM t", read="duckdb", write="spark")[0]
    assert "YEAR(O)" in spark.upper() and "DAY(O)" in spark.upper()


def test_add_years_is_the_first_day_of_that_age() -> None:
    rng = np.random.default_rng(3)
    birth = np.concatenate([rng.integers(-20_000, 20_000, 2000),
                            [_day(dt.date(2020, 2, 29))]])
    for years in (1, 2, 60):
        day = add_years(birth, years)
        assert (completed_years(birth, day) == years).all()
        assert (completed_years(birth, day - 1) == years - 1).all()
