"""Versions of the reference pack: ``rmds reference sync``.

A new version is built from the current pack and the official tables given (the state's
regionalisation when the PDR is revised or a municipality changes region by a CIB
deliberation; an IBGE population estimate), checked with the same checks as
``rmds reference check``, compared with the current version, and installed beside it:

    RAIZ/versoes/<versão>/   one complete pack per version, never changed once installed
    RAIZ/ATUAL               the name of the version in use (replaced atomically)

``RMDS_REFERENCE_DIR`` may name a plain pack (``../shared/data/reference``) or such a
root; :class:`rmds.territory.ReferencePack` follows ``ATUAL``. A regionalisation is added
as a new *vintage* valid from a year on (``regionalizacoes.csv``): data of the years
before it keep the regions they had, so indicators of earlier periods do not move when
the map is redrawn.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rmds.codes.official import cid10_files, sigtap_file
from rmds.codes.sigtap import FILE as SIGTAP_FILE
from rmds.exceptions import InputError, Problem, ReferencePackError
from rmds.territory.model import BUILTIN_VINTAGES, Vintage

__all__ = ["POINTER", "VERSIONS", "RegionChange", "SyncResult", "build_version",
           "installed_versions", "read_vintages", "resolve_pack"]

POINTER = "ATUAL"
VERSIONS = "versoes"
_MUNICIPALITIES = "municipios.csv"
_VINTAGES = "regionalizacoes.csv"
_IBGE = "populacao_ibge.csv"
_VINTAGE_FIELDS = ("id", "rotulo", "primeiro_ano", "co_regiao", "no_regiao", "co_macro",
                   "no_macro")
# a regionalisation table: the municipality and its region and macro-region
_CODE = ("cod_ibge7", "cod_ibge6", "co_municipio", "municipio")
_REGION = ("co_regsaud", "co_regiao", "regiao")
_REGION_NAME = ("no_regsaud", "no_regiao", "nome_regiao")
_MACRO = ("co_macsaud", "co_macro", "macrorregiao")
_MACRO_NAME = ("no_macsaud", "no_macro", "nome_macrorregiao")
# an IBGE estimate table (the DOU spreadsheet saved as CSV, or a plain one)
_POP_CODE = ("cod_ibge7", "cod. munic", "cod_munic")
_POP_UF = ("cod. uf", "cod_uf")
_POP_VALUE = ("populacao", "população estimada", "populacao estimada", "população")
_ID = re.compile(r"[a-z0-9_]{3,40}")
_VERSION = re.compile(r"[a-z0-9][a-z0-9_.-]{0,60}")


def resolve_pack(directory: Path) -> Path:
    """The pack directory a setting names: the installed version of a versioned root
    (``ATUAL``), or the directory itself."""
    pointer = directory / POINTER
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        return directory / VERSIONS / name
    return directory


def read_vintages(directory: Path) -> tuple[Vintage, ...]:
    """A pack's regionalisations, oldest first: ``regionalizacoes.csv`` (id, label, first
    year and the four municipios.csv columns of each), or the two built in."""
    path = directory / _VINTAGES
    if not path.is_file():
        return BUILTIN_VINTAGES
    builtin = {str(v): v for v in BUILTIN_VINTAGES}
    found: list[Vintage] = []
    problems: list[Problem] = []
    _, rows = _read_table(path)
    for line, row in rows:
        missing = [f for f in _VINTAGE_FIELDS if not row.get(f)]
        if missing or not row["primeiro_ano"].isdigit():
            problems.append(Problem(_VINTAGES, line, missing[0] if missing
                                    else "primeiro_ano", "valor ausente ou inválido"))
            continue
        columns = (row["co_regiao"], row["no_regiao"], row["co_macro"], row["no_macro"])
        known = builtin.get(row["id"])
        if (known is not None and known.columns == columns
                and known.first_year == int(row["primeiro_ano"])):
            found.append(known)
        else:
            found.append(Vintage(row["id"], row["rotulo"], int(row["primeiro_ano"]),
                                 columns))
    if problems or not found:
        raise ReferencePackError(
            f"{_VINTAGES} inválido; rode 'rmds reference check'",
            problems or [Problem(_VINTAGES, None, None, "nenhuma regionalização")])
    return tuple(sorted(found, key=lambda v: v.first_year))


def installed_versions(root: Path) -> list[str]:
    """Names of the versions installed under ``root``, oldest first."""
    folder = root / VERSIONS
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True)
class RegionChange:
    """A municipality whose region or macro-region differs in the new regionalisation."""

    municipality: str
    name: str
    region_before: str
    region_after: str
    macro_before: str
    macro_after: str


@dataclass
class SyncResult:
    version: str
    directory: Path
    installed: bool
    vintage: str | None = None
    first_year: int | None = None
    changes: list[RegionChange] = field(default_factory=list)
    population_year: int | None = None
    population_changed: int = 0
    cid10_codes: int = 0
    sigtap_procedures: int = 0
    sigtap_competence: str | None = None
    files_changed: list[str] = field(default_factory=list)


def _pick(header: list[str], names: tuple[str, ...]) -> str | None:
    folded = {h.strip().lower(): h for h in header}
    return next((folded[n] for n in names if n in folded), None)


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line, row) of a CSV separated by commas or semicolons (UTF-8 or
    Latin-1, as spreadsheets save them)."""
    if not path.is_file():
        raise InputError(f"{path}: arquivo não encontrado")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(lines, delimiter=delimiter)
    rows = [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
            for row in reader]
    return list(reader.fieldnames or []), rows


def _code7(value: str, known6: dict[str, str]) -> str | None:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 7:
        return digits if digits[:6] in known6 else None
    return known6.get(digits) if len(digits) == 6 else None


def read_regionalisation(path: Path, municipalities: dict[str, str]
                         ) -> dict[str, tuple[str, str, str, str]]:
    """ibge7 → (region, region name, macro-region, its name) from a regionalisation table;
    every problem (file, line, field) reported at once. ``municipalities``: ibge7 → name
    of the pack's municipalities, each of which must be placed exactly once."""
    header, rows = _read_table(path)
    columns = [_pick(header, names) for names in (_CODE, _REGION, _REGION_NAME, _MACRO,
                                                   _MACRO_NAME)]
    missing = [names[0] for names, c in zip((_CODE, _REGION, _REGION_NAME, _MACRO,
                                             _MACRO_NAME), columns, strict=True) if c is None]
    if missing:
        raise ReferencePackError(f"{path.name}: colunas ausentes", [
            Problem(path.name, 1, name, "coluna ausente") for name in missing])
    code_col, reg_col, reg_name_col, mac_col, mac_name_col = (str(c) for c in columns)
    known6 = {code[:6]: code for code in municipalities}
    out: dict[str, tuple[str, str, str, str]] = {}
    problems: list[Problem] = []
    macro_of: dict[str, str] = {}
    for line, row in rows:
        code = _code7(row[code_col], known6)
        if code is None:
            problems.append(Problem(path.name, line, code_col,
                                    f"município de MG desconhecido: {row[code_col]!r}"))
            continue
        region, macro = row[reg_col], row[mac_col]
        if not re.fullmatch(r"31\d{3}", region):
            problems.append(Problem(path.name, line, reg_col,
                                    f"código de região mal formado: {region!r}"))
            continue
        if not re.fullmatch(r"31\d{2}", macro):
            problems.append(Problem(path.name, line, mac_col,
                                    f"código de macrorregião mal formado: {macro!r}"))
            continue
        if code in out:
            problems.append(Problem(path.name, line, code_col,
                                    f"município {code} repetido"))
            continue
        if macro_of.setdefault(region, macro) != macro:
            problems.append(Problem(path.name, line, mac_col,
                                    f"região {region} em duas macrorregiões: "
                                    f"{macro_of[region]} e {macro}"))
        out[code] = (region, row[reg_name_col] or region, macro, row[mac_name_col] or macro)
    _all_placed(path, municipalities, out, code_col, "sem região", "regionalização inválida",
                problems)
    return out


_LIST_ABSENT = 20     # more municipalities absent than this: one problem says how many


def _all_placed(path: Path, municipalities: dict[str, str], found: Mapping[str, object],
                column: str, missing: str, title: str, problems: list[Problem]) -> None:
    """Every municipality of the pack must be in ``found``: one problem per one absent
    (one problem saying how many, with the first ones, when most are absent: a table for
    the wrong state, or only the changed rows), and all the table's problems raised at
    once."""
    absent = sorted(set(municipalities) - set(found))
    if len(absent) > _LIST_ABSENT:
        named = ", ".join(f"{c} ({municipalities[c]})" for c in absent[:5])
        problems.append(Problem(path.name, None, column, (
            f"{len(absent)} de {len(municipalities)} municípios {missing}, p. ex. {named}: "
            "a tabela precisa de uma linha por município de MG, inclusive os que não mudam")))
        absent = []
    for code in absent:
        problems.append(Problem(path.name, None, column,
                                f"município {code} ({municipalities[code]}) {missing}"))
    if problems:
        raise ReferencePackError(f"{path.name}: {title}", problems)


def read_population(path: Path, municipalities: dict[str, str]) -> dict[str, int]:
    """ibge7 → resident population from an IBGE estimate table (the DOU spreadsheet
    saved as CSV: "COD. UF", "COD. MUNIC" (5 digits), "POPULAÇÃO ESTIMADA" with thousands
    dots and footnote marks such as ``12.345(1)``; or cod_ibge7 and populacao). Rows of
    other states are skipped; every MG municipality must be there."""
    header, rows = _read_table(path)
    code_col, uf_col, value_col = (_pick(header, _POP_CODE), _pick(header, _POP_UF),
                                   _pick(header, _POP_VALUE))
    if code_col is None or value_col is None:
        raise ReferencePackError(f"{path.name}: colunas ausentes", [
            Problem(path.name, 1, name, "coluna ausente")
            for name, col in (("cod_ibge7", code_col), ("populacao", value_col))
            if col is None])
    known6 = {code[:6]: code for code in municipalities}
    out: dict[str, int] = {}
    problems: list[Problem] = []
    for line, row in rows:
        digits = re.sub(r"\D", "", row[code_col])
        if uf_col is not None and len(digits) == 5:
            digits = re.sub(r"\D", "", row[uf_col]) + digits
        if not digits.startswith("31"):
            continue                       # another state's row
        code = _code7(digits, known6)
        if code is None:
            problems.append(Problem(path.name, line, code_col,
                                    f"município de MG desconhecido: {row[code_col]!r}"))
            continue
        value = re.sub(r"\(.*?\)|\*", "", row[value_col]).replace(".", "").strip()
        if not value.isdigit() or int(value) <= 0:
            problems.append(Problem(path.name, line, value_col,
                                    f"população inválida: {row[value_col]!r}"))
            continue
        out[code] = int(value)
    _all_placed(path, municipalities, out, code_col, "sem população",
                "estimativa de população inválida", problems)
    return out


def _rewrite(path: Path, change: dict[str, dict[str, str]], new_columns: list[str]) -> int:
    """Adds ``new_columns`` (or replaces them) in a pack CSV keyed by cod_ibge7, with the
    values ``change[ibge7]``; returns how many values differ from before."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    header += [c for c in new_columns if c not in header]
    differ = 0
    for row in rows:
        for column, value in change.get(row["cod_ibge7"], {}).items():
            differ += row.get(column) != value
            row[column] = value
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return differ


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _changed_files(old: Path, new: Path) -> list[str]:
    names = {p.relative_to(new).as_posix() for p in new.rglob("*") if p.is_file()}
    return sorted(n for n in names
                  if not (old / n).is_file() or _digest(old / n) != _digest(new / n))


def _write_vintages(folder: Path, vintages: list[Vintage]) -> None:
    with (folder / _VINTAGES).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(_VINTAGE_FIELDS)
        for v in vintages:
            writer.writerow([str(v), v.label, v.first_year, *v.columns])


def build_version(base: Path, root: Path, *, regionalisation: Path | None = None,
                  valid_from: int | None = None, vintage_id: str | None = None,
                  label: str | None = None, population: Path | None = None,
                  population_year: int | None = None, version: str | None = None,
                  cid10: Path | None = None, sigtap: Path | None = None,
                  install: bool = True) -> SyncResult:
    """Build a new pack version under ``root`` from the pack at ``base`` and the tables
    given, check it, and (``install``) make it the one in use. Nothing is written where
    a check fails; the versions already installed are never touched."""
    from rmds.territory.check import check_pack
    from rmds.territory.pack import ReferencePack

    if regionalisation is None and population is None and cid10 is None and sigtap is None:
        raise InputError("nada a sincronizar: dê --regionalizacao, --populacao, --cid10 "
                         "e/ou --sigtap")
    current = ReferencePack(base)
    source = current.directory
    names = {code: m.name for code, m in current.municipalities.items()}
    vintages = list(current.vintages)
    name = version or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if not _VERSION.fullmatch(name):
        raise InputError(f"nome de versão inválido: {name!r} (letras minúsculas, dígitos, _ "
                         "e -)")
    target = root / VERSIONS / name
    if target.exists():
        raise InputError(f"a versão {name} já existe em {root / VERSIONS}")
    result = SyncResult(name, target, False)
    placed: dict[str, tuple[str, str, str, str]] = {}
    counts: dict[str, int] = {}
    if regionalisation is not None:
        if valid_from is None:
            raise InputError("--vigente-desde é obrigatório com --regionalizacao: o ano a "
                             "partir do qual a nova regionalização vale")
        latest = vintages[-1]
        if valid_from <= latest.first_year:
            raise InputError(
                f"--vigente-desde {valid_from}: a regionalização {latest} já vale desde "
                f"{latest.first_year}; a nova deve começar depois (os anos anteriores "
                "mantêm as regiões que tinham)")
        vid = vintage_id or f"pdr_{valid_from}"
        if not _ID.fullmatch(vid) or vid in vintages:
            raise InputError(f"código de regionalização inválido ou já usado: {vid!r}")
        placed = read_regionalisation(regionalisation, names)
        new = Vintage(vid, label or f"Regionalização vigente desde {valid_from}", valid_from)
        for code, (region, _, macro, _) in placed.items():
            m = current.municipalities[code]
            if (m.region[latest], m.macro[latest]) != (region, macro):
                result.changes.append(RegionChange(code, m.name, m.region[latest], region,
                                                   m.macro[latest], macro))
        vintages.append(new)
        result.vintage, result.first_year = vid, valid_from
    if population is not None:
        if population_year is None:
            raise InputError("--ano-populacao é obrigatório com --populacao")
        counts = read_population(population, names)
        result.population_year = population_year
    tables: dict[str, bytes] = {}       # pack-relative path → new content
    if cid10 is not None:
        tables |= cid10_files(cid10)
        result.cid10_codes = sum(max(0, content.count(b"\n") - 1) for name, content
                                 in tables.items() if name.endswith("CATEGORIAS.utf8.csv"))
    if sigtap is not None:
        content, result.sigtap_procedures, result.sigtap_competence = sigtap_file(sigtap)
        tables[SIGTAP_FILE] = content
    staging = root / VERSIONS / f".{name}.parcial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns(VERSIONS, POINTER))
        for path in [staging, *staging.rglob("*")]:   # the source pack may be read-only
            path.chmod(path.stat().st_mode | 0o200)
        if placed:
            new = vintages[-1]
            _rewrite(staging / _MUNICIPALITIES,
                     {code: dict(zip(new.columns, values, strict=True))
                      for code, values in placed.items()}, list(new.columns))
            _write_vintages(staging, vintages)
        for relative, content in tables.items():
            (staging / relative).write_bytes(content)
        if counts:
            column = f"pop_{population_year}"
            result.population_changed = _rewrite(
                staging / _IBGE, {c: {column: str(v)} for c, v in counts.items()}, [column])
        report = check_pack(staging)
        if not report.ok:
            raise ReferencePackError("a nova versão do pacote não passou na verificação",
                                     report.errors)
        result.files_changed = _changed_files(source, staging)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if install:
        pointer = root / POINTER
        tmp = root / f".{POINTER}.tmp"
        tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(tmp, pointer)
        result.installed = True
    return result
