"""Consortia as a territorial level: who is a member, since when, until when.

The reference pack knows only part of MG's 68 intermunicipal health consortia (member lists for
three). A full or corrected roster is imported with ``rmds consortia import FILE`` into the
lake; for every consortium it lists, the imported membership (with validity dates) replaces the
pack's. Everything that aggregates by consortium says how incomplete the roster is
(:func:`roster_status`).

Roster file (CSV, ``,`` or ``;``)::

    sigla;nome;cod_ibge7;inicio;fim
    CISMARG;Consórcio ... ;3100104;01/01/2015;
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from rmds.exceptions import InputError, Problem
from rmds.lake.store import Lake, table_exists
from rmds.territory import ReferencePack

__all__ = ["EXPECTED_CONSORTIA", "ImportResult", "Membership", "import_roster", "memberships",
           "roster_status"]

EXPECTED_CONSORTIA = 68        # intermunicipal health consortia of MG (seed 002, SES-MG)
PACK_SOURCE = "pacote de referência (rol parcial)"
REQUIRED = ("sigla", "cod_ibge7", "inicio")


@dataclass(frozen=True)
class Membership:
    consortium: str
    municipality: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    source: str

    def valid_in(self, start: dt.date, end: dt.date) -> bool:
        return ((self.valid_from is None or self.valid_from <= end)
                and (self.valid_to is None or self.valid_to >= start))


@dataclass
class ImportResult:
    file: str
    consortia: list[str]
    accepted: int
    refused: list[Problem] = field(default_factory=list)


def imported(con: duckdb.DuckDBPyConnection) -> tuple[list[Membership], dict[str, str]]:
    if not table_exists(con, "consortium_memberships"):
        return [], {}
    rows = con.execute("SELECT consortium, municipality, valid_from, valid_to, source FROM "
                       "consortium_memberships ORDER BY 1, 2, 3").fetchall()
    names = dict(con.execute("SELECT consortium, name FROM consortium_roster").fetchall())
    return [Membership(*r) for r in rows], names


def memberships(con: duckdb.DuckDBPyConnection | None, pack: ReferencePack
                ) -> list[Membership]:
    """Imported memberships, and the pack's for the consortia not imported."""
    found, _ = imported(con) if con is not None else ([], {})
    covered = {m.consortium for m in found}
    out = list(found)
    for code, members in pack.consortium_members.items():
        if code in covered or code not in pack.consortia:
            continue
        out += [Membership(code, m, None, None, PACK_SOURCE) for m in members]
    return out


def consortium_names(con: duckdb.DuckDBPyConnection | None, pack: ReferencePack
                     ) -> dict[str, str]:
    names = {code: unit.name for code, unit in pack.consortia.items()}
    if con is not None:
        names.update({k: v for k, v in imported(con)[1].items() if v})
    return names


def roster_status(con: duckdb.DuckDBPyConnection | None, pack: ReferencePack
                  ) -> dict[str, Any]:
    """How complete the roster is, with a sentence to show wherever consortia aggregate."""
    members = memberships(con, pack)
    with_members = sorted({m.consortium for m in members})
    municipalities = {m.municipality for m in members}
    complete = len(with_members) >= EXPECTED_CONSORTIA
    note = ("" if complete else
            f"Rol de consórcios incompleto: membros conhecidos de {len(with_members)} dos "
            f"{EXPECTED_CONSORTIA} consórcios de saúde de MG ({len(municipalities)} "
            "municípios). Totais por consórcio cobrem só esses membros; importe o rol "
            "completo com 'rmds consortia import'.")
    return {"consorcios_com_membros": with_members, "esperados": EXPECTED_CONSORTIA,
            "municipios_cobertos": len(municipalities), "completo": complete, "aviso": note}


def _date(text: str) -> dt.date | None:
    text = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def import_roster(lake: Lake, path: Path, pack: ReferencePack) -> ImportResult:
    """Load a roster file: bad rows are refused one by one with their reason, the rest
    replaces, in one transaction, the memberships of the consortia the file lists."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"rol ilegível: {path}", [Problem(path.name, None, None,
                                                           str(error))]) from None
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") \
        else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"rol de consórcios sem colunas obrigatórias: {path.name}",
                         [Problem(path.name, 1, c, "coluna ausente") for c in missing])
    rows: dict[str, list[Any]] = {k: [] for k in (
        "consortium", "municipality", "valid_from", "valid_to", "source")}
    names: dict[str, str] = {}
    refused: list[Problem] = []
    for raw in reader:
        line = reader.line_num
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        sigla = row.get("sigla", "").upper()
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{1,19}", sigla):
            refused.append(Problem(path.name, line, "sigla", f"sigla inválida: {sigla!r}"))
            continue
        code = pack.to_ibge7(row.get("cod_ibge7", ""))
        if code is None:
            refused.append(Problem(path.name, line, "cod_ibge7",
                                   f"município desconhecido em MG: {row.get('cod_ibge7')!r}"))
            continue
        try:
            start = _date(row.get("inicio", ""))
        except ValueError:
            refused.append(Problem(path.name, line, "inicio",
                                   f"data impossível: {row.get('inicio')!r}"))
            continue
        end = None
        if row.get("fim"):
            try:
                end = _date(row["fim"])
            except ValueError:
                refused.append(Problem(path.name, line, "fim",
                                       f"data impossível: {row.get('fim')!r}"))
                continue
            if start is not None and end is not None and end < start:
                refused.append(Problem(path.name, line, "fim", "fim anterior ao início"))
                continue
        if row.get("nome"):
            names[sigla] = row["nome"]
        rows["consortium"].append(sigla)
        rows["municipality"].append(code)
        rows["valid_from"].append(start)
        rows["valid_to"].append(end)
        rows["source"].append(path.name)
    listed = sorted(set(rows["consortium"]))
    table = pa.table({"consortium": pa.array(rows["consortium"], pa.string()),
                      "municipality": pa.array(rows["municipality"], pa.string()),
                      "valid_from": pa.array(rows["valid_from"], pa.date32()),
                      "valid_to": pa.array(rows["valid_to"], pa.date32()),
                      "source": pa.array(rows["source"], pa.string())})
    lake.run("BEGIN TRANSACTION")
    try:
        lake.run("CREATE TABLE IF NOT EXISTS consortium_memberships (consortium VARCHAR, "
                 "municipality VARCHAR, valid_from DATE, valid_to DATE, source VARCHAR)")
        lake.run("CREATE TABLE IF NOT EXISTS consortium_roster (consortium VARCHAR, "
                 "name VARCHAR, source VARCHAR, imported_at TIMESTAMP)")
        for sigla in listed:
            lake.run("DELETE FROM consortium_memberships WHERE consortium = ?", [sigla])
            lake.run("DELETE FROM consortium_roster WHERE consortium = ?", [sigla])
            lake.run("INSERT INTO consortium_roster VALUES (?, ?, ?, "
                     "current_timestamp)", [sigla, names.get(sigla), path.name])
        lake.insert("consortium_memberships", table)
        lake.commit("rol de consórcios", arquivo=path.name, consorcios=listed)
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return ImportResult(path.name, listed, table.num_rows, refused)
