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
    _read_samples(pack, console)
    console.print("[dim]Próximas etapas (estado sintético → ingestão no lago → vinculação → "
                  "indicadores → web) ainda não construídas.[/]")


def _read_samples(pack: ReferencePack, console: Console) -> None:
    """Map the real DATASUS samples beside the reference pack, if they are there."""
    from rmds.sources.registry import map_file, open_source

    samples = pack.directory.parent / "samples"
    files = sorted(samples.glob("*_sample.csv")) + sorted(samples.glob("sih_rd_rs*.csv"))
    if not files:
        console.print(f"4. Amostras do DATASUS não encontradas em {samples}; etapa pulada.")
        return
    console.print(f"4. Lendo amostras reais do DATASUS ({samples}) para as tabelas canônicas")
    municipalities = pack.ibge6_to_7_table()
    table = Table("Arquivo", "Sistema", "Tabela canônica", "Lidas", "Aceitas", "Quarentena")
    for path in files:
        with open_source(path) as source:
            if source.system is None:
                continue
            results = [r for r, _ in map_file(source, municipalities)]
            table.add_row(path.name, source.system, results[0].table if results else "—",
                          fmt_int(sum(r.rows_in for r in results)),
                          fmt_int(sum(r.accepted.num_rows for r in results)),
                          fmt_int(sum(r.rows_quarantined for r in results)))
    console.print(table)
