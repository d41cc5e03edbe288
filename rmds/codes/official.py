"""The code tables as DATASUS publishes them, turned into the reference pack's files
(``rmds reference sync --cid10 / --sigtap``).

* **CID-10**: the DATASUS CSV distribution (``CID10CSV.ZIP``, or its folder):
  ``CID-10-CAPITULOS.CSV``, ``-GRUPOS``, ``-CATEGORIAS``, ``-SUBCATEGORIAS``, ``;``-separated,
  latin-1; the pack keeps them as ``cid10/CID-10-*.utf8.csv``.
* **SIGTAP**: the monthly "Tabela Unificada" (``TabelaUnificada_AAAAMM_vN.zip``, or its
  folder): ``tb_procedimento.txt`` in fixed width (Windows-1252) with its layout
  ``tb_procedimento_layout.txt`` (``Coluna,Tamanho,Inicio,Fim,Tipo``). Positions are read
  from the layout shipped in the same ZIP, never assumed, so a layout change upstream is
  followed. The pack keeps ``sigtap_procedimentos.csv`` (code, full name) and the
  competência of the table.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from rmds.exceptions import InputError

__all__ = ["CID10_TABLES", "cid10_files", "sigtap_file"]

#: table → the column that must be in its header (the code)
CID10_TABLES = {"CAPITULOS": "NUMCAP", "GRUPOS": "CATINIC", "CATEGORIAS": "CAT",
                "SUBCATEGORIAS": "SUBCAT"}


def _members(source: Path) -> dict[str, bytes]:
    """Upper-cased base name → bytes of each file in a ZIP or a folder."""
    if not source.exists():
        raise InputError(f"{source}: arquivo ou pasta não encontrado")
    if source.is_dir():
        return {p.name.upper(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    try:
        with zipfile.ZipFile(source) as zipped:
            return {name.rsplit("/", 1)[-1].upper(): zipped.read(name)
                    for name in zipped.namelist() if not name.endswith("/")}
    except zipfile.BadZipFile:
        raise InputError(f"{source}: não é um ZIP nem uma pasta") from None


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def cid10_files(source: Path) -> dict[str, bytes]:
    """The pack's CID-10 files (pack-relative path → UTF-8 bytes) from the DATASUS CSVs."""
    found = _members(source)
    out: dict[str, bytes] = {}
    problems = []
    for table, key in CID10_TABLES.items():
        name = f"CID-10-{table}.CSV"
        if name not in found:
            problems.append(f"{source}: falta {name}")
            continue
        text = _text(found[name]).replace("\r\n", "\n")
        header = [h.strip() for h in text.split("\n", 1)[0].split(";")]
        if key not in header or "DESCRICAO" not in header:
            problems.append(f"{source}/{name}, linha 1: cabeçalho sem {key} ou DESCRICAO "
                            f"(veio: {';'.join(header)[:120]})")
            continue
        out[f"cid10/CID-10-{table}.utf8.csv"] = text.encode("utf-8")
    if problems:
        raise InputError("CID-10 oficial incompleta:\n" + "\n".join(problems))
    return out


def sigtap_file(source: Path) -> tuple[bytes, int, str | None]:
    """``sigtap_procedimentos.csv`` (UTF-8) from the Tabela Unificada, the number of
    procedures and the table's competência (``AAAAMM``; ``None`` when not given)."""
    found = _members(source)
    for name in ("TB_PROCEDIMENTO.TXT", "TB_PROCEDIMENTO_LAYOUT.TXT"):
        if name not in found:
            raise InputError(f"{source}: falta {name.lower()} (a Tabela Unificada do SIGTAP "
                             "traz os dois)")
    positions: dict[str, tuple[int, int]] = {}
    layout = csv.DictReader(io.StringIO(_text(found["TB_PROCEDIMENTO_LAYOUT.TXT"])))
    for line, row in enumerate(layout, 2):
        try:
            positions[row["Coluna"].strip().upper()] = (int(row["Inicio"]), int(row["Fim"]))
        except (KeyError, ValueError, AttributeError):
            raise InputError(f"{source}/tb_procedimento_layout.txt, linha {line}: esperado "
                             "Coluna,Tamanho,Inicio,Fim,Tipo") from None
    for column in ("CO_PROCEDIMENTO", "NO_PROCEDIMENTO"):
        if column not in positions:
            raise InputError(f"{source}/tb_procedimento_layout.txt: sem a coluna {column}")
    (c0, c1), (n0, n1) = positions["CO_PROCEDIMENTO"], positions["NO_PROCEDIMENTO"]
    when = positions.get("DT_COMPETENCIA")
    names: dict[str, str] = {}
    competence: str | None = None
    data = found["TB_PROCEDIMENTO.TXT"].decode("cp1252", errors="replace")
    for line, text in enumerate(data.splitlines(), 1):
        if not text.strip():
            continue
        code = text[c0 - 1:c1].strip()
        if not (code.isdigit() and len(code) == 10):
            raise InputError(f"{source}/tb_procedimento.txt, linha {line}, CO_PROCEDIMENTO: "
                             f"código de procedimento inválido {code!r}")
        names[code] = " ".join(text[n0 - 1:n1].split())
        if when and competence is None:
            competence = text[when[0] - 1:when[1]].strip() or None
    if not names:
        raise InputError(f"{source}/tb_procedimento.txt: nenhum procedimento")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["co_procedimento", "no_procedimento"])
    writer.writerows(sorted(names.items()))
    return out.getvalue().encode("utf-8"), len(names), competence
