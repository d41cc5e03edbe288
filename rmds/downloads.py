"""Tables as people download them: CSV the way Brazilian Excel opens it, and XLSX.

One place for every download of the API, the pages and the CLI. A download is a header
block (what the table is: indicator, definition, source, period, territorial level, lake
snapshot, the suppression rule) followed by the table with Portuguese headers.

* CSV: UTF-8 with BOM (Excel detects the encoding), ``;`` between fields, decimal comma and
  no thousands separator in numbers, dates as DD/MM/AAAA; the header block is one
  ``campo;valor`` line each, then a blank line, then the table (as TabNet's downloads).
* XLSX (openpyxl): the header block in bold labels on top, then the table with numbers as
  numbers; a suppressed cell is empty in both, and its row says ``sim`` under "Suprimido".

The rows given here are already masked by the access policy: a download shows exactly the
cells the answer on the screen shows, never more.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FORMATS", "Download", "csv_number", "render", "slug"]

#: media type of each download format
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Download:
    """A table to download: ``about`` is the header block (label, text); ``columns`` the
    (row key, Portuguese header) pairs in order; ``rows`` mappings from row key to value."""

    name: str                                  # file name without extension
    title: str
    about: Sequence[tuple[str, str]]
    columns: Sequence[tuple[str, str]]
    rows: Sequence[Mapping[str, Any]]


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: ``"Cobertura 2023-T1"`` → ``"cobertura_2023-t1"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9-]+", "_", ascii_text.lower()).strip("_") or "tabela"


def csv_number(value: float | int) -> str:
    """A number as Brazilian Excel reads it in a CSV: decimal comma, no thousands
    separator, no exponent, every significant digit (``12.0`` → ``"12"``,
    ``0.1234567`` → ``"0,1234567"``)."""
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return ""
    text = f"{value:.15g}"
    if "e" in text:   # very small or large: plain positional notation
        text = f"{value:.15f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, int | float):
        return csv_number(value)
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _csv(table: Download) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([table.title])
    for label, text in table.about:
        writer.writerow([label, text])
    writer.writerow([])
    writer.writerow([header for _, header in table.columns])
    for row in table.rows:
        writer.writerow([_text(row.get(key)) for key, _ in table.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(table: Download) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Dados"
    bold = Font(bold=True)
    sheet.append([table.title])
    sheet.cell(row=1, column=1).font = bold
    for label, text in table.about:
        sheet.append([label, text])
        sheet.cell(row=sheet.max_row, column=1).font = bold
    sheet.append([])
    sheet.append([header for _, header in table.columns])
    header_row = sheet.max_row
    for column in range(1, len(table.columns) + 1):
        sheet.cell(row=header_row, column=column).font = bold
    for row in table.rows:
        values: list[Any] = []
        for key, _ in table.columns:
            value = row.get(key)
            if isinstance(value, bool):
                value = "sim" if value else "não"
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            values.append(value)
        sheet.append(values)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(table: Download, fmt: str) -> bytes:
    """The bytes of ``table`` as ``fmt`` (``"csv"`` or ``"xlsx"``)."""
    if fmt == "csv":
        return _csv(table)
    if fmt == "xlsx":
        return _xlsx(table)
    raise ValueError(f"formato de download desconhecido: {fmt} (use csv ou xlsx)")
