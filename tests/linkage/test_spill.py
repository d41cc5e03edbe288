"""Linkage spills identity data to disk beyond its memory limit: into a directory of its own
that only the user can read, removed when the run ends."""

from __future__ import annotations

from pathlib import Path

from rmds.linkage.model import bounded_duckdb


def test_linkage_spills_into_a_private_directory_of_its_own() -> None:
    with bounded_duckdb() as con, bounded_duckdb() as other:
        row = con.execute("SELECT current_setting('temp_directory')").fetchone()
        other_row = other.execute("SELECT current_setting('temp_directory')").fetchone()
        assert row is not None and other_row is not None
        spill = Path(str(row[0]))
        assert spill.is_dir() and spill.stat().st_mode & 0o777 == 0o700
        assert str(other_row[0]) != str(spill)            # one per run, not shared
    assert not spill.exists()
