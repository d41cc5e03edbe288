"""``rmds reference check``: validate a reference pack and report every problem at once.

Each check reads the files itself (it does not trust the loader) and records a
:class:`~rmds.exceptions.Problem` naming the file, row (line number, header = 1) and field.
Problems of severity ``erro`` make the pack unusable; ``aviso`` are reported but do not
fail the check (caveats already documented in SOURCES.md, for instance).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rmds.codes.cid10 import normalize_cid10
from rmds.exceptions import InvalidCodeError, Problem, ReferencePackError
from rmds.territory.model import AGE_GROUPS, BUILTIN_VINTAGES, STATE_CODE, UFS, Vintage, fold
from rmds.territory.versions import read_vintages, resolve_pack

__all__ = ["CheckReport", "check_pack", "is_valid_cnpj"]

ERROR, WARNING = "erro", "aviso"

_POP_COLUMNS = ("pop_censo2010", "pop_censo2022", "pop_ibge_est2024", "pop_datasus_2022",
                "pop_datasus_2024")
_MG_BOUNDS = (-23.0, -14.0, -51.5, -39.5)  # lat min, lat max, lon min, lon max
_BRAZIL_BOUNDS = (-34.0, 5.5, -74.0, -34.5)  # for the other UFs of a multi-UF pack
#: a code of the pack begins with a UF's IBGE code (Minas Gerais's pack: 31)
_UF = "(?:" + "|".join(UFS) + ")"


@dataclass
class CheckReport:
    """What a check found: problems with their severity, and what was checked."""

    directory: Path
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, file: str, row: int | None, column: str | None, message: str,
            severity: str = ERROR) -> None:
        target = self.errors if severity == ERROR else self.warnings
        target.append(Problem(file, row, column, message))


def is_valid_cnpj(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    if len(digits) != 14 or len(set(digits)) == 1:
        return False
    numbers = [int(d) for d in digits]
    for size in (12, 13):
        weights = list(range(size - 7, 1, -1)) + list(range(9, 1, -1))
        remainder = sum(n * w for n, w in zip(numbers[:size], weights, strict=True)) % 11
        if numbers[size] != (0 if remainder < 2 else 11 - remainder):
            return False
    return True


def _rows(report: CheckReport, name: str, required: tuple[str, ...],
          delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    path = report.directory / name
    if not path.is_file():
        report.add(name, None, None, "arquivo ausente")
        return
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        for column in missing:
            report.add(name, 1, column, "coluna obrigatória ausente")
        if missing:
            return
        count = 0
        for row in reader:
            count += 1
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}
        report.checked[name] = count


def _positive_int(report: CheckReport, name: str, line: int, column: str, value: str,
                  allow_zero: bool = False) -> int | None:
    try:
        number = int(value)
    except ValueError:
        report.add(name, line, column, f"valor não inteiro: {value!r}")
        return None
    if number < 0 or (number == 0 and not allow_zero):
        report.add(name, line, column, f"população deve ser positiva: {number}")
        return None
    return number


def _vintages(report: CheckReport) -> tuple[Vintage, ...]:
    """The pack's regionalisations (``regionalizacoes.csv`` or the built-in two), its
    problems reported."""
    try:
        return read_vintages(report.directory)
    except ReferencePackError as exc:
        for problem in exc.problems:
            report.add(problem.file, problem.row, problem.field, problem.message)
        return BUILTIN_VINTAGES


def _check_municipalities(report: CheckReport) -> dict[str, int]:
    name = "municipios.csv"
    vintages = _vintages(report)
    required = ("cod_ibge7", "cod_ibge6", "nome", "lat", "lon", "area_km2", *_POP_COLUMNS,
                *(c for v in vintages for c in v.columns), "urs_pdr_atual")
    regions_pdr: dict[str, dict[str, str]] = {}
    for line, row in _rows(report, "microrregioes_pdr_atual.csv",
                           ("co_regsaud", "no_regsaud", "co_macsaud", "urs")):
        code = row["co_regsaud"]
        if not re.fullmatch(_UF + r"\d{3}", code):
            report.add("microrregioes_pdr_atual.csv", line, "co_regsaud",
                       f"código de região mal formado: {code!r}")
        if code in regions_pdr:
            report.add("microrregioes_pdr_atual.csv", line, "co_regsaud",
                       f"código de região duplicado: {code}")
        regions_pdr[code] = row

    seen7: dict[str, int] = {}
    seen6: dict[str, int] = {}
    region_macro: dict[tuple[str, str], tuple[str, int]] = {}
    used_regions: set[str] = set()
    for line, row in _rows(report, name, required):
        code7, code6 = row["cod_ibge7"], row["cod_ibge6"]
        if not re.fullmatch(_UF + r"\d{5}", code7):
            report.add(name, line, "cod_ibge7", f"código IBGE mal formado: {code7!r}")
        elif code7 in seen7:
            report.add(name, line, "cod_ibge7",
                       f"código duplicado: {code7} (já na linha {seen7[code7]})")
        else:
            seen7[code7] = line
        if code6 != code7[:6]:
            report.add(name, line, "cod_ibge6",
                       f"código DATASUS {code6!r} não corresponde a {code7!r}")
        elif code6 in seen6:
            report.add(name, line, "cod_ibge6",
                       f"código duplicado: {code6} (já na linha {seen6[code6]})")
        else:
            seen6[code6] = line
        if not row["nome"]:
            report.add(name, line, "nome", "nome vazio")
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
            bounds, where = ((_MG_BOUNDS, "MG") if code7.startswith(STATE_CODE)
                             else (_BRAZIL_BOUNDS, "do Brasil"))
            if not (bounds[0] <= lat <= bounds[1] and bounds[2] <= lon <= bounds[3]):
                report.add(name, line, "lat", f"coordenadas fora {where}: {lat}, {lon}")
        except ValueError:
            report.add(name, line, "lat", "coordenadas não numéricas")
        for column in _POP_COLUMNS:
            _positive_int(report, name, line, column, row[column])
        for vintage in vintages:
            # a municipality's region and macro-region are of its own UF
            uf = re.escape(code7[:2])
            region_col, macro_col, pattern = vintage.columns[0], vintage.columns[2], uf + r"\d{2}"
            region, macro = row[region_col], row[macro_col]
            if not re.fullmatch(uf + r"\d{3}", region):
                report.add(name, line, region_col,
                           f"município sem região de saúde válida: {region!r}")
                continue
            if not re.fullmatch(pattern, macro):
                report.add(name, line, macro_col,
                           f"município sem macrorregião válida: {macro!r}")
                continue
            first = region_macro.setdefault((vintage, region), (macro, line))
            if first[0] != macro:
                report.add(name, line, macro_col,
                           f"região {region} em duas macrorregiões: {first[0]} (linha "
                           f"{first[1]}) e {macro}")
            if vintage == "pdr_atual":
                used_regions.add(region)
                known = regions_pdr.get(region)
                if known is None:
                    report.add(name, line, region_col,
                               f"região de saúde desconhecida: {region} (não está em "
                               "microrregioes_pdr_atual.csv)")
                else:
                    if known["co_macsaud"] != macro:
                        report.add(name, line, macro_col,
                                   f"macrorregião {macro} difere da região {region} "
                                   f"({known['co_macsaud']})")
                    if fold(known["urs"]) != fold(row["urs_pdr_atual"]):
                        report.add(name, line, "urs_pdr_atual",
                                   f"URS {row['urs_pdr_atual']!r} difere da região {region} "
                                   f"({known['urs']!r})")
        if not row["urs_pdr_atual"]:
            report.add(name, line, "urs_pdr_atual", "município sem URS")
    for region, row in regions_pdr.items():
        if region not in used_regions and seen7:
            report.add("microrregioes_pdr_atual.csv", None, "co_regsaud",
                       f"região {region} ({row['no_regsaud']}) sem municípios")
    return seen7


def _check_population(report: CheckReport, known: dict[str, int]) -> None:
    name = "populacao_ibge.csv"
    seen: set[str] = set()
    for line, row in _rows(report, name, ("cod_ibge7",)):
        code = row["cod_ibge7"]
        if code not in known:
            report.add(name, line, "cod_ibge7", f"município desconhecido: {code!r}")
        if code in seen:
            report.add(name, line, "cod_ibge7", f"código duplicado: {code}")
        seen.add(code)
        for column, value in row.items():
            if column.startswith("pop_") and value:
                _positive_int(report, name, line, column, value)
    for code in sorted(set(known) - seen):
        report.add(name, None, "cod_ibge7", f"município {code} sem série do IBGE")

    for name, columns in (
        ("populacao_sexo_faixa5.csv", [f"pop_{g}" for g in AGE_GROUPS]),
        ("populacao_sexo_idade_simples.csv",
         [f"idade_{i:02d}" for i in range(80)] + ["idade_80_mais"]),
    ):
        keys: dict[tuple[str, str, str], int] = {}
        years: dict[str, set[str]] = defaultdict(set)
        for line, row in _rows(report, name, ("cod_ibge7", "ano", "sexo", *columns,
                                              "pop_total")):
            code = row["cod_ibge7"]
            if code not in known:
                report.add(name, line, "cod_ibge7", f"município desconhecido: {code!r}")
            if row["sexo"] not in ("1", "2"):
                report.add(name, line, "sexo", f"sexo deve ser 1 ou 2: {row['sexo']!r}")
            key = (code, row["ano"], row["sexo"])
            if key in keys:
                report.add(name, line, "cod_ibge7",
                           f"linha duplicada para {code}/{row['ano']}/sexo {row['sexo']} "
                           f"(já na linha {keys[key]})")
            keys[key] = line
            years[row["ano"]].add(code)
            values = [_positive_int(report, name, line, c, row[c], allow_zero=True)
                      for c in columns]
            total = _positive_int(report, name, line, "pop_total", row["pop_total"])
            if total is not None and None not in values:
                parts = sum(v for v in values if v is not None)
                if parts != total:
                    report.add(name, line, "pop_total",
                               f"soma das faixas ({parts}) difere do total ({total})")
        for year, codes in sorted(years.items()):
            missing = set(known) - codes
            if missing:
                report.add(name, None, "cod_ibge7",
                           f"{len(missing)} municípios sem população em {year}, "
                           f"ex.: {sorted(missing)[0]}")


def _check_geometry(report: CheckReport, known: dict[str, int],
                    names: dict[str, set[str]]) -> None:
    for name, key, expected in (
        ("malha_municipios.geojson", "id", set(known)),
        ("malha_microrregioes.geojson", "microName", names["regiao"]),
        ("malha_macrorregioes.geojson", "macroName", names["macro"]),
    ):
        path = report.directory / name
        if not path.is_file():
            report.add(name, None, None, "arquivo ausente")
            continue
        try:
            features = json.loads(path.read_text(encoding="utf-8"))["features"]
        except (ValueError, KeyError) as exc:
            report.add(name, None, None, f"GeoJSON ilegível: {exc}")
            continue
        seen: set[str] = set()
        for index, feature in enumerate(features, start=1):
            value = str((feature.get("properties") or {}).get(key, ""))
            value_key = value if key == "id" else fold(value)
            where = f"features[{index - 1}]"
            if value_key not in expected:
                report.add(name, None, f"{where}.properties.{key}",
                           f"feição ligada a código desconhecido: {value!r}")
            elif value_key in seen:
                report.add(name, None, f"{where}.properties.{key}",
                           f"feição duplicada: {value!r}")
            seen.add(value_key)
            geometry = feature.get("geometry") or {}
            if geometry.get("type") not in ("Polygon", "MultiPolygon"):
                report.add(name, None, f"{where}.geometry",
                           "geometria ausente ou não poligonal")
        for missing in sorted(expected - seen):
            report.add(name, None, f"properties.{key}", f"sem geometria: {missing}")
        report.checked[name] = len(features)


def _check_consortia(report: CheckReport, known: dict[str, int]) -> None:
    name = "consorcios_parcial.csv"
    acronyms: set[str] = set()
    for line, row in _rows(report, name, ("sigla", "nome", "cnpj")):
        if not row["sigla"]:
            report.add(name, line, "sigla", "sigla vazia")
        elif row["sigla"] in acronyms:
            report.add(name, line, "sigla", f"sigla duplicada: {row['sigla']}")
        acronyms.add(row["sigla"])
        if row["cnpj"] and not is_valid_cnpj(row["cnpj"]):
            report.add(name, line, "cnpj", f"CNPJ com dígitos verificadores inválidos: "
                       f"{row['cnpj']}", WARNING)
    name = "consorcio_municipios_parcial.csv"
    pairs: set[tuple[str, str]] = set()
    for line, row in _rows(report, name, ("sigla", "cod_ibge7")):
        if row["sigla"] not in acronyms:
            report.add(name, line, "sigla", f"consórcio desconhecido: {row['sigla']!r}")
        if row["cod_ibge7"] not in known:
            report.add(name, line, "cod_ibge7", f"município desconhecido: {row['cod_ibge7']!r}")
        pair = (row["sigla"], row["cod_ibge7"])
        if pair in pairs:
            report.add(name, line, "cod_ibge7", f"membro repetido: {pair[1]} em {pair[0]}")
        pairs.add(pair)


def _check_codes(report: CheckReport) -> None:
    # Subcategories are 4 characters; DATASUS repeats undivided categories (3 characters)
    # in the subcategory table, so uniqueness is checked within each file.
    cid: set[str] = set()
    for file, column, pattern in (("cid10/CID-10-CATEGORIAS.utf8.csv", "CAT", r"[A-Z]\d{2}"),
                                  ("cid10/CID-10-SUBCATEGORIAS.utf8.csv", "SUBCAT",
                                   r"[A-Z]\d{2}\d?")):
        in_file: set[str] = set()
        for line, row in _rows(report, file, (column, "DESCRICAO"), delimiter=";"):
            code = row[column]
            if not re.fullmatch(pattern, code):
                report.add(file, line, column, f"código CID-10 mal formado: {code!r}")
            elif code in in_file:
                report.add(file, line, column, f"código CID-10 duplicado: {code}")
            in_file.add(code)
        cid |= in_file
    file = "icsap_portaria221_2008_grupos.csv"
    patterns: dict[str, re.Pattern[str]] = {}
    for line, row in _rows(report, file, ("grupo", "nome_grupo", "regex_cid10_sem_ponto")):
        try:
            patterns[row["grupo"]] = re.compile(row["regex_cid10_sem_ponto"])
        except re.error as exc:
            report.add(file, line, "regex_cid10_sem_ponto", f"expressão inválida: {exc}")
    file = "icsap_portaria221_2008_cid10_expandido.csv"
    for line, row in _rows(report, file, ("cid10", "grupo")):
        try:
            normal = normalize_cid10(row["cid10"])
        except InvalidCodeError as exc:
            report.add(file, line, "cid10", str(exc))
            continue
        code = normal or ""
        if code not in cid:
            report.add(file, line, "cid10", f"código ausente da CID-10: {code}")
        if row["grupo"] not in patterns:
            report.add(file, line, "grupo", f"grupo ICSAP desconhecido: {row['grupo']!r}")
        elif code and not patterns[row["grupo"]].match(code):
            report.add(file, line, "cid10",
                       f"{code} não corresponde à expressão do grupo {row['grupo']}", WARNING)
    file = "sigtap_procedimentos.csv"
    sigtap: set[str] = set()
    for line, row in _rows(report, file, ("co_procedimento", "no_procedimento")):
        code = row["co_procedimento"]
        if not re.fullmatch(r"\d{10}", code):
            report.add(file, line, "co_procedimento", f"código SIGTAP mal formado: {code!r}")
        elif code in sigtap:
            report.add(file, line, "co_procedimento", f"código SIGTAP duplicado: {code}")
        sigtap.add(code)
        if not row["no_procedimento"]:
            report.add(file, line, "no_procedimento", "nome vazio")


def _unit_names(report: CheckReport) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {"regiao": set(), "macro": set()}
    path = report.directory / "microrregioes_pdr_atual.csv"
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                names["regiao"].add(fold(row.get("no_regsaud") or ""))
                names["macro"].add(fold(row.get("no_macsaud") or ""))
    return names


def check_pack(directory: Path) -> CheckReport:
    """Run every check on the pack in ``directory``; never raises for a bad pack."""
    report = CheckReport(resolve_pack(Path(directory)))
    if not report.directory.is_dir():
        report.add(str(directory), None, None, "diretório do pacote de referência não existe")
        return report
    known = _check_municipalities(report)
    _check_population(report, known)
    _check_geometry(report, known, _unit_names(report))
    _check_consortia(report, known)
    _check_codes(report)
    return report
