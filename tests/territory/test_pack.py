from __future__ import annotations

import math
from pathlib import Path

import pytest

from rmds.exceptions import AmbiguousTerritory, PopulationUnavailable, TerritoryNotFound
from rmds.territory import Level, ReferencePack, Vintage, vintage_for_year


def test_counts_per_vintage(pack: ReferencePack) -> None:
    assert len(pack.municipalities) == 853
    assert len(pack.regions(Vintage.PDR_CURRENT)) == 89
    assert len(pack.macros(Vintage.PDR_CURRENT)) == 16
    assert len(pack.regions(Vintage.DATASUS_2019_22)) == 89
    assert len(pack.macros(Vintage.DATASUS_2019_22)) == 14
    assert len(pack.urs) == 28


def test_municipality_by_either_code(pack: ReferencePack) -> None:
    by7 = pack.municipality("3106200")
    by6 = pack.municipality("310620")
    assert by7 is by6
    assert by7.name == "Belo Horizonte"
    assert pack.to_ibge7("310620") == "3106200"
    assert pack.to_ibge7("999999") is None
    with pytest.raises(TerritoryNotFound):
        pack.municipality("5300108")


def test_hierarchy_of_belo_horizonte(pack: ReferencePack) -> None:
    bh = pack.municipality("3106200")
    current = pack.parents(bh, Vintage.PDR_CURRENT)
    assert current[Level.REGION].code == "31016"
    assert current[Level.MACRO].name == "Centro"
    assert current[Level.URS].name == "Belo Horizonte"
    assert current[Level.STATE].code == "31"
    old = pack.parents(bh, Vintage.DATASUS_2019_22)
    assert Level.URS not in old
    assert old[Level.MACRO].code == "3103"


def test_every_municipality_in_one_region_and_macro(pack: ReferencePack) -> None:
    for vintage in pack.vintages:
        seen: list[str] = []
        for region in pack.regions(vintage).values():
            seen += [m.ibge7 for m in pack.members(region, vintage)]
        assert sorted(seen) == sorted(pack.municipalities)
        macro_members = sum(len(pack.members(m, vintage)) for m in pack.macros(vintage).values())
        assert macro_members == 853


def test_state_population_matches_sources(pack: ReferencePack) -> None:
    # SOURCES.md: MS estimate for 2022 is 21,178,401; the 2022 census is 20,539,989.
    assert pack.population(pack.state, 2022, source="datasus").value == 21_178_401
    census = pack.population(pack.state, 2022, source="ibge")
    assert census.value == 20_539_989
    assert census.method == "censo"
    # 2024: MS estimate equals the IBGE estimate.
    assert (pack.population(pack.state, 2024, source="datasus").value
            == pack.population(pack.state, 2024, source="ibge").value)


def test_ibge_2023_is_interpolated_per_municipality(pack: ReferencePack) -> None:
    bh = pack.find("3106200")
    p22 = pack.population(bh, 2022, source="ibge").value
    p24 = pack.population(bh, 2024, source="ibge").value
    p23 = pack.population(bh, 2023, source="ibge")
    assert p23.value == round(math.sqrt(p22 * p24))
    assert "interpola" in p23.method
    assert 2023 in pack.population_years("ibge")


def test_population_by_sex_and_age_adds_up(pack: ReferencePack) -> None:
    unit = pack.find("3106200")
    men = pack.population(unit, 2020, sex=1).value
    women = pack.population(unit, 2020, sex=2).value
    assert men + women == pack.population(unit, 2020).value
    young = pack.population(unit, 2020, age_groups=["00_04"]).value
    assert 0 < young < men + women
    with pytest.raises(PopulationUnavailable):
        pack.population(unit, 2020, source="ibge", sex=1)
    with pytest.raises(PopulationUnavailable):
        pack.population(unit, 1990)


def test_aggregates_sum_members_in_the_vintage_of_the_year(pack: ReferencePack) -> None:
    macro_old = pack.macros(Vintage.DATASUS_2019_22)["3103"]
    total = sum(pack.population(pack.find(m.ibge7), 2020).value
                for m in pack.members(macro_old, Vintage.DATASUS_2019_22))
    assert pack.population(macro_old, 2020).value == total
    by_macro = sum(pack.population(m, 2024).value for m in pack.macros().values())
    assert by_macro == pack.population(pack.state, 2024).value
    by_urs = sum(pack.population(u, 2024).value for u in pack.urs.values())
    assert by_urs == by_macro


def test_vintage_for_year() -> None:
    assert vintage_for_year(2015) is Vintage.DATASUS_2019_22
    assert vintage_for_year(2022) is Vintage.DATASUS_2019_22
    assert vintage_for_year(2023) is Vintage.PDR_CURRENT


def test_find_by_name_ignores_accents_and_case(pack: ReferencePack) -> None:
    assert pack.find("uberlandia", Level.MUNICIPALITY).code == "3170206"
    assert pack.find("SAO JOAO DEL REI", Level.URS).name == "São João Del Rei"
    assert pack.find("3116").name == "Sudoeste"
    assert pack.find("3116").vintage is Vintage.PDR_CURRENT
    assert pack.find("MG").level is Level.STATE
    # a name shared by a municipality and a URS resolves to the municipality
    assert pack.find("Belo Horizonte").level is Level.MUNICIPALITY
    assert {u.level for u in pack.find_all("Belo Horizonte")} >= {Level.MUNICIPALITY, Level.URS}
    with pytest.raises(TerritoryNotFound):
        pack.find("Atlântida")


def test_ambiguous_name_lists_candidates(pack_copy: Path) -> None:
    # rename a health region to the name of a macro-region: no municipality breaks the tie
    path = pack_copy / "municipios.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("Alfenas/Machado", "Norte"),
                    encoding="utf-8")
    copy = ReferencePack(pack_copy)
    with pytest.raises(AmbiguousTerritory) as info:
        copy.find("norte")
    assert len(info.value.candidates) == 2
    assert "--level" in str(info.value)
    assert copy.find("norte", Level.MACRO).code == "3108"


def test_consortia_are_partial(pack: ReferencePack) -> None:
    members = pack.members(pack.consortia["CONVALES"])
    assert len(members) == 20
    assert "3170404" in {m.ibge7 for m in members}
    unai = pack.municipality("3170404")
    assert [c.code for c in pack.consortia_of(unai)] == ["CONVALES"]
    assert pack.members(pack.consortia["CISSUL"]) == []
