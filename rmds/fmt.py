"""Formatting for people: Brazilian Portuguese numbers and dates."""

from __future__ import annotations

import datetime as dt

__all__ = ["fmt_date", "fmt_decimal", "fmt_int", "parse_date"]


def fmt_int(value: int | None) -> str:
    """``2433804`` → ``"2.433.804"``; ``None`` → ``"—"``."""
    return "—" if value is None else f"{value:,}".replace(",", ".")


def fmt_decimal(value: float | None, places: int = 1) -> str:
    """``1234.5`` → ``"1.234,5"``; ``None`` → ``"—"``."""
    if value is None:
        return "—"
    text = f"{value:,.{places}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def fmt_date(value: dt.date | None) -> str:
    """``date(2024, 3, 7)`` → ``"07/03/2024"``."""
    return "—" if value is None else value.strftime("%d/%m/%Y")


def parse_date(text: str) -> dt.date:
    """A date as people type it here: ``"30/11/2026"`` (DD/MM/AAAA) or ``"2026-11-30"``;
    ``ValueError`` for anything else."""
    text = text.strip()
    if "/" in text:
        day, month, year = text.split("/")
        if len(year) != 4:
            raise ValueError(text)
        return dt.date(int(year), int(month), int(day))
    return dt.date.fromisoformat(text)
