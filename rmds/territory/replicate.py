"""A multi-UF reference pack: Minas Gerais replicated under other UF codes.

The reference pack holds one state. To run the pipeline over several UFs (the national
plan in ``docs/scale.md``) without the other states' reference data, this writes a pack
where each chosen UF is a copy of Minas Gerais under that UF's codes: municipality
``3106200`` becomes ``3306205`` in RJ (the IBGE check digit recomputed), health region
``31015`` becomes ``33015``, macro-region ``3115`` becomes ``3315``, and the URS carry the
UF's acronym (``Uberlândia (RJ)``). Names of municipalities and regions stay as they are:
homonymous municipalities in different UFs are real (there is a Bom Jesus in five).
Populations, census figures and geometry are copied under the new codes; code tables
(CID-10, SIGTAP, ICSAP) and the consortia (which are Minas Gerais's) are copied as they
are. The national health-region file keeps every other UF and lists the replicas in place
of the chosen UFs' real municipalities.

The result is a directory outside the repository (reference data never enters it), read
like any pack (``RMDS_REFERENCE_DIR`` or ``--reference``).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rmds.exceptions import ConfigurationError
from rmds.territory.model import STATE_CODE, UFS
from rmds.territory.pack import ibge_check_digit
from rmds.territory.versions import resolve_pack

__all__ = ["replicate_pack", "uf_code"]

_BY_CODE = (
    "populacao_ibge.csv", "populacao_sexo_faixa5.csv", "populacao_sexo_idade_simples.csv")
_REGIONS = "microrregioes_pdr_atual.csv"
_NATIONAL = "regioes_saude_brasil_rs449.csv"
_GEOMETRY = "malha_municipios.geojson"


def uf_code(text: str) -> str:
    """``"RJ"`` or ``"33"`` → ``"33"``; a clear error for anything else."""
    value = text.strip().upper()
    if value in UFS:
        return value
    for code, (acronym, _) in UFS.items():
        if acronym == value:
            return code
    raise ConfigurationError(f"UF desconhecida: {text!r}; use a sigla (RJ) ou o código "
                             "IBGE (33)")


def _municipality(code: str, uf: str) -> str:
    """A municipality code of MG (6 or 7 digits) under ``uf``."""
    return ibge_check_digit(uf + code[2:6]) if len(code) == 7 else uf + code[2:]


def _rows(path: Path, delimiter: str = ",") -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        return list(reader.fieldnames or ()), list(reader)


def _write(path: Path, columns: list[str], rows: Iterable[dict[str, str]],
           delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _replicated(path: Path, ufs: Sequence[str],
                change: Callable[[dict[str, str], str], dict[str, str]],
                delimiter: str = ",") -> None:
    """The file with its rows, then each UF's copy of them."""
    columns, rows = _rows(path, delimiter)
    _write(path, columns, rows + [change(dict(row), uf) for uf in ufs for row in rows],
           delimiter)


def _municipality_row(row: dict[str, str], uf: str) -> dict[str, str]:
    for column in ("cod_ibge7", "cod_ibge6"):
        if row.get(column):
            row[column] = _municipality(row[column], uf)
    for column in row:
        if column.startswith(("co_regsaud", "co_macsaud")) and row[column]:
            row[column] = uf + row[column][2:]
    for column in ("urs_pdr_atual", "urs"):
        if row.get(column):
            row[column] = f"{row[column]} ({UFS[uf][0]})"
    return row


def replicate_pack(source: Path, out: Path, ufs: Sequence[str]) -> Path:
    """Write into ``out`` (which must not exist) the pack of ``source`` (Minas Gerais) with
    a copy of its territory under each UF of ``ufs`` (IBGE codes or acronyms)."""
    source = resolve_pack(Path(source))          # a versioned root: its current version
    codes = [uf_code(u) for u in ufs]
    if STATE_CODE in codes or len(set(codes)) != len(codes):
        raise ConfigurationError("as UFs das réplicas devem ser distintas e diferentes de MG")
    if out.exists():
        raise ConfigurationError(f"{out}: o destino já existe")
    if not (source / "municipios.csv").is_file():
        raise ConfigurationError(f"{source}: não é um pacote de referência (sem "
                                 "municipios.csv)")
    partial = out.with_name(out.name + ".parcial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(source, partial)
        for path in partial.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        for name in ("municipios.csv", _REGIONS, *_BY_CODE):
            if (partial / name).is_file():
                _replicated(partial / name, codes, _municipality_row)
        _national(partial, codes)
        _geometry(partial / _GEOMETRY, codes)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(out)
    return out


def _national(pack: Path, codes: Sequence[str]) -> None:
    """The national regions file with the replicas in place of the chosen UFs' rows."""
    path = pack / _NATIONAL
    if not path.is_file():
        return
    columns, rows = _rows(path, ";")
    kept = [r for r in rows if r["coduf"] not in codes]
    mg = [r for r in rows if r["coduf"] == STATE_CODE]
    copies = [{**r, "coduf": uf, "sigla": UFS[uf][0], "cod_cgrs": uf + r["cod_cgrs"][2:],
               "cod_munic": uf + r["cod_munic"][2:]} for uf in codes for r in mg]
    _write(path, columns, kept + copies, ";")


def _geometry(path: Path, codes: Sequence[str]) -> None:
    if not path.is_file():
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    features = data["features"]
    copies = []
    for uf in codes:
        for feature in features:
            copy = json.loads(json.dumps(feature))
            copy["properties"]["id"] = _municipality(str(feature["properties"]["id"]), uf)
            copies.append(copy)
    data["features"] = features + copies
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
