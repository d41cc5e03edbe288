"""The ``rmds`` command.

Why this module is long: the command line is still mostly in one module, with SQL and
domain logic in some commands; issue 17 moves the commands beside their packages
(rmds/<package>/commands.py, as rmds/lake/commands.py already is), leaving this module
only assembling them. Not done yet.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from rmds import __version__
from rmds.exceptions import RmdsError, TerritoryNotFound
from rmds.fmt import fmt_decimal, fmt_int
from rmds.log import configure_logging
from rmds.settings import SETTINGS, Settings
from rmds.territory import Level, ReferencePack, Unit, Vintage
from rmds.territory.check import check_pack

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class RmdsCommandError(click.ClickException):
    """An RmdsError shown to the user: one clear message, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        err_console.print(f"[red]erro:[/] {self.message}", markup=True)


#: errno values that mean the disk (or the user's quota) is full
_FULL = (errno.ENOSPC, errno.EDQUOT)
_FULL_TEXT = ("no space left on device", "disk quota exceeded")


def disk_full(error: BaseException) -> OSError | BaseException | None:
    """The error (in ``error``'s chain) that says the disk is full: an ``OSError`` with
    ENOSPC/EDQUOT, or a DuckDB I/O error whose text carries the system's message."""
    import duckdb

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL:
            return current
        if isinstance(current, duckdb.Error) and any(
                text in str(current).lower() for text in _FULL_TEXT):
            return current
        current = current.__cause__ or current.__context__
    return None


DISK_FULL = ("disco cheio{where}: a operação parou e nada dela foi confirmado no lago, que "
             "continua como estava antes do comando. Libere espaço (ou aponte o lago e "
             "RMDS_DATA_HOME para outro disco) e rode o mesmo comando de novo.")


class RmdsGroup(click.Group):
    """Turns every RmdsError raised by a subcommand into a clear message, and so a full
    disk (the open transaction of the lake is rolled back by whoever opened it)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RmdsError as exc:
            raise RmdsCommandError(str(exc)) from exc
        except Exception as exc:
            full = disk_full(exc)
            if full is None:
                raise
            name = getattr(full, "filename", None)
            raise RmdsCommandError(DISK_FULL.format(
                where=f" ao gravar {name}" if name else "")) from exc


def _settings_options(func: F) -> F:
    """One global option per declared setting (see rmds.settings.SETTINGS)."""
    for setting in reversed(SETTINGS):
        option_type: Any = {
            "path": click.Path(path_type=Path),
            "int": click.INT,
            "choice": click.Choice(list(setting.choices), case_sensitive=False),
        }.get(setting.type, click.STRING)
        func = click.option(
            "--" + setting.name.replace("_", "-"),
            setting.name,
            type=option_type,
            default=None,
            help=f"{setting.help} [env: {setting.env}]",
        )(func)
    return func


@click.group(cls=RmdsGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="rmds", message="%(prog)s %(version)s")
@_settings_options
@click.pass_context
def cli(ctx: click.Context, /, **overrides: Any) -> None:
    """rmds — Rede Mineira de Dados em Saúde (SUS-MG).

    Ingere, vincula e analisa os dados do sistema de saúde de Minas Gerais.
    """
    settings = Settings.resolve(overrides)
    configure_logging(settings.log_level)
    ctx.obj = settings
    from rmds.store import audit, auth

    audit.configure(overrides)    # the audit key and checkpoints given as options
    auth.configure(overrides)     # how long a checked session is trusted


def _pack(ctx: click.Context, directory: Path | None = None) -> ReferencePack:
    settings: Settings = ctx.obj
    return ReferencePack(directory or settings.reference_dir, settings.population_source)


# ----------------------------------------------------------------------------- reference


@cli.group()
def reference() -> None:
    """Pacote de referência: território, população e tabelas de códigos."""


@reference.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def reference_check(ctx: click.Context, directory: Path | None, as_json: bool) -> None:
    """Valida um pacote de referência e lista todos os problemas de uma vez.

    Sai com código 0 apenas quando não há erros.
    """
    settings: Settings = ctx.obj
    report = check_pack(directory or settings.reference_dir)
    if as_json:
        click.echo(json.dumps({
            "diretorio": str(report.directory), "ok": report.ok,
            "verificados": report.checked,
            "erros": [vars(p) for p in report.errors],
            "avisos": [vars(p) for p in report.warnings],
        }, ensure_ascii=False, indent=2))
    else:
        console.print(f"Pacote de referência: {report.directory}")
        for name, count in report.checked.items():
            console.print(f"  {name}: {fmt_int(count)} registros verificados")
        for problem in report.warnings:
            console.print(f"[yellow]aviso[/] {problem}")
        for problem in report.errors:
            console.print(f"[red]erro[/] {problem}")
        if report.ok:
            console.print(f"[green]OK[/]: nenhum erro ({len(report.warnings)} avisos).")
        else:
            console.print(f"[red]{len(report.errors)} erro(s)[/], {len(report.warnings)} "
                          "aviso(s).")
    ctx.exit(0 if report.ok else 1)


@reference.command("sync")
@click.option("--regionalizacao", type=click.Path(path_type=Path, dir_okay=False),
              help="Tabela da regionalização nova (CSV: município, co_regsaud, no_regsaud, "
                   "co_macsaud, no_macsaud), p. ex. após revisão do PDR ou deliberação CIB.")
@click.option("--vigente-desde", "valid_from", type=int,
              help="Ano a partir do qual a regionalização nova vale; os anos anteriores "
                   "mantêm as regiões que tinham.")
@click.option("--codigo", "vintage_id", help="Código da regionalização (padrão: pdr_ANO).")
@click.option("--rotulo", "label", help="Nome da regionalização nas páginas.")
@click.option("--populacao", type=click.Path(path_type=Path, dir_okay=False),
              help="Estimativa de população do IBGE (planilha do DOU salva como CSV).")
@click.option("--ano-populacao", "population_year", type=int,
              help="Ano da estimativa de população.")
@click.option("--cid10", type=click.Path(path_type=Path, exists=True),
              help="CID-10 do DATASUS (CID10CSV.ZIP ou a pasta com CID-10-*.CSV).")
@click.option("--sigtap", type=click.Path(path_type=Path, exists=True),
              help="Tabela Unificada do SIGTAP do mês (TabelaUnificada_AAAAMM_vN.zip ou a "
                   "pasta, com tb_procedimento.txt e o seu leiaute).")
@click.option("--destino", "root", type=click.Path(path_type=Path, file_okay=False),
              help="Raiz das versões (versoes/ e ATUAL). Padrão: o diretório do pacote "
                   "configurado, quando já é uma raiz de versões.")
@click.option("--versao", "version", help="Nome da versão (padrão: data e hora).")
@click.option("--nao-instalar", "dry", is_flag=True,
              help="Só constrói e verifica a versão; não a põe em uso.")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def reference_sync(ctx: click.Context, regionalizacao: Path | None, valid_from: int | None,
                   vintage_id: str | None, label: str | None, populacao: Path | None,
                   population_year: int | None, cid10: Path | None, sigtap: Path | None,
                   root: Path | None, version: str | None, dry: bool, as_json: bool) -> None:
    """Constrói uma versão nova do pacote de referência a partir das tabelas oficiais,
    verifica-a ('reference check'), mostra o que mudou e a instala ao lado da atual.

    A versão anterior nunca é alterada. Depois, recalcule os indicadores ('rmds
    indicators compute' ou 'rmds sync'): os anos a partir de --vigente-desde passam a
    usar a regionalização nova, os anteriores continuam com a antiga.
    """
    from rmds.territory.versions import POINTER, build_version

    settings: Settings = ctx.obj
    configured = Path(str(settings.reference_dir))
    if root is None:
        if not (configured / POINTER).is_file():
            raise click.UsageError(
                f"{configured} é um pacote simples, não uma raiz de versões: dê --destino "
                "(uma pasta nova) e depois aponte RMDS_REFERENCE_DIR para ela")
        root = configured
    result = build_version(configured, root, regionalisation=regionalizacao,
                           valid_from=valid_from, vintage_id=vintage_id, label=label,
                           population=populacao, population_year=population_year,
                           cid10=cid10, sigtap=sigtap, version=version, install=not dry)
    if as_json:
        click.echo(json.dumps({
            "versao": result.version, "diretorio": str(result.directory),
            "instalada": result.installed, "regionalizacao": result.vintage,
            "vigente_desde": result.first_year,
            "municipios_que_mudam": [vars(c) for c in result.changes],
            "ano_populacao": result.population_year,
            "populacoes_alteradas": result.population_changed,
            "cid10_codigos": result.cid10_codes,
            "sigtap_procedimentos": result.sigtap_procedures,
            "sigtap_competencia": result.sigtap_competence,
            "arquivos_alterados": result.files_changed}, ensure_ascii=False, indent=2))
        return
    console.print(f"Versão [bold]{result.version}[/] em {result.directory}")
    if result.vintage:
        console.print(f"  regionalização {result.vintage}, vigente desde "
                      f"{result.first_year}: {fmt_int(len(result.changes))} município(s) "
                      "mudam de região ou macrorregião")
        for change in result.changes:
            console.print(f"    {change.name} ({change.municipality}): região "
                          f"{change.region_before} → {change.region_after}, macro "
                          f"{change.macro_before} → {change.macro_after}")
    if result.population_year:
        console.print(f"  população IBGE {result.population_year}: "
                      f"{fmt_int(result.population_changed)} valor(es) novos ou alterados")
    if result.cid10_codes:
        console.print(f"  CID-10 do DATASUS: {fmt_int(result.cid10_codes)} categorias e "
                      "subcategorias")
    if result.sigtap_procedures:
        console.print(f"  SIGTAP competência {result.sigtap_competence or '?'}: "
                      f"{fmt_int(result.sigtap_procedures)} procedimentos")
    console.print(f"  arquivos alterados: {', '.join(result.files_changed) or 'nenhum'}")
    if result.installed:
        console.print(f"[green]Instalada[/]: {root / POINTER} aponta para {result.version}.")
        if root.resolve() != configured.resolve():
            console.print(f"Para usá-la: export RMDS_REFERENCE_DIR={root}")
        console.print("Recalcule os indicadores dos anos afetados ('rmds indicators "
                      "compute').")
    else:
        console.print("Verificada e [yellow]não instalada[/] (--nao-instalar).")


@reference.command("replicate")
@click.argument("ufs", nargs=-1, required=True)
@click.option("--destino", "out", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Pasta nova do pacote multi-UF (fora do repositório).")
@click.pass_context
def reference_replicate(ctx: click.Context, ufs: tuple[str, ...], out: Path) -> None:
    """Escreve um pacote multi-UF: MG e uma cópia do território de MG sob cada UF dada
    (sigla ou código: RJ 33), para rodar o pipeline em várias UFs (docs/scale.md)."""
    from rmds.territory.replicate import replicate_pack

    settings: Settings = ctx.obj
    written = replicate_pack(Path(str(settings.reference_dir)), out, ufs)
    pack = ReferencePack(written)
    console.print(f"{written}: {len(pack.municipalities)} municípios em "
                  f"{len(pack.states)} UFs ({', '.join(pack.states)})")


@reference.command("versions")
@click.argument("root", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.pass_context
def reference_versions(ctx: click.Context, root: Path | None) -> None:
    """Lista as versões do pacote de referência instaladas e a que está em uso."""
    from rmds.territory.versions import installed_versions, resolve_pack

    settings: Settings = ctx.obj
    root = root or Path(str(settings.reference_dir))
    names = installed_versions(root)
    if not names:
        console.print(f"{root}: pacote simples, sem versões (crie com 'rmds reference "
                      "sync --destino').")
        return
    current = resolve_pack(root).name
    for name in names:
        mark = " [green](em uso)[/]" if name == current else ""
        pack = ReferencePack(root / "versoes" / name)
        console.print(f"{name}{mark}: regionalizações "
                      + ", ".join(f"{v} (desde {v.first_year})" for v in pack.vintages))


# ----------------------------------------------------------------------------- territory


@cli.group()
def territory() -> None:
    """Território de MG: municípios, regiões, macrorregiões, URS e consórcios."""


_LEVEL = click.Choice([lvl.value for lvl in Level])


def _vintage(pack: ReferencePack, code: str | None) -> Vintage:
    """The pack's regionalisation ``code`` (the current one when None); a clear usage
    error naming the known ones otherwise."""
    if code is None:
        return pack.current_vintage
    try:
        return pack.vintage(code)
    except TerritoryNotFound as exc:
        raise click.BadParameter(str(exc), param_hint="--vintage") from None


def _unit_json(unit: Unit) -> dict[str, str]:
    return {"nivel": unit.level.value, "codigo": unit.code, "nome": unit.name}


def describe_unit(pack: ReferencePack, unit: Unit, vintage: Vintage,
                  years: tuple[int, ...]) -> dict[str, Any]:
    """Everything ``territory show`` tells about a unit, as a JSON-ready dict."""
    data: dict[str, Any] = _unit_json(unit)
    if unit.vintage:
        data["regionalizacao"] = unit.vintage.value
    if unit.level is Level.MUNICIPALITY:
        municipality = pack.municipality(unit.code)
        data.update(cod_ibge7=municipality.ibge7, cod_ibge6=municipality.ibge6,
                    lat=municipality.lat, lon=municipality.lon,
                    area_km2=municipality.area_km2)
        data["hierarquia"] = {
            v.value: {lvl.value: _unit_json(u) for lvl, u in pack.parents(municipality, v).items()}
            for v in (vintage, *[x for x in pack.vintages if x != vintage])
        }
        data["consorcios"] = [_unit_json(u) for u in pack.consortia_of(municipality)]
    else:
        members = pack.members(unit, unit.vintage or vintage)
        data["municipios"] = [{"codigo": m.ibge7, "nome": m.name} for m in members]
        if unit.level in (Level.REGION, Level.URS) and members:
            parents = pack.parents(members[0], unit.vintage or vintage)
            data["hierarquia"] = {lvl.value: _unit_json(u) for lvl, u in parents.items()
                                  if lvl is not unit.level and lvl is not Level.REGION}
        if unit.level is Level.CONSORTIUM:
            data["aviso"] = ("lista de membros parcial: o pacote de referência conhece "
                             f"{len(members)} municípios deste consórcio")
    populations = []
    for year in years:
        for source in ("datasus", "ibge"):
            try:
                figure = pack.population(unit, year, source=source,
                                         vintage=unit.vintage or vintage)
            except RmdsError:
                continue
            populations.append(figure.as_dict())
    data["populacao"] = populations
    return data


@territory.command("show")
@click.argument("query")
@click.option("--level", type=_LEVEL, help="Nível territorial, quando o nome é ambíguo.")
@click.option("--vintage", help="Regionalização usada para regiões e macrorregiões "
              "(código; padrão: a vigente, a mais recente do pacote).")
@click.option("--year", "years", type=int, multiple=True,
              help="Ano(s) da população (padrão: 2022 e 2024).")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def territory_show(ctx: click.Context, query: str, level: str | None, vintage: str | None,
                   years: tuple[int, ...], as_json: bool) -> None:
    """Mostra um território por código ou nome: códigos, níveis superiores, população e
    municípios membros."""
    pack = _pack(ctx)
    chosen = _vintage(pack, vintage)
    unit = pack.find(query, Level(level) if level else None, chosen)
    others = [u for u in pack.find_all(query, Level(level) if level else None, chosen)
              if u != unit]
    data = describe_unit(pack, unit, chosen, years or (2022, 2024))
    data["outras_correspondencias"] = [_unit_json(u) for u in others]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]{unit.level.label}: {unit.name}[/] ({unit.code})")
    if "cod_ibge6" in data:
        console.print(f"  IBGE {data['cod_ibge7']} · DATASUS {data['cod_ibge6']}")
    hierarchy = data.get("hierarquia", {})
    if unit.level is Level.MUNICIPALITY:
        for vintage_code, parents in hierarchy.items():
            console.print(f"  [underline]{pack.vintage(vintage_code).label}[/]")
            for parent in parents.values():
                console.print(f"    {Level(parent['nivel']).label}: {parent['nome']} "
                              f"({parent['codigo']})")
    else:
        for parent in hierarchy.values():
            console.print(f"  {Level(parent['nivel']).label}: {parent['nome']} "
                          f"({parent['codigo']})")
    for consortium in data.get("consorcios", []):
        console.print(f"  Consórcio: {consortium['nome']} ({consortium['codigo']})")
    table = Table("Ano", "Fonte", "População", "Método", title="População residente")
    for figure in data["populacao"]:
        table.add_row(str(figure["ano"]), figure["fonte"], fmt_int(figure["valor"]),
                      figure["metodo"])
    console.print(table)
    if "municipios" in data:
        names = ", ".join(m["nome"] for m in data["municipios"])
        console.print(f"  {len(data['municipios'])} municípios: {names}")
    if "aviso" in data:
        console.print(f"[yellow]{data['aviso']}[/]")
    for other in data.get("outras_correspondencias", []):
        console.print(f"[dim]também corresponde: {Level(other['nivel']).label} "
                      f"{other['nome']} ({other['codigo']}); use --level {other['nivel']}[/]")


@territory.command("list")
@click.argument("level", type=_LEVEL)
@click.option("--vintage", help="Regionalização (código; padrão: a vigente).")
@click.option("--year", type=int, default=2024, show_default=True, help="Ano da população.")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def territory_list(ctx: click.Context, level: str, vintage: str | None, year: int,
                   as_json: bool) -> None:
    """Lista as unidades de um nível com número de municípios e população."""
    pack = _pack(ctx)
    chosen, lvl = _vintage(pack, vintage), Level(level)
    rows: list[dict[str, Any]] = []
    for unit in pack.units(lvl, chosen).values():
        members = pack.members(unit, chosen)
        population = pack.population(unit, year, vintage=chosen).value if members else None
        rows.append({**_unit_json(unit), "municipios": len(members), "populacao": population})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("Código", "Nome", "Municípios", f"População {year}",
                  title=f"{lvl.label} — {chosen.label}")
    for row in rows:
        table.add_row(row["codigo"], row["nome"], str(row["municipios"]),
                      fmt_int(row["populacao"]))
    console.print(table)


# ---------------------------------------------------------------------------------- read


class SystemChoice(click.Choice[str]):
    """The declared systems (rmds.systems), read when the option is parsed or documented:
    importing every mapper would slow every command down by a second."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=False)

    @property
    def choices(self) -> tuple[str, ...]:
        from rmds.systems import DECLARATIONS

        return tuple(DECLARATIONS)

    @choices.setter
    def choices(self, _value: object) -> None:
        pass


@cli.command("read")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--system", type=SystemChoice(),
              help="Sistema de origem (detectado pelo nome do arquivo quando omitido).")
@click.option("--canonical", is_flag=True,
              help="Converte para a tabela canônica; linhas inválidas vão para quarentena.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Arquivo Parquet de saída.")
@click.option("--encoding", help="Codificação do texto (padrão: latin-1 para DBF/DBC).")
@click.option("--json", "as_json", is_flag=True, help="Resumo em JSON.")
@click.pass_context
def read_command(ctx: click.Context, file: Path, system: str | None, canonical: bool,
                 out: Path, encoding: str | None, as_json: bool) -> None:
    """Lê um arquivo DATASUS (DBC, DBF ou CSV) e grava Parquet.

    Sem --canonical, grava as colunas do próprio sistema, valor a valor; com --canonical,
    grava a tabela canônica do rmds e, ao lado, OUT.quarantine.parquet com as linhas
    recusadas (campo e motivo).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rmds.reading import read_to_parquet

    settings: Settings = ctx.obj
    pack = _pack(ctx) if canonical else None
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed:,} linhas"), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"lendo {file.name}", total=None)
        summary = read_to_parquet(
            file, out, system=system, canonical=canonical, pack=pack, encoding=encoding,
            batch_rows=settings.read_batch_rows,
            progress=lambda rows: progress.advance(task, rows))
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
        return
    rate = summary.rows_read / summary.seconds if summary.seconds else 0.0
    console.print(f"{file.name}: sistema {summary.system or '?'}, leiaute {summary.layout}")
    console.print(f"  {fmt_int(summary.rows_read)} linhas lidas, "
                  f"{fmt_int(summary.rows_accepted)} aceitas, "
                  f"{fmt_int(summary.rows_quarantined)} em quarentena "
                  f"({fmt_int(int(rate))} linhas/s)")
    if summary.rows_deleted:
        console.print(f"  {fmt_int(summary.rows_deleted)} registros marcados como excluídos "
                      "no DBF foram ignorados")
    if summary.problems:
        table = Table("Campo", "Motivo", "Linhas", title="Problemas")
        for (field_name, reason), count in summary.problems.most_common(20):
            table.add_row(field_name, reason, fmt_int(count))
        console.print(table)
    console.print(f"  saída: {summary.output}")
    if summary.quarantine_output:
        console.print(f"  quarentena: {summary.quarantine_output}")


# ---------------------------------------------------------------------------------- lake

_LAKE_OPTION = click.option(
    "--lake", "lake_path", type=click.Path(path_type=Path, file_okay=False),
    help="Pasta do lago (padrão: configuração 'lake', RMDS_LAKE).")


_SNAPSHOT_OPTION = click.option(
    "--snapshot", type=click.IntRange(min=0),
    help="Lê o lago como estava neste snapshot (veja 'rmds snapshots'); padrão: o atual.")


def _audit(ctx: click.Context, action: str, resource: str) -> None:
    """An audit entry for this command: the OS user, origin 'cli' (before it shows data)."""
    from rmds.store.audit import record_cli

    record_cli(ctx.obj.store, action=action, resource=resource)


def _lake_path(ctx: click.Context, lake_path: Path | None) -> Path:
    settings: Settings = ctx.obj
    return lake_path or settings.lake


def _policy(ctx: click.Context) -> Any:
    """The access policy for the command line, whose actors are the operator
    (:data:`rmds.access.OPERATOR`) and, where a command offers it, the public."""
    from rmds.access import AccessPolicy

    settings: Settings = ctx.obj
    return AccessPolicy(None, settings.small_cell_threshold)


def _actor(public: bool) -> Any:
    from rmds.access import OPERATOR
    from rmds.store.auth import PUBLIC_USER

    return PUBLIC_USER if public else OPERATOR


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, exists=True))
@_LAKE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Resumo em JSON.")
@click.pass_context
def ingest_command(ctx: click.Context, paths: tuple[Path, ...], lake_path: Path | None,
                   as_json: bool) -> None:
    """Carrega arquivos e pastas no lago: DATASUS (DBC/DBF/CSV), vacinação (CSV),
    FHIR R4 (Bundle JSON, NDJSON) e relatórios de consórcios (CSV).

    Cada arquivo é um lote, gravado inteiro ou não gravado: um erro ou uma interrupção
    deixam o lago como estava. Um arquivo já carregado (mesmo SHA-256) é ignorado; uma nova
    versão de um arquivo já carregado (mesmo sistema e nome, p. ex. RDMG2301 republicado)
    substitui o lote anterior. Cada carga confirmada é um snapshot ('rmds snapshots'); o
    site continua servindo o snapshot anterior enquanto isso.
    Linhas inválidas vão para a quarentena com campo e motivo ('rmds quarantine').
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rmds.lake.ingest import expand_paths, ingest
    from rmds.lake.store import Lake

    settings: Settings = ctx.obj
    pack = _pack(ctx)
    files = expand_paths(paths)
    _audit(ctx, "escrita", "rmds ingest " + " ".join(str(p) for p in paths))
    with Lake(_lake_path(ctx, lake_path)) as lake, Progress(
            TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total} arquivos"),
            TextColumn("{task.fields[rows]:,} linhas"), TimeElapsedColumn(),
            console=err_console, transient=True, disable=as_json) as progress:
        task = progress.add_task("carregando", total=len(files), rows=0)

        def read(path: Path, rows: int) -> None:
            progress.update(task, description=f"lendo {path.name}",
                            rows=progress.tasks[0].fields["rows"] + rows)

        reported: list[Any] = []

        def done(outcome: Any) -> None:
            reported.append(outcome)
            progress.advance(task)

        try:
            outcomes = ingest(lake, list(paths), pack, batch_rows=settings.read_batch_rows,
                              whole_file_bytes=settings.ingest_whole_file_mb << 20,
                              process_bytes=settings.ingest_fhir_process_mb << 20,
                              progress=read, done=done)
        except KeyboardInterrupt:
            progress.stop()
            landed = sum(1 for o in reported if o.status == "carregado")
            err_console.print(
                f"[yellow]carga interrompida.[/] {landed} arquivo(s) desta carga já estavam "
                "confirmados e permanecem no lago; os da transação em andamento não foram "
                "gravados. Rode o mesmo comando de novo para continuar: o que já foi "
                "carregado é ignorado.",
                markup=True, highlight=False)
            raise SystemExit(130) from None
    failed = [o for o in outcomes if o.status == "erro"]
    if as_json:
        click.echo(json.dumps([{"arquivo": str(o.path), "situacao": o.status,
                                "lote": (o.batch or {}).get("batch_id"),
                                "substituiu": (o.batch or {}).get("supersedes"),
                                "erro": o.error}
                               for o in outcomes], ensure_ascii=False, indent=2))
    elif len(outcomes) > 30:
        _ingest_summary(outcomes)
    else:
        table = Table("Arquivo", "Sistema", "Lote", "Lidas", "Aceitas", "Quarentena",
                      "Situação", title="Carga no lago")
        for o in outcomes:
            b = o.batch or {}
            table.add_row(o.path.name, str(b.get("system", "—")), str(b.get("batch_id", "—")),
                          fmt_int(b.get("rows_read", 0)), fmt_int(b.get("rows_accepted", 0)),
                          fmt_int(b.get("rows_quarantined", 0)),
                          {"carregado": "[green]carregado[/]",
                           "ignorado": "ignorado (já carregado)",
                           "não reconhecido": "[yellow]não reconhecido[/]",
                           "erro": "[red]erro[/]"}[o.status]
                          + (f" (substitui o lote {b['supersedes']})"
                             if b.get("supersedes") else ""))
        console.print(table)
        for o in failed:
            err_console.print(f"[red]erro:[/] {o.error}", markup=True, highlight=False)
    if failed:
        raise SystemExit(2)


def _ingest_summary(outcomes: list[Any]) -> None:
    """Many files: one line per system and outcome."""
    groups: dict[tuple[str, str], list[int]] = {}
    for o in outcomes:
        b = o.batch or {}
        key = (str(b.get("system") or "—"), o.status)
        totals = groups.setdefault(key, [0, 0, 0, 0])
        totals[0] += 1
        totals[1] += int(b.get("rows_read") or 0)
        totals[2] += int(b.get("rows_accepted") or 0)
        totals[3] += int(b.get("rows_quarantined") or 0)
    table = Table("Sistema", "Situação", "Arquivos", "Lidas", "Aceitas", "Quarentena",
                  title=f"Carga no lago ({fmt_int(len(outcomes))} arquivos)")
    for (system, status), (files, read, accepted, quarantined) in sorted(groups.items()):
        table.add_row(system, status, fmt_int(files), fmt_int(read), fmt_int(accepted),
                      fmt_int(quarantined))
    console.print(table)


@cli.command("batches")
@_LAKE_OPTION
@_SNAPSHOT_OPTION
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def batches_command(ctx: click.Context, lake_path: Path | None, snapshot: int | None,
                    as_json: bool) -> None:
    """Lista os lotes carregados: arquivo, sistema, linhas lidas = aceitas + quarentena; um
    lote substituído por uma nova versão do mesmo arquivo aparece como tal."""
    from rmds.lake.store import Lake

    with Lake(_lake_path(ctx, lake_path), read_only=True, snapshot=snapshot) as lake:
        batches = lake.batches()
    if as_json:
        click.echo(json.dumps(batches, ensure_ascii=False, indent=2, default=str))
        return
    table = Table("Lote", "Arquivo", "Sistema", "Leiaute", "Lidas", "Aceitas", "Quarentena",
                  "Identificação", "Segundos", "Situação", "SHA-256", title="Lotes no lago")
    for b in batches:
        status = b.get("status") or "ativo"
        if b.get("superseded_by") is not None:
            status += f" pelo lote {b['superseded_by']}"
        table.add_row(str(b["batch_id"]), b["file_name"], b["system"], b["layout"],
                      fmt_int(b["rows_read"]), fmt_int(b["rows_accepted"]),
                      fmt_int(b["rows_quarantined"]), fmt_int(b["identity_rows"]),
                      f"{b['seconds']:.2f}".replace(".", ","), status, b["sha256"][:12])
    console.print(table)


@cli.command("quarantine")
@_LAKE_OPTION
@click.option("--batch", "batch_id", type=int, help="Só este lote.")
@click.option("--limit", type=int, default=50, show_default=True,
              help="Linhas de detalhe mostradas.")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def quarantine_command(ctx: click.Context, lake_path: Path | None, batch_id: int | None,
                       limit: int, as_json: bool) -> None:
    """Mostra o que foi recusado e por quê: motivos por lote e as linhas (arquivo, linha,
    campo, valor)."""
    from rmds.lake.store import Lake

    _audit(ctx, "leitura_dados_pessoais", f"rmds quarantine --batch {batch_id} "
           f"--limit {limit}")

    with Lake(_lake_path(ctx, lake_path), read_only=True) as lake:
        reasons = lake.quarantine_reasons(batch_id)
        rows = lake.quarantine(batch_id, limit)
    if as_json:
        click.echo(json.dumps({"motivos": reasons, "linhas": rows}, ensure_ascii=False,
                              indent=2, default=str))
        return
    summary = Table("Lote", "Arquivo", "Campo", "Motivo", "Linhas", title="Quarentena")
    for r in reasons:
        summary.add_row(str(r["batch_id"]), r["source_file"], r["field"], r["reason"],
                        fmt_int(r["rows"]))
    console.print(summary)
    detail = Table("Lote", "Arquivo", "Linha", "Campo", "Valor", "Motivo")
    for r in rows:
        detail.add_row(str(r["batch_id"]), r["source_file"], str(r["source_row"]), r["field"],
                       str(r["value"]), r["reason"])
    console.print(detail)


@cli.group("export")
def export_group() -> None:
    """Exporta o lago."""


@export_group.command("parquet")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@_LAKE_OPTION
@_SNAPSHOT_OPTION
@click.option("--include-protected", is_flag=True,
              help="Inclui a tabela protegida de identificação (dados pessoais).")
@click.pass_context
def export_parquet(ctx: click.Context, outdir: Path, lake_path: Path | None,
                   snapshot: int | None, include_protected: bool) -> None:
    """Grava as tabelas canônicas em Parquet particionado (tabela/source_system=…/ano=…),
    legível pelo Spark e pelo DuckDB como está."""
    from rmds.access import DataClass
    from rmds.lake.store import Lake

    policy = _policy(ctx)
    policy.require(policy.scope(_actor(False)),
                   DataClass.IDENTITY if include_protected else DataClass.RECORD)
    if include_protected:
        _audit(ctx, "leitura_dados_pessoais",
               f"rmds export parquet --include-protected {outdir}")

    with Lake(_lake_path(ctx, lake_path), read_only=True, snapshot=snapshot) as lake:
        written = lake.export_parquet(outdir, include_protected, engine=ctx.obj.engine)
        read = lake.snapshot_id()
    table = Table("Tabela", "Linhas", title=f"Parquet em {outdir} (snapshot {read})")
    for name, rows in written.items():
        table.add_row(name, fmt_int(rows))
    console.print(table)


from rmds.lake.commands import snapshots_group  # noqa: E402

cli.add_command(snapshots_group)

# ------------------------------------------------------------------------------- linkage


@cli.group("link", invoke_without_command=True)
@_LAKE_OPTION
@click.option("--accept", type=float, default=0.999, show_default=True,
              help="Probabilidade a partir da qual um par é a mesma pessoa.")
@click.option("--review", type=float, default=0.5, show_default=True,
              help="Probabilidade a partir da qual um par vai para a fila de revisão.")
@click.option("--incremental", is_flag=True,
              help="Vincula só os registros novos contra o índice existente, com o modelo "
                   "da última vinculação completa.")
@click.option("--reuse-model", is_flag=True,
              help="Pontua todos os registros de novo com o último modelo treinado do lago, "
                   "sem treinar outro (o mesmo modelo em qualquer motor).")
@click.option("--json", "as_json", is_flag=True, help="Resumo em JSON.")
@click.pass_context
def link_group(ctx: click.Context, lake_path: Path | None, accept: float, review: float,
               incremental: bool, reuse_model: bool, as_json: bool) -> None:
    """Vincula os registros por pessoa (índice mestre de pacientes).

    Regra determinística (CNS ou CPF válidos em comum), depois pareamento probabilístico
    (Splink) por nome, nome da mãe, nascimento, sexo, município e CEP. Cada pessoa recebe
    um person_id estável; pares incertos vão para 'rmds link review'.
    """
    if ctx.invoked_subcommand is not None:
        ctx.meta["lake_path"] = lake_path
        return
    from rmds.care.listcounts import publish
    from rmds.care.projection import project
    from rmds.lake.store import Lake
    from rmds.linkage import link

    with Lake(_lake_path(ctx, lake_path)) as lake, err_console.status("vinculando..."):
        summary = link(lake, accept=accept, review=review, incremental=incremental,
                       engine=ctx.obj.engine, reuse_model=reuse_model)
        project(lake)   # the care records by person, for this index
        # and the work lists' counts the pages show, for this index and this load
        publish(lake, frozenset(_pack(ctx).icsap.codes))
    if as_json:
        click.echo(json.dumps(summary.__dict__, indent=2))
        return
    table = Table("Item", "Quantidade", title="Vinculação")
    for label, value in (("registros", summary.records),
                         ("registros pareados nesta execução", summary.scored_records),
                         ("pessoas", summary.persons),
                         ("ligações determinísticas (CNS/CPF)", summary.deterministic_links),
                         ("ligações probabilísticas", summary.probabilistic_links),
                         ("pares para revisão", summary.review_pairs),
                         ("registros que mantiveram o person_id", summary.kept_ids),
                         ("person_id novos", summary.new_ids)):
        table.add_row(label, fmt_int(value))
    console.print(table)


@link_group.command("evaluate")
@click.option("--truth", "truth", type=click.Path(path_type=Path, exists=True),
              help="Verdade do estado sintético (verdade/registros.parquet).")
@click.option("--febrl", nargs=2, type=click.Path(path_type=Path, exists=True),
              help="Dois arquivos FEBRL (p. ex. dataset4a.csv dataset4b.csv): vincula um ao "
                   "outro e compara com a verdade do rec_id.")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def link_evaluate(ctx: click.Context, truth: Path | None, febrl: tuple[Path, Path] | None,
                  as_json: bool) -> None:
    """Precisão, sensibilidade (recall) e F1 dos pares e dos grupos contra uma verdade: a do
    estado sintético (vinculação do lago) ou a do FEBRL (rec_id)."""
    from rmds.lake.store import Lake
    from rmds.linkage import evaluate_against_truth, evaluate_febrl

    if bool(truth) == bool(febrl):
        raise click.UsageError("informe --truth ARQUIVO ou --febrl ARQUIVO_A ARQUIVO_B")
    if febrl:
        scores = evaluate_febrl(febrl[0], febrl[1])
    else:
        assert truth is not None
        with Lake(_lake_path(ctx, ctx.meta.get("lake_path")), read_only=True) as lake:
            scores = evaluate_against_truth(lake, truth)
    if as_json:
        click.echo(json.dumps(scores.as_dict(), indent=2))
        return
    table = Table("Medida", "Valor", title="Avaliação da vinculação (pares)")
    for key, value in scores.as_dict().items():
        if value is None:
            continue
        table.add_row(key, fmt_int(value) if isinstance(value, int)
                      else f"{value:.4f}".replace(".", ","))
    console.print(table)


@link_group.command("review")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--same", "decision", flag_value="same", help="Decide: mesma pessoa.")
@click.option("--different", "decision", flag_value="different",
              help="Decide: pessoas diferentes.")
@click.option("--pair", nargs=2, help="O par decidido (record_uid da esquerda e da direita).")
@click.option("--by", "who", default="analista", show_default=True, help="Quem decide.")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def link_review(ctx: click.Context, limit: int, decision: str | None,
                pair: tuple[str, str] | None, who: str, as_json: bool) -> None:
    """Lista os pares incertos ou registra uma decisão, respeitada na próxima vinculação.

    A lista deixa de fora os pares já decididos e mostra primeiro os que hoje estão em duas
    pessoas (uma decisão os mudaria), cada grupo pela probabilidade. Mostra só chaves de
    registro e a probabilidade; os dados de identificação ficam na tabela protegida.
    """
    from rmds.lake.store import Lake
    from rmds.linkage import record_review

    lake_path = _lake_path(ctx, ctx.meta.get("lake_path"))
    if decision:
        if not pair:
            raise click.UsageError("informe --pair ESQUERDA DIREITA com a decisão")
        _audit(ctx, "escrita", f"rmds link review --{decision} --pair {pair[0]} {pair[1]} "
               f"--by {who}")
        with Lake(lake_path) as lake:
            record_review(lake, pair[0], pair[1], decision == "same", who)
        console.print("decisão registrada; vale a partir da próxima 'rmds link'")
        return
    _audit(ctx, "leitura_restrita", f"rmds link review --limit {limit}")
    from rmds.linkage import pending_reviews

    with Lake(lake_path, read_only=True) as lake:
        queue = pending_reviews(lake, limit)
    if as_json:
        click.echo(json.dumps({"pendentes": queue.pending, "em_duas_pessoas": queue.apart,
                               "decididos": queue.decided,
                               "pares": [{"esquerda": p.left, "direita": p.right,
                                          "probabilidade": p.probability,
                                          "em_duas_pessoas": p.apart}
                                         for p in queue.first]}, ensure_ascii=False))
        return
    console.print(f"{fmt_int(queue.pending)} pares sem decisão, {fmt_int(queue.apart)} deles "
                  f"em duas pessoas hoje (primeiro estes: decidir 'mesma pessoa' os junta); "
                  f"{fmt_int(queue.decided)} decisões registradas")
    table = Table("Registro", "Registro", "Probabilidade", "Hoje", title="Pares para revisão")
    for p in queue.first:
        table.add_row(p.left, p.right, f"{p.probability:.3f}".replace(".", ","),
                      "duas pessoas" if p.apart else "já uma pessoa")
    console.print(table)


# --------------------------------------------------------------------------------- synth


@cli.command("synth")
@click.option("--scale", type=float, default=0.01, show_default=True,
              help="Fração da população real (1.0 = cerca de 21 milhões de pessoas).")
@click.option("--years", default="2022-2024", show_default=True,
              help="Anos gerados, consecutivos (ex.: 2022-2024 ou 2023).")
@click.option("--seed", type=int, default=1, show_default=True, help="Semente aleatória.")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="Diretório de saída (substituído ao final, atomicamente).")
@click.option("--dbf", is_flag=True, help="Grava DBF em vez de DBC nos sistemas do DATASUS.")
@click.option("--json", "as_json", is_flag=True, help="Resumo em JSON.")
@click.pass_context
def synth_command(ctx: click.Context, scale: float, years: str, seed: int, out: Path,
                  dbf: bool, as_json: bool) -> None:
    """Gera um estado sintético de Minas Gerais com verdade de referência.

    Pessoas dos 853 municípios reais (população por sexo e faixa etária), com nascimentos,
    óbitos, internações, produção ambulatorial, vacinação, acompanhamento de hipertensão e
    diabetes e pré-natal na APS e encaminhamentos a consórcios; erros de registro como os
    reais; saídas nos formatos de origem (DBC/DBF do DATASUS, CSV de vacinação, FHIR R4
    NDJSON e Bundles, CSV de consórcios) e verdade em OUT/verdade. Mesma semente → saída
    idêntica byte a byte.
    """
    from rmds.synth import SynthConfig, generate, parse_years

    config = SynthConfig(scale, parse_years(years), seed, out, dbc=not dbf)
    pack = _pack(ctx)
    with err_console.status("gerando estado sintético...") as status:
        result = generate(config, pack, progress=lambda step: status.update(
            f"gerando estado sintético: {step} concluído"))
    if as_json:
        click.echo(json.dumps({"out": str(result.out), "contagens": result.counts,
                               "arquivos": len(result.files), "segundos": result.seconds},
                              ensure_ascii=False, indent=2))
        return
    table = Table("Item", "Quantidade", title=f"Estado sintético em {result.out}")
    for key, value in result.counts.items():
        table.add_row(key.replace("_", " "), fmt_int(value))
    table.add_row("arquivos", fmt_int(len(result.files)))
    console.print(table)
    console.print(f"  taxas configuradas e esperadas: {result.out / 'rates.json'}")
    console.print(f"  verdade de referência: {result.out / 'verdade'}")


# ---------------------------------------------------------------------------- indicators

_PERIOD_TYPES = click.Choice(["mes", "trimestre", "ano"])


@cli.group("indicators")
def indicators_group() -> None:
    """Indicadores do planejamento estratégico, por território e período."""


@indicators_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
def indicators_list(as_json: bool) -> None:
    """Lista o catálogo: id, nome, objetivo estratégico, unidade e fonte."""
    from rmds.indicators.catalog import load_catalog

    catalog = load_catalog()
    if as_json:
        click.echo(json.dumps({
            "objetivos": {o.id: o.text for o in catalog.objectives.values()},
            "indicadores": [i.as_dict() for i in catalog]}, ensure_ascii=False, indent=2))
        return
    table = Table("Id", "Indicador", "Objetivo", "Unidade", "Melhor",
                  title=f"Catálogo de indicadores ({len(catalog)})")
    for i in catalog:
        table.add_row(i.id, i.name, i.objective, i.unit,
                      "maior" if i.higher_is_better else "menor")
    console.print(table)


@indicators_group.command("compute")
@_LAKE_OPTION
@click.option("--years", "years_text", help="Anos (2023 ou 2022-2024); padrão: os do lago.")
@click.option("--population", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="População (leiaute de populacao_sexo_faixa5.csv); padrão: a registrada "
              "no lago (o populacao.csv do estado sintético carregado) ou, sem ela, a do "
              "pacote de referência.")
@click.option("--only", "only", multiple=True, help="Só estes indicadores (repetível).")
@click.option("--changed", is_flag=True,
              help="Só os indicadores cujas tabelas mudaram desde o snapshot de que foram "
                   "calculados (e os nunca calculados).")
@click.option("--json", "as_json", is_flag=True, help="Resumo em JSON.")
@click.pass_context
def indicators_compute(ctx: click.Context, lake_path: Path | None, years_text: str | None,
                       population: Path | None, only: tuple[str, ...], changed: bool,
                       as_json: bool) -> None:
    """Calcula o catálogo para todos os níveis e períodos e grava o mart no lago."""
    from rmds.indicators.compute import compute
    from rmds.indicators.incremental import stale_indicators
    from rmds.lake.store import Lake
    from rmds.synth.config import parse_years

    settings: Settings = ctx.obj
    years = parse_years(years_text) if years_text else None
    with Lake(_lake_path(ctx, lake_path)) as lake, console.status("calculando") as status:
        if changed:
            stale = stale_indicators(lake)
            only = tuple(i for i in stale if not only or i in only)
            if not only:
                if as_json:
                    click.echo(json.dumps({"execucao": None, "indicadores": 0},
                                          ensure_ascii=False))
                else:
                    console.print("nada a recalcular: nenhuma tabela lida pelos indicadores "
                                  "mudou desde o último cálculo")
                return
        result = compute(lake, _pack(ctx), years=years, population=population,
                         threshold=settings.small_cell_threshold, only=only or None,
                         progress=lambda step: status.update(f"indicadores: {step}"),
                         engine=settings.engine)
    if as_json:
        click.echo(json.dumps({"execucao": result.run_id, "anos": list(result.years),
                               "indicadores": result.indicators, "linhas": result.rows,
                               "segundos": round(result.seconds, 3),
                               "etapas": result.timings, "avisos": result.notes},
                              ensure_ascii=False, indent=2))
        return
    console.print(f"{result.indicators} indicadores, {fmt_int(result.rows)} células "
                  f"({result.years[0]}–{result.years[-1]}, todos os níveis e períodos) em "
                  f"{fmt_decimal(result.seconds, 1)} s")
    for note in result.notes:
        console.print(f"  [yellow]aviso:[/] {note}")


@indicators_group.command("show")
@click.argument("indicator_id")
@_LAKE_OPTION
@click.option("--level", type=_LEVEL, default="estado", show_default=True)
@click.option("--period", help="AAAA, AAAA-Tn ou AAAA-MM (padrão: o ano mais recente).")
@click.option("--restricted", is_flag=True,
              help="Forma restrita (operador): sem supressão das células pequenas.")
@click.option("--public", is_flag=True, hidden=True,
              help="Forma pública (o padrão; aceito por compatibilidade).")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Saída em CSV.")
@_SNAPSHOT_OPTION
@click.pass_context
def indicators_show(ctx: click.Context, indicator_id: str, lake_path: Path | None, level: str,
                    period: str | None, restricted: bool, public: bool, as_json: bool,
                    as_csv: bool, snapshot: int | None) -> None:
    """Valores de um indicador num nível e período, com intervalo e taxa suavizada.

    Mostra a forma pública (células pequenas suprimidas, com supressão complementar), como
    o site e o download; --restricted mostra os números protegidos, para o operador."""
    if restricted and public:
        raise click.UsageError("--restricted e --public se excluem")
    import csv as csv_module
    import sys

    from rmds.indicators.catalog import load_catalog
    from rmds.indicators.mart import values
    from rmds.lake.store import Lake

    indicator = load_catalog().get(indicator_id)
    policy = _policy(ctx)
    public = policy.whole_state_public(policy.scope(_actor(not restricted)))
    with Lake(_lake_path(ctx, lake_path), read_only=True, snapshot=snapshot) as lake:
        rows = values(lake.con, indicator.id, level, period, public=public)
        read = lake.snapshot_id()
    if as_json:
        click.echo(json.dumps({"indicador": indicator.as_dict(), "snapshot": read,
                               "valores": rows},
                              ensure_ascii=False, indent=2, default=str))
        return
    if as_csv:
        writer = csv_module.writer(sys.stdout)
        if rows:
            writer.writerow(rows[0].keys())
        for row in rows:
            writer.writerow(["" if v is None else v for v in row.values()])
        return
    shown = rows[0]["period"] if rows else (period or "—")
    table = Table("Código", "Unidade", "Numerador", "Denominador", "Valor", "IC 95%",
                  "Suavizado", title=f"{indicator.name} — {indicator.unit} — {shown} "
                  f"(snapshot {read})")
    for r in rows:
        if r["suppressed"] and public:
            table.add_row(r["unit_code"], r["unit_name"] or "", "", "", "suprimido", "", "")
            continue
        table.add_row(
            r["unit_code"], r["unit_name"] or "", fmt_decimal(r["numerator"], 0),
            fmt_decimal(r["denominator"], 0), fmt_decimal(r["value"], 2),
            f"{fmt_decimal(r['ci_low'], 2)} – {fmt_decimal(r['ci_high'], 2)}",
            fmt_decimal(r["smoothed"], 2))
    console.print(table)
    console.print(f"  {indicator.definition}\n  fonte: {indicator.source}")


@indicators_group.command("export")
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@_LAKE_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Formato (padrão: pela extensão do arquivo).")
@click.option("--restricted", is_flag=True,
              help="Inclui as células pequenas (uso interno; o padrão é a forma pública).")
@_SNAPSHOT_OPTION
@click.pass_context
def indicators_export(ctx: click.Context, target: Path, lake_path: Path | None,
                      fmt: str | None, restricted: bool, snapshot: int | None) -> None:
    """Exporta o mart de indicadores (CSV ou Parquet), na forma pública por padrão."""
    from rmds.indicators.mart import export
    from rmds.lake.store import Lake

    chosen = fmt or ("parquet" if target.suffix == ".parquet" else "csv")
    policy = _policy(ctx)
    public = policy.whole_state_public(policy.scope(_actor(not restricted)))
    with Lake(_lake_path(ctx, lake_path), read_only=True, snapshot=snapshot) as lake:
        rows = export(lake.con, target, chosen, public=public)
        read = lake.snapshot_id()
    console.print(f"{fmt_int(rows)} células do snapshot {read} em {target}"
                  + (" (forma pública)" if public else " (forma restrita)"))


# ------------------------------------------------------------------------------- quality


@cli.group("quality")
def quality_group() -> None:
    """Diagnóstico da maturidade dos dados de cada município."""


@quality_group.command("report")
@_LAKE_OPTION
@click.option("--municipio", "municipality", help="Código IBGE (7 dígitos) ou nome.")
@click.option("--population", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="População (leiaute de populacao_sexo_faixa5.csv); padrão: a registrada "
              "no lago ou a do pacote.")
@click.option("--limit", type=int, default=30, show_default=True,
              help="Municípios listados (os de menor nota primeiro).")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def quality_report_command(ctx: click.Context, lake_path: Path | None,
                           municipality: str | None, population: Path | None, limit: int,
                           as_json: bool) -> None:
    """Mede as regras de qualidade e mostra a nota de maturidade (0–100), o nível e o que
    puxa a nota para baixo."""
    from rmds.lake.store import Lake
    from rmds.quality.report import municipality_report, quality_report
    from rmds.quality.rules import DIMENSIONS

    pack = _pack(ctx)
    code = None
    if municipality:
        code = pack.find(municipality, Level.MUNICIPALITY).code
    with Lake(_lake_path(ctx, lake_path)) as lake:
        with console.status("medindo as regras de qualidade"):
            result = quality_report(lake, pack, population=population,
                                    engine=ctx.obj.engine)
        rows = municipality_report(lake.con, code)
    if as_json:
        click.echo(json.dumps({"municipios": result.municipalities,
                               "avaliados": result.evaluated, "por_nivel": result.by_level,
                               "regras_nao_avaliadas": result.skipped,
                               "diagnostico": rows if code else rows[:limit]},
                              ensure_ascii=False, indent=2, default=str))
        return
    for rule, why in result.skipped.items():
        console.print(f"  [yellow]regra não avaliada:[/] {rule}: {why}")
    if code:
        r = rows[0]
        console.print(f"[bold]{r['name']} ({r['municipality']})[/]: nota "
                      f"{fmt_decimal(r['score'], 1)} — maturidade {r['level']}")
        for dim, label in DIMENSIONS.items():
            console.print(f"  {label}: {fmt_decimal(r['score_' + dim], 1)}")
        table = Table("Regra", "Registros", "Valor (%)", "Limite IC (%)", "Nota",
                      title="Regras")
        for v in r.get("rules", []):
            table.add_row(v["rule_id"], fmt_decimal(v["records"], 0),
                          fmt_decimal(v["value"], 1), fmt_decimal(v["bound"], 1),
                          fmt_decimal(v["score"], 0))
        console.print(table)
        for item in r["explanation"]:
            console.print(f"  − {item['nome']}: {fmt_decimal(item['valor'], 1)}% "
                          f"({item['meta']}); {fmt_decimal(item['pontos_perdidos'], 1)} "
                          "pontos a menos")
        return
    levels = ", ".join(f"{k}: {v}" for k, v in result.by_level.items())
    console.print(f"{result.municipalities} municípios — {levels}")
    table = Table("Código", "Município", "Nota", "Nível", "O que mais pesa",
                  title=f"Maturidade dos dados: os {limit} de menor nota")
    for r in rows[:limit]:
        worst = r["explanation"][0]["nome"] if r["explanation"] else ""
        table.add_row(r["municipality"], r["name"], fmt_decimal(r["score"], 1), r["level"],
                      worst)
    console.print(table)


# ------------------------------------------------------------------------------- service


@cli.command("serve")
@_LAKE_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              envvar="RMDS_WORKERS", show_envvar=True,
              help="Processos servidores (um por núcleo, deixando um livre): cada um lê o "
                   "mesmo lago e grava a mesma trilha de auditoria. A sessão fica no banco "
                   "operacional; cada processo guarda a sua cópia do mart em memória.")
@click.pass_context
def serve_command(ctx: click.Context, lake_path: Path | None, host: str, port: int,
                  workers: int) -> None:
    """Sobe a API REST e as páginas web (painel, município, qualidade, cargas)."""
    import os

    import uvicorn

    from rmds.server import served_app, worker_environment
    from rmds.store import open_store

    settings: Settings = ctx.obj
    lake = _lake_path(ctx, lake_path)
    console.print(f"rmds em http://{host}:{port}/  (API: /docs; banco operacional: "
                  f"{settings.store.split('@')[-1]}"
                  + (f"; {workers} processos" if workers > 1 else "") + ")")
    # X-Forwarded-* are read by rmds, and only from trusted_proxies (uvicorn's own
    # handling would believe any local client)
    if workers > 1:
        # the store migrated once here, not by every worker at once
        open_store(settings.store).close()
        os.environ.update(worker_environment(settings, lake))
        uvicorn.run("rmds.server:app_from_environment", factory=True, workers=workers,
                    host=host, port=port, log_level="warning", proxy_headers=False)
        return
    app = served_app(settings, lake)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
    finally:
        app.state.data.close()


_ROLES = click.Choice(["administrador", "analista_estadual", "gestor_regional",
                       "gestor_municipal", "gestor_consorcio", "profissional_saude",
                       "escritorio_estrategia", "gerente_projeto"])


@cli.group("users")
def users_group() -> None:
    """Usuários do serviço: papéis e territórios."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", "role", type=_ROLES, required=True, help="Papel do usuário.")
@click.option("--territorio", "territory",
              help="Território do papel: município (IBGE 7), URS (código), consórcio (sigla) "
              "ou, para gerente de projeto, o id do projeto.")
@click.option("--cnes", "facilities", multiple=True,
              help="Estabelecimento (CNES, 7 dígitos) do profissional de saúde; repita para "
                   "vários. Suas listas nominais são as das pessoas que esses "
                   "estabelecimentos acompanham.")
@click.option("--password", prompt="Senha", hide_input=True, confirmation_prompt=True,
              envvar="RMDS_NEW_PASSWORD", help="Senha (ou variável RMDS_NEW_PASSWORD).")
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, territory: str | None,
              facilities: tuple[str, ...], password: str) -> None:
    """Cria um usuário."""
    from rmds.store import open_store
    from rmds.store.audit import cli_actor, record
    from rmds.store.auth import Role, add_user

    settings: Settings = ctx.obj
    store = open_store(settings.store)
    chosen = Role(role)
    if territory and chosen.scope_level == "projeto":
        from rmds.portfolio.plan import load_plan

        if territory not in {p.id for p in load_plan().projects}:
            raise RmdsCommandError(f"projeto desconhecido: {territory}")
    elif territory and chosen.scope_level:
        pack = _pack(ctx)
        level = Level(chosen.scope_level)
        if level is Level.MUNICIPALITY:
            territory = pack.find(territory, Level.MUNICIPALITY).code
        elif territory not in pack.units(level):
            raise RmdsCommandError(f"{level.label} desconhecido(a): {territory}")
    user = add_user(store, username, password, chosen, territory, facilities)
    record(store, username=cli_actor(), role="linha_de_comando", action="escrita",
           resource=f"users add {username}", territory=user.scope, origin="cli")
    where = f", estabelecimentos {', '.join(user.facilities)}" if user.facilities else ""
    console.print(f"usuário {user.username} criado: {chosen.label}, território "
                  f"{user.scope}{where}")


@users_group.command("facilities")
@click.argument("username")
@click.option("--cnes", "facilities", multiple=True,
              help="Estabelecimento (CNES); repita para vários; nenhum: o município todo.")
@click.pass_context
def users_facilities(ctx: click.Context, username: str, facilities: tuple[str, ...]) -> None:
    """Vincula um profissional de saúde a estabelecimentos (CNES)."""
    from rmds.store import open_store
    from rmds.store.audit import cli_actor, record
    from rmds.store.auth import set_facilities

    settings: Settings = ctx.obj
    store = open_store(settings.store)
    user = set_facilities(store, username, facilities)
    record(store, username=cli_actor(), role="linha_de_comando", action="escrita",
           resource=f"users facilities {username}", territory=user.scope, origin="cli")
    console.print(f"{user.username}: estabelecimentos "
                  f"{', '.join(user.facilities) or 'nenhum (o município todo)'}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Lista os usuários."""
    from rmds.store import open_store
    from rmds.store.auth import list_users

    settings: Settings = ctx.obj
    users = list_users(open_store(settings.store))
    if as_json:
        click.echo(json.dumps([{"usuario": u.username, "papel": u.role.value,
                                "escopo": u.scope, "ativo": u.active,
                                "estabelecimentos": list(u.facilities)} for u in users],
                              ensure_ascii=False, indent=2))
        return
    table = Table("Usuário", "Papel", "Território", "Estabelecimentos", "Ativo")
    for u in users:
        table.add_row(u.username, u.role.label, u.scope, ", ".join(u.facilities) or "—",
                      "sim" if u.active else "não")
    console.print(table)


@users_group.command("disable")
@click.argument("username")
@click.pass_context
def users_disable(ctx: click.Context, username: str) -> None:
    """Desativa um usuário (e encerra suas sessões)."""
    from rmds.store import open_store
    from rmds.store.audit import cli_actor, record
    from rmds.store.auth import disable_user

    settings: Settings = ctx.obj
    store = open_store(settings.store)
    disable_user(store, username)
    record(store, username=cli_actor(), role="linha_de_comando", action="escrita",
           resource=f"users disable {username}", origin="cli")
    console.print(f"usuário {username} desativado")


@cli.group("audit")
def audit_group() -> None:
    """Trilha de auditoria encadeada por hash."""


@audit_group.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Confere a trilha: números de sequência, selos (HMAC com a chave da auditoria) e os
    pontos de controle gravados fora do banco; código de saída 1 se foi adulterada, com o
    número da primeira entrada com problema."""
    from rmds.store import open_store
    from rmds.store.audit import verify

    settings: Settings = ctx.obj
    result = verify(open_store(settings.store))
    if result.ok:
        console.print(f"[green]OK[/]: {result.message}")
        return
    err_console.print(f"[red]trilha adulterada[/]: {result.message}")
    raise SystemExit(1)


# ----------------------------------------------------------------------------- consortia


@cli.group("consortia")
def consortia_group() -> None:
    """Consórcios intermunicipais: rol de membros, produção, esperas e filas."""


@consortia_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_LAKE_OPTION
@click.pass_context
def consortia_import(ctx: click.Context, file: Path, lake_path: Path | None) -> None:
    """Importa um rol de consórcios (sigla, nome, cod_ibge7, inicio, fim): linhas ruins são
    recusadas uma a uma; as demais substituem os membros dos consórcios listados."""
    from rmds.consortia.roster import import_roster
    from rmds.lake.store import Lake

    _audit(ctx, "escrita", f"rmds consortia import {file}")
    with Lake(_lake_path(ctx, lake_path)) as lake:
        result = import_roster(lake, file, _pack(ctx))
    console.print(f"{fmt_int(result.accepted)} vínculos importados de {result.file} para "
                  f"{len(result.consortia)} consórcios: {', '.join(result.consortia)}")
    for problem in result.refused:
        err_console.print(f"  [yellow]recusada[/] {problem}")
    if result.refused:
        raise SystemExit(1)


@consortia_group.command("list")
@_LAKE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def consortia_list_command(ctx: click.Context, lake_path: Path | None, as_json: bool) -> None:
    """Consórcios conhecidos e o quanto o rol está completo."""
    from rmds.consortia.report import consortia_list
    from rmds.lake.store import Lake

    with Lake(_lake_path(ctx, lake_path)) as lake:
        listing = consortia_list(lake.con, _pack(ctx))
    if as_json:
        click.echo(json.dumps(listing, ensure_ascii=False, indent=2))
        return
    if listing["rol"]["aviso"]:
        console.print(f"[yellow]{listing['rol']['aviso']}[/]")
    table = Table("Sigla", "Nome", "Municípios conhecidos")
    for c in listing["consorcios"]:
        table.add_row(c["sigla"], c["nome"], str(c["municipios_conhecidos"]))
    console.print(table)


@consortia_group.command("report")
@click.argument("sigla")
@_LAKE_OPTION
@click.option("--year", type=int, help="Ano (padrão: o da data mais recente dos dados).")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def consortia_report(ctx: click.Context, sigla: str, lake_path: Path | None,
                     year: int | None, as_json: bool) -> None:
    """Um consórcio: membros, população coberta, produção, esperas e fila."""
    from rmds.consortia.report import consortium_overview
    from rmds.lake.store import Lake

    policy = _policy(ctx)
    with Lake(_lake_path(ctx, lake_path)) as lake:
        overview, _ = policy.consortium_form(
            consortium_overview(lake.con, _pack(ctx), sigla, year), policy.scope(_actor(False)))
    if as_json:
        click.echo(json.dumps(overview, ensure_ascii=False, indent=2, default=str))
        return
    if overview["rol"]["aviso"]:
        console.print(f"[yellow]{overview['rol']['aviso']}[/]")
    console.print(f"[bold]{overview['sigla']}[/] {overview['nome']} — {overview['ano']}, "
                  f"{len(overview['membros'])} membros, dados até "
                  f"{overview['data_de_referencia']}")
    waits = Table("Serviço", "Realizados", "Espera mediana (dias)", "p90 (dias)",
                  title="Espera da solicitação ao atendimento")
    for w in overview["esperas"]:
        waits.add_row(w["tipo"], fmt_int(w["realizados"]),
                      fmt_decimal(w["espera_mediana_dias"], 0),
                      fmt_decimal(w["espera_p90_dias"], 0))
    console.print(waits)
    line = Table("Serviço", "Na fila", "Idade mediana", "p90", "Mais antigo",
                 title="Fila na data dos dados")
    for q in overview["fila"]:
        line.add_row(q["tipo"], fmt_int(q["na_fila"]), fmt_decimal(q["idade_mediana_dias"], 0),
                     fmt_decimal(q["idade_p90_dias"], 0), str(q["mais_antigo_dias"]))
    console.print(line)


# ----------------------------------------------------------------------------- portfolio

_CLI_USER_NOTE = "Alterações pela linha de comando entram na auditoria como 'cli'."


def _portfolio_store(ctx: click.Context) -> Any:
    from rmds.portfolio.service import load_into_store
    from rmds.store import open_store

    settings: Settings = ctx.obj
    store = open_store(settings.store)
    load_into_store(store)
    return store


def _cli_user() -> Any:
    from rmds.store.auth import Role, User

    return User(0, "cli", Role.STRATEGY_OFFICE, None, None)


@cli.group("portfolio")
def portfolio_group() -> None:
    """Carteira estratégica: projetos, marcos, status semanal, pontos críticos."""


@portfolio_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def portfolio_list(ctx: click.Context, as_json: bool) -> None:
    """Os projetos da carteira, com situação e marcos atrasados."""
    from rmds.portfolio.service import STATUSES, board

    projects = board(_portfolio_store(ctx))
    if as_json:
        click.echo(json.dumps(projects, ensure_ascii=False, indent=2, default=str))
        return
    table = Table("Id", "Projeto", "Unidade", "Objetivos", "Situação", "%", "Atrasados",
                  title=f"Carteira estratégica ({len(projects)} projetos)")
    for p in projects:
        table.add_row(p["id"], p["name"], p["unit"], ", ".join(p["objectives"]),
                      STATUSES.get(p["current_status"], "—"),
                      "" if p["percent"] is None else str(p["percent"]),
                      str(p["late_milestones"]))
    console.print(table)


@portfolio_group.command("status")
@click.argument("project_id")
@click.option("--situacao", type=click.Choice(["no_prazo", "atencao", "atrasado", "concluido",
                                               "suspenso"]), required=True)
@click.option("--percentual", type=click.IntRange(0, 100), required=True)
@click.option("--nota", default="", help="Nota curta da semana.")
@click.option("--semana", type=click.DateTime(["%Y-%m-%d"]), help="Uma data da semana.")
@click.pass_context
def portfolio_status(ctx: click.Context, project_id: str, situacao: str, percentual: int,
                     nota: str, semana: Any) -> None:
    """Registra o status semanal de um projeto."""
    from rmds.portfolio.service import add_status

    add_status(_portfolio_store(ctx), _cli_user(), project_id, situacao, percentual, nota,
               semana.date() if semana else None)
    console.print(f"status registrado para {project_id}. {_CLI_USER_NOTE}")


@portfolio_group.command("milestone")
@click.argument("milestone_id", type=int)
@click.option("--due", type=click.DateTime(["%Y-%m-%d"]), help="Prazo.")
@click.option("--done", type=click.DateTime(["%Y-%m-%d"]), help="Data de conclusão.")
@click.pass_context
def portfolio_milestone(ctx: click.Context, milestone_id: int, due: Any, done: Any) -> None:
    """Define o prazo ou a conclusão de um marco."""
    from rmds.portfolio.service import set_milestone

    set_milestone(_portfolio_store(ctx), _cli_user(), milestone_id,
                  due=due.date() if due else None, done=done.date() if done else None)
    console.print(f"marco {milestone_id} atualizado. {_CLI_USER_NOTE}")


@portfolio_group.command("critical")
@click.argument("project_id")
@click.argument("description")
@click.option("--unidade", required=True, help="Sigla da unidade responsável.")
@click.option("--gravidade", type=click.Choice(["baixa", "media", "alta"]), default="media",
              show_default=True)
@click.option("--escalar", is_flag=True, help="Leva o ponto à pauta do colegiado.")
@click.pass_context
def portfolio_critical(ctx: click.Context, project_id: str, description: str, unidade: str,
                       gravidade: str, escalar: bool) -> None:
    """Abre um ponto crítico (e, com --escalar, leva-o ao colegiado)."""
    from rmds.portfolio.service import add_critical_point, escalate

    store = _portfolio_store(ctx)
    point = add_critical_point(store, _cli_user(), project_id, description, unidade,
                               gravidade)
    if escalar:
        escalate(store, _cli_user(), point)
    console.print(f"ponto crítico {point} aberto{' e escalado' if escalar else ''}.")


@portfolio_group.command("report")
@click.option("--semana", type=click.DateTime(["%Y-%m-%d"]), help="Uma data da semana.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--pdf", "pdf_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def portfolio_report(ctx: click.Context, semana: Any, html_path: Path | None,
                     pdf_path: Path | None, as_json: bool) -> None:
    """Relatório semanal de monitoramento (HTML e PDF)."""
    from rmds.portfolio.pdf import html_to_pdf
    from rmds.portfolio.service import STATUSES, weekly_report
    from rmds.web.pages import ENV

    report = weekly_report(_portfolio_store(ctx), semana.date() if semana else None)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return
    html = ENV.get_template("relatorio.html").render(r=report, statuses=STATUSES)
    if html_path:
        html_path.write_text(html, encoding="utf-8")
    if pdf_path:
        pdf_path.write_bytes(html_to_pdf(html))
    console.print(f"semana {report['semana']}: {len(report['atualizacoes'])} status, "
                  f"{len(report['marcos_atrasados'])} marcos atrasados, "
                  f"{len(report['pauta_colegiado'])} pontos na pauta do colegiado")


# ------------------------------------------------------------------------------ settings


@cli.command("settings")
@click.pass_context
def settings_command(ctx: click.Context) -> None:
    """Mostra as configurações em vigor e de onde vêm."""
    settings: Settings = ctx.obj
    table = Table("Configuração", "Variável", "Valor")
    import re

    for setting in SETTINGS:
        value = str(getattr(settings, setting.name))
        if setting.name == "store":           # never show a database password
            value = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", value)
        if setting.name == "oidc_client_secret" and value != "None":   # nor a secret
            value = "*** (definido)"
        table.add_row(setting.name, setting.env, value)
    console.print(table)


# ---------------------------------------------------------------------------------- demo


@cli.command("demo")
@click.pass_context
@click.option("--scale", type=float, default=0.005, show_default=True,
              help="Escala do estado sintético da demonstração.")
def demo(ctx: click.Context, scale: float) -> None:
    """Demonstração: pacote de referência, território de MG, amostras reais do DATASUS,
    um estado sintético gerado e carregado no lago (em DATA_HOME/demo).

    As próximas etapas (vinculação, indicadores e web) entram na demonstração à medida
    que são construídas.
    """
    from rmds.demo import run_demo

    settings: Settings = ctx.obj
    run_demo(_pack(ctx), console, settings.data_home / "demo", scale)


def _care_commands() -> None:
    from rmds.care.commands import access_log_command, patient_group, worklists_group

    cli.add_command(patient_group)
    cli.add_command(worklists_group)
    cli.add_command(access_log_command)


_care_commands()


def main() -> None:
    """Console entry point."""
    cli(prog_name="rmds")


if __name__ == "__main__":
    main()

# ---------------------------------------------------------------------- acquisition

from rmds.acquisition.commands import fetch_command, sync_command  # noqa: E402

cli.add_command(fetch_command)
cli.add_command(sync_command)
