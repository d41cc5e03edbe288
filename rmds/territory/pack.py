"""The reference pack: territory, regionalisation, consortia and population of MG.

The pack is a directory of files (see ``../shared/data/SOURCES.md``), never copied into
this repository. :class:`ReferencePack` reads it lazily: the territory on first use, the
population tables only when a population is asked for.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rmds.codes.cid10 import Cid10
from rmds.codes.icsap import Icsap
from rmds.codes.sigtap import Sigtap
from rmds.exceptions import (
    AmbiguousTerritory,
    PopulationUnavailable,
    Problem,
    ReferencePackError,
    ReferencePackMissing,
    TerritoryNotFound,
)
from rmds.settings import get_setting
from rmds.territory.model import (
    AGE_GROUPS,
    STATE_CODE,
    UFS,
    Level,
    Municipality,
    Unit,
    Vintage,
    fold,
    slug,
    vintage_for_year,
)
from rmds.territory.versions import read_vintages, resolve_pack

__all__ = ["PopulationFigure", "ReferencePack", "ibge_check_digit", "read_csv_rows"]

MUNICIPALITIES_FILE = "municipios.csv"
IBGE_POPULATION_FILE = "populacao_ibge.csv"
DATASUS_POPULATION_FILE = "populacao_sexo_faixa5.csv"
CONSORTIA_FILE = "consorcios_parcial.csv"
CONSORTIUM_MEMBERS_FILE = "consorcio_municipios_parcial.csv"
NATIONAL_REGIONS_FILE = "regioes_saude_brasil_rs449.csv"
CENSUS_YEARS = frozenset({2000, 2010, 2022})


def read_csv_rows(path: Path, delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a UTF-8 CSV; the header is line 1."""
    if not path.is_file():
        raise ReferencePackMissing(f"arquivo do pacote de referência ausente: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        for row in reader:
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def ibge_check_digit(code6: str) -> str:
    """The 7-digit IBGE code of a 6-digit one, by the IBGE check-digit rule."""
    total = 0
    for index, char in enumerate(code6):
        product = int(char) * (1 if index % 2 == 0 else 2)
        total += product // 10 + product % 10
    return code6 + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class PopulationFigure:
    """A population with the source and the method behind it."""

    value: int
    year: int
    source: str
    method: str
    municipalities: int

    def as_dict(self) -> dict[str, object]:
        return {"valor": self.value, "ano": self.year, "fonte": self.source,
                "metodo": self.method, "municipios": self.municipalities}


class ReferencePack:
    """Read access to a reference pack directory."""

    def __init__(self, directory: Path, population_source: str = "datasus") -> None:
        self.directory = resolve_pack(Path(directory))
        self.population_source = population_source
        if not self.directory.is_dir():
            raise ReferencePackMissing(
                f"pacote de referência não encontrado em {self.directory}. Defina "
                "RMDS_REFERENCE_DIR (ou --reference-dir) com o diretório que contém "
                "municipios.csv; veja ../shared/data/SOURCES.md."
            )

    @classmethod
    def from_settings(cls, directory: Path | str | None = None) -> ReferencePack:
        resolved = get_setting("reference_dir", directory)
        return cls(Path(str(resolved)), str(get_setting("population_source")))

    # ------------------------------------------------------------------ territory

    @cached_property
    def vintages(self) -> tuple[Vintage, ...]:
        """The pack's regionalisations, oldest first (``regionalizacoes.csv``, or the two
        built in: :data:`rmds.territory.model.BUILTIN_VINTAGES`)."""
        return read_vintages(self.directory)

    @property
    def current_vintage(self) -> Vintage:
        """The latest regionalisation: what pages show when no year is chosen."""
        return self.vintages[-1]

    def vintage(self, code: str) -> Vintage:
        """A regionalisation of the pack by its code."""
        for known in self.vintages:
            if known == code:
                return known
        raise TerritoryNotFound(
            f"regionalização desconhecida: {code!r}; conhecidas: "
            f"{', '.join(self.vintages)}")

    def vintage_for_year(self, year: int) -> Vintage:
        """The regionalisation valid in ``year`` (the latest begun by then)."""
        return vintage_for_year(year, self.vintages)

    @cached_property
    def municipalities(self) -> dict[str, Municipality]:
        """IBGE 7-digit code → municipality, in file order."""
        problems: list[Problem] = []
        result: dict[str, Municipality] = {}
        for line, row in read_csv_rows(self.directory / MUNICIPALITIES_FILE):
            try:
                municipality = Municipality(
                    ibge7=row["cod_ibge7"],
                    ibge6=row["cod_ibge6"],
                    name=row["nome"],
                    lat=float(row["lat"]),
                    lon=float(row["lon"]),
                    altitude=float(row["altitude"]) if row.get("altitude") else None,
                    area_km2=float(row["area_km2"]),
                    region={v: row[v.columns[0]] for v in self.vintages},
                    macro={v: row[v.columns[2]] for v in self.vintages},
                    urs=row["urs_pdr_atual"],
                    census={2010: int(row["pop_censo2010"]), 2022: int(row["pop_censo2022"])},
                    region_name={v: row[v.columns[1]] for v in self.vintages},
                    macro_name={v: row[v.columns[3]] for v in self.vintages},
                )
            except KeyError as exc:
                raise ReferencePackError(
                    "municipios.csv sem coluna obrigatória",
                    [Problem(MUNICIPALITIES_FILE, 1, str(exc.args[0]), "coluna ausente")],
                ) from None
            except ValueError as exc:
                problems.append(Problem(MUNICIPALITIES_FILE, line, None, str(exc)))
                continue
            result[municipality.ibge7] = municipality
        if problems:
            raise ReferencePackError(
                "o pacote de referência tem erros; rode 'rmds reference check'", problems)
        return result

    @cached_property
    def _by_ibge6(self) -> dict[str, Municipality]:
        return {m.ibge6: m for m in self.municipalities.values()}

    def municipality(self, code: str) -> Municipality:
        """A municipality by its 7-digit IBGE or 6-digit DATASUS code."""
        code = code.strip()
        found = (self.municipalities.get(code) if len(code) == 7
                 else self._by_ibge6.get(code) if len(code) == 6 else None)
        if found is None:
            raise TerritoryNotFound(f"município de MG não encontrado: {code!r}")
        return found

    @cached_property
    def national_ibge6(self) -> frozenset[str]:
        """6-digit codes of every Brazilian municipality (health regions file, 2019–22)."""
        return frozenset(row["cod_munic"] for _, row in read_csv_rows(
            self.directory / NATIONAL_REGIONS_FILE, delimiter=";"))

    def ibge6_to_7_table(self) -> dict[str, str]:
        """6 → 7-digit code for every Brazilian municipality: MG from the pack, other states
        by the IBGE check digit (weights 1,2,1,2,1,2; a few codes elsewhere in Brazil are
        exceptions to the rule and come out wrong)."""
        table = {code: ibge_check_digit(code) for code in self.national_ibge6}
        table.update({m.ibge6: m.ibge7 for m in self.municipalities.values()})
        return table

    def to_ibge7(self, code: str) -> str | None:
        """The 7-digit code of a 6- or 7-digit MG municipality code; ``None`` if unknown."""
        code = code.strip()
        if len(code) == 7:
            return code if code in self.municipalities else None
        found = self._by_ibge6.get(code)
        return found.ibge7 if found else None

    def _named_units(self, level: Level, vintage: Vintage) -> dict[str, Unit]:
        units: dict[str, Unit] = {}
        for m in self.municipalities.values():
            code, name = ((m.region[vintage], m.region_name[vintage]) if level is Level.REGION
                          else (m.macro[vintage], m.macro_name[vintage]))
            units.setdefault(code, Unit(level, code, name, vintage))
        return dict(sorted(units.items()))

    @cached_property
    def _regions(self) -> dict[Vintage, dict[str, Unit]]:
        return {v: self._named_units(Level.REGION, v) for v in self.vintages}

    @cached_property
    def _macros(self) -> dict[Vintage, dict[str, Unit]]:
        return {v: self._named_units(Level.MACRO, v) for v in self.vintages}

    def regions(self, vintage: Vintage | None = None) -> dict[str, Unit]:
        """Health regions of a vintage (by default the current), by 5-digit code."""
        return self._regions[vintage or self.current_vintage]

    def macros(self, vintage: Vintage | None = None) -> dict[str, Unit]:
        """Macro-regions of a vintage (by default the current), by 4-digit code."""
        return self._macros[vintage or self.current_vintage]

    @cached_property
    def urs(self) -> dict[str, Unit]:
        """Regional health units (current PDR), by slug of their name."""
        units = {slug(m.urs): Unit(Level.URS, slug(m.urs), m.urs)
                 for m in self.municipalities.values()}
        return dict(sorted(units.items()))

    @cached_property
    def consortia(self) -> dict[str, Unit]:
        """Intermunicipal health consortia known to the pack, by acronym (partial roster)."""
        units: dict[str, Unit] = {}
        for _, row in read_csv_rows(self.directory / CONSORTIA_FILE):
            name = row.get("nome") or row["sigla"]
            units[row["sigla"]] = Unit(Level.CONSORTIUM, row["sigla"], name)
        return units

    @cached_property
    def consortium_members(self) -> dict[str, tuple[str, ...]]:
        """Consortium acronym → IBGE codes of its known members (partial)."""
        members: dict[str, list[str]] = {code: [] for code in self.consortia}
        for _, row in read_csv_rows(self.directory / CONSORTIUM_MEMBERS_FILE):
            members.setdefault(row["sigla"], []).append(row["cod_ibge7"])
        return {k: tuple(v) for k, v in members.items()}

    @cached_property
    def states(self) -> dict[str, Unit]:
        """The UFs of the pack's municipalities, by IBGE code (Minas Gerais alone, or
        several in a multi-UF pack)."""
        codes = sorted({m.state for m in self.municipalities.values()}) or [STATE_CODE]
        return {code: Unit(Level.STATE, code, UFS.get(code, (code, f"UF {code}"))[1])
                for code in codes}

    @property
    def state(self) -> Unit:
        """The pack's state: Minas Gerais where the pack holds it, else its first UF."""
        return self.states.get(STATE_CODE) or next(iter(self.states.values()))

    def units(self, level: Level, vintage: Vintage | None = None) -> dict[str, Unit]:
        """Every unit of a level (regions and macro-regions in the given vintage)."""
        if level is Level.MUNICIPALITY:
            return {m.ibge7: Unit(level, m.ibge7, m.name) for m in self.municipalities.values()}
        if level is Level.REGION:
            return self.regions(vintage)
        if level is Level.MACRO:
            return self.macros(vintage)
        if level is Level.URS:
            return self.urs
        if level is Level.CONSORTIUM:
            return self.consortia
        return self.states

    def parents(self, municipality: Municipality,
                vintage: Vintage | None = None) -> dict[Level, Unit]:
        """The units a municipality belongs to, in a vintage (URS from the 2023 PDR on)."""
        vintage = vintage or self.current_vintage
        result = {
            Level.REGION: self.regions(vintage)[municipality.region[vintage]],
            Level.MACRO: self.macros(vintage)[municipality.macro[vintage]],
        }
        if vintage.has_urs:
            result[Level.URS] = self.urs[slug(municipality.urs)]
        result[Level.STATE] = self.states[municipality.state]
        return result

    def consortia_of(self, municipality: Municipality) -> list[Unit]:
        return [self.consortia[c] for c, members in self.consortium_members.items()
                if municipality.ibge7 in members and c in self.consortia]

    def members(self, unit: Unit, vintage: Vintage | None = None) -> list[Municipality]:
        """Member municipalities of a unit (for regions/macros, in the unit's vintage)."""
        vintage = vintage or unit.vintage or self.current_vintage
        everyone = self.municipalities.values()
        if unit.level is Level.MUNICIPALITY:
            return [self.municipality(unit.code)]
        if unit.level is Level.REGION:
            return [m for m in everyone if m.region[vintage] == unit.code]
        if unit.level is Level.MACRO:
            return [m for m in everyone if m.macro[vintage] == unit.code]
        if unit.level is Level.URS:
            return [m for m in everyone if slug(m.urs) == unit.code]
        if unit.level is Level.CONSORTIUM:
            codes = set(self.consortium_members.get(unit.code, ()))
            return [m for m in everyone if m.ibge7 in codes]
        return [m for m in everyone if m.state == unit.code]

    def membership(self, vintage: Vintage) -> list[dict[str, str]]:
        """One row per municipality with its codes at every level (for joins in SQL)."""
        return [
            {"cod_ibge7": m.ibge7, "cod_ibge6": m.ibge6, "regiao": m.region[vintage],
             "macrorregiao": m.macro[vintage],
             "urs": slug(m.urs) if vintage.has_urs else "",
             "estado": m.state}
            for m in self.municipalities.values()
        ]

    def find_all(self, query: str, level: Level | None = None,
                 vintage: Vintage | None = None) -> list[Unit]:
        """Every unit whose code or name matches ``query`` (accents and case ignored)."""
        text = query.strip()
        levels = [level] if level else list(Level)
        found: list[Unit] = []
        for lvl in levels:
            units = self.units(lvl, vintage)
            if lvl is Level.MUNICIPALITY and text.isdigit() and len(text) in (6, 7):
                code = self.to_ibge7(text)
                if code:
                    found.append(units[code])
                continue
            if text in units or text.upper() in units:
                found.append(units.get(text) or units[text.upper()])
                continue
            if lvl is Level.STATE and fold(text) == "estado":
                found.append(self.state)
                continue
            if lvl is Level.STATE and text.upper() in {UFS.get(c, ("",))[0] for c in units}:
                found.extend(u for c, u in units.items() if UFS[c][0] == text.upper())
                continue
            key = fold(text)
            found.extend(u for u in units.values()
                         if fold(u.name) == key or (lvl is Level.URS and u.code == slug(text)))
        return found

    def find(self, query: str, level: Level | None = None,
             vintage: Vintage | None = None) -> Unit:
        """The one unit matching ``query``; a municipality wins a name shared with others
        only when no level is given and exactly one municipality matches."""
        found = self.find_all(query, level, vintage)
        if not found:
            raise TerritoryNotFound(
                f"nenhum território de MG corresponde a {query!r}"
                + (f" no nível {level.value}" if level else ""))
        if len(found) == 1:
            return found[0]
        municipalities = [u for u in found if u.level is Level.MUNICIPALITY]
        if len(municipalities) == 1:
            return municipalities[0]
        raise AmbiguousTerritory(query, [str(u) for u in found])

    # ----------------------------------------------------------------- population

    @cached_property
    def _ibge_population(self) -> dict[str, dict[int, int]]:
        table: dict[str, dict[int, int]] = {}
        for _, row in read_csv_rows(self.directory / IBGE_POPULATION_FILE):
            table[row["cod_ibge7"]] = {
                int(k[4:]): int(v) for k, v in row.items() if k.startswith("pop_") and v}
        return table

    @cached_property
    def _datasus_population(self) -> dict[tuple[str, int, int], tuple[int, ...]]:
        """(ibge7, year, sex) → 17 age-group counts followed by the total."""
        table: dict[tuple[str, int, int], tuple[int, ...]] = {}
        columns = [f"pop_{g}" for g in AGE_GROUPS] + ["pop_total"]
        for _, row in read_csv_rows(self.directory / DATASUS_POPULATION_FILE):
            table[(row["cod_ibge7"], int(row["ano"]), int(row["sexo"]))] = tuple(
                int(row[c]) for c in columns)
        return table

    def population_years(self, source: str) -> list[int]:
        if source == "ibge":
            years = {y for series in self._ibge_population.values() for y in series}
            if {2022, 2024} <= years:
                years.add(2023)
            return sorted(years)
        return sorted({key[1] for key in self._datasus_population})

    def _municipal_population(self, ibge7: str, year: int, source: str, sexes: Sequence[int],
                              groups: Sequence[int]) -> tuple[int, str]:
        if source == "ibge":
            if len(sexes) != 2 or len(groups) != len(AGE_GROUPS):
                raise PopulationUnavailable(
                    "a série do IBGE não tem sexo nem faixa etária; use a fonte 'datasus'")
            series = self._ibge_population.get(ibge7, {})
            if year in series:
                return series[year], ("censo" if year in CENSUS_YEARS else "estimativa")
            if year == 2023 and 2022 in series and 2024 in series:
                return (round(math.sqrt(series[2022] * series[2024])),
                        "interpolação geométrica 2022–2024")
            raise PopulationUnavailable(
                f"população IBGE indisponível para {year}; anos: "
                f"{self.population_years('ibge')}")
        total = 0
        for sex in sexes:
            counts = self._datasus_population.get((ibge7, year, sex))
            if counts is None:
                raise PopulationUnavailable(
                    f"população DATASUS indisponível para {ibge7} em {year}; anos: "
                    f"{self.population_years('datasus')}")
            total += counts[-1] if len(groups) == len(AGE_GROUPS) else sum(
                counts[g] for g in groups)
        return total, "estimativa MS/SVS"

    def population(
        self,
        unit: Unit | str,
        year: int,
        *,
        source: str | None = None,
        sex: int | None = None,
        age_groups: Iterable[str] | None = None,
        vintage: Vintage | None = None,
    ) -> PopulationFigure:
        """Resident population of any unit in a year.

        ``source`` is ``"datasus"`` (MS/SVS estimates by sex and 5-year age group,
        2000–2024) or ``"ibge"`` (censuses 2000/2010/2022 and IBGE estimates; 2023, absent
        from the series, is the geometric mean of 2022 and 2024, i.e. constant growth
        between the census and the 2024 estimate). Regions and macro-regions are summed over
        their members in ``vintage`` (by default the one valid in ``year``).
        """
        if isinstance(unit, str):
            unit = self.find(unit)
        chosen = source or self.population_source
        if chosen not in ("datasus", "ibge"):
            raise PopulationUnavailable(f"fonte de população desconhecida: {chosen!r}")
        sexes = (1, 2) if sex is None else (sex,)
        if any(s not in (1, 2) for s in sexes):
            raise PopulationUnavailable("sexo deve ser 1 (masculino) ou 2 (feminino)")
        if age_groups is None:
            groups = list(range(len(AGE_GROUPS)))
        else:
            try:
                groups = [AGE_GROUPS.index(g) for g in age_groups]
            except ValueError:
                raise PopulationUnavailable(
                    f"faixa etária desconhecida; faixas: {', '.join(AGE_GROUPS)}") from None
        effective = vintage or (unit.vintage if unit.level in (Level.REGION, Level.MACRO)
                                else None) or self.vintage_for_year(year)
        members = self.members(unit, effective)
        if not members:
            raise PopulationUnavailable(f"{unit} não tem municípios conhecidos")
        total, method = 0, ""
        for municipality in members:
            value, method = self._municipal_population(
                municipality.ibge7, year, chosen, sexes, groups)
            total += value
        label = "DATASUS (MS/SVS)" if chosen == "datasus" else "IBGE"
        return PopulationFigure(total, year, label, method, len(members))

    # ---------------------------------------------------------------------- codes

    @cached_property
    def cid10(self) -> Cid10:
        return Cid10.load(self.directory)

    @cached_property
    def icsap(self) -> Icsap:
        return Icsap.load(self.directory)

    @cached_property
    def sigtap(self) -> Sigtap:
        return Sigtap.load(self.directory)

    def geometry_path(self, level: Level) -> Path:
        """The GeoJSON file for a level's map (current PDR)."""
        name = {Level.MUNICIPALITY: "malha_municipios.geojson",
                Level.REGION: "malha_microrregioes.geojson",
                Level.MACRO: "malha_macrorregioes.geojson"}.get(level)
        if name is None:
            raise TerritoryNotFound(f"não há malha para o nível {level.value}")
        return self.directory / name
