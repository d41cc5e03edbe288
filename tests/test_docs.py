from __future__ import annotations

from pathlib import Path

from rmds.docgen import (
    acquisition_reference,
    catalog_reference,
    cli_reference,
    schema_reference,
    settings_reference,
)
from rmds.settings import SETTINGS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == cli_reference(), (
        "docs/cli.md is stale: run `python -m rmds.docgen`")


def test_settings_reference_is_up_to_date() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert text == settings_reference(), "docs/settings.md is stale: run `python -m rmds.docgen`"
    for setting in SETTINGS:
        assert setting.env in text


def test_schema_reference_is_up_to_date() -> None:
    assert (DOCS / "schema.md").read_text(encoding="utf-8") == schema_reference(), (
        "docs/schema.md is stale: run `python -m rmds.docgen`")


def test_catalog_reference_is_up_to_date() -> None:
    assert (DOCS / "catalog.md").read_text(encoding="utf-8") == catalog_reference(), (
        "docs/catalog.md is stale: run `python -m rmds.docgen`")


def test_acquisition_reference_is_up_to_date() -> None:
    assert (DOCS / "acquisition.md").read_text(encoding="utf-8") == acquisition_reference(), (
        "docs/acquisition.md is stale: run `python -m rmds.docgen`")
