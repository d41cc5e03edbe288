"""The demo: what rmds can do today, run end to end on the reference pack.

Steps are added as they are built (synthetic state, ingestion, linkage, indicators, web).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rmds.fmt import fmt_int
from rmds.territory import Level, ReferencePack, Vintage
from rmds.territory.check import check_pack

__all__ = ["run_demo"]


def run_demo(pack: ReferencePack, console: Console) -> None:
    console.rule("[bold]rmds — Rede Mineira de Dados em Saúde[/]")
    console.print(f"1. Validando o pacote de referência em {pack.directory} ...")
    report = check_pack(pack.directory)
    if not report.ok:
        for problem in report.errors:
            console.print(f"[red]erro[/] {problem}")
        raise SystemExit(1)
    console.print(f"   [green]OK[/]: {fmt_int(sum(report.checked.values()))} registros em "
                  f"{len(report.checked)} arquivos, sem erros.")

    console.print("2. Território de Minas Gerais")
    counts = Table("Nível", *[v.label for v in Vintage])
    for level in (Level.MUNICIPALITY, Level.REGION, Level.MACRO, Level.URS):
        counts.add_row(level.label, *[
            str(len(pack.units(level, v))) if (level is not Level.URS
                                                or v is Vintage.PDR_CURRENT) else "—"
            for v in Vintage])
    console.print(counts)

    console.print("3. População residente por macrorregião (PDR vigente)")
    table = Table("Código", "Macrorregião", "Municípios", "Pop. 2022 (DATASUS)",
                  "Pop. 2023 (IBGE, interpolada)", "Pop. 2024 (DATASUS)")
    for unit in pack.macros(Vintage.PDR_CURRENT).values():
        members = pack.members(unit)
        table.add_row(
            unit.code, unit.name, str(len(members)),
            fmt_int(pack.population(unit, 2022, source="datasus").value),
            fmt_int(pack.population(unit, 2023, source="ibge").value),
            fmt_int(pack.population(unit, 2024, source="datasus").value),
        )
    state = pack.state
    table.add_row("31", "[bold]Minas Gerais[/]", str(len(pack.municipalities)),
                  fmt_int(pack.population(state, 2022, source="datasus").value),
                  fmt_int(pack.population(state, 2023, source="ibge").value),
                  fmt_int(pack.population(state, 2024, source="datasus").value))
    console.print(table)
    console.print("[dim]Próximas etapas (estado sintético → ingestão → vinculação → "
                  "indicadores → web) ainda não construídas.[/]")
