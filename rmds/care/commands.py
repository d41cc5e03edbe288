"""The operator's commands for care: ``rmds patient show``.

The command line is run by the server's operator (:data:`rmds.access.OPERATOR`, an
administrator), who opens a record only to audit it; the opening is written to the audit
chain like any other (:func:`rmds.care.opening.open_record`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from rmds.fmt import fmt_date, fmt_int

__all__ = ["access_log_command", "patient_group", "worklists_group"]


@click.group("patient")
def patient_group() -> None:
    """Prontuário de uma pessoa (só para auditoria, pela linha de comando)."""


@patient_group.command("show")
@click.argument("pessoa")
@click.option("--lake", "lake_path", type=click.Path(path_type=Path, file_okay=False),
              help="Pasta do lago (padrão: a da configuração).")
@click.option("--purpose", default="auditoria", show_default=True,
              type=click.Choice(["auditoria"]),
              help="Finalidade do acesso (a linha de comando só audita).")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def patient_show(ctx: click.Context, pessoa: str, lake_path: Path | None, purpose: str,
                 as_json: bool) -> None:
    """Mostra o prontuário de PESSOA (número no índice, CNS ou CPF): identificação como
    cada fonte registrou, conflitos e a linha do tempo. A abertura é auditada."""
    from rmds.access import OPERATOR, AccessDenied, AccessPolicy
    from rmds.care.opening import open_record
    from rmds.care.projection import load
    from rmds.care.record import PersonNotFound
    from rmds.lake.store import Lake
    from rmds.store.audit import cli_actor
    from rmds.store.db import open_store

    settings = ctx.obj
    policy = AccessPolicy(None, settings.small_cell_threshold)
    store = open_store(settings.store)
    try:
        with Lake(lake_path or settings.lake, read_only=True) as lake:
            opened = open_record(lake.con, store, policy, policy.scope(OPERATOR),
                                 username=cli_actor(), key=pessoa, purpose=purpose,
                                 origin="cli", projection=load(lake.con, lake.snapshot_id()))
    except (PersonNotFound, AccessDenied) as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.close()
    record = opened.record
    if as_json:
        click.echo(json.dumps(record.as_dict(), ensure_ascii=False, indent=2, default=str))
        return
    console = Console()
    console.print(f"Pessoa nº {record.person_id} — município de residência "
                  f"{record.residence_municipality or 'não informado'}; "
                  f"{len(record.identifications)} registro(s) de origem")
    for name, values in record.conflicts.items():
        console.print(f"[yellow]conflito em {name}:[/] {len(values)} valores diferentes")
    table = Table("Data", "Tipo", "Descrição", "Sistema", "Estabelecimento", "Lote",
                  title="Linha do tempo")
    for item in record.timeline:
        table.add_row(fmt_date(item.date) if item.date else "—", item.kind, item.description,
                      item.source_system, item.facility_cnes or "—", str(item.batch_id))
    console.print(table)


@click.command("access-log")
@click.argument("pessoa")
@click.option("--lake", "lake_path", type=click.Path(path_type=Path, file_okay=False),
              help="Pasta do lago, para achar a pessoa por CNS ou CPF.")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def access_log_command(ctx: click.Context, pessoa: str, lake_path: Path | None,
                       as_json: bool) -> None:
    """Quem acessou os dados de PESSOA (número no índice, CNS ou CPF), segundo a trilha de
    auditoria; entradas ausentes da trilha são mostradas. Sai com 1 se a trilha não
    está íntegra."""
    from dataclasses import asdict

    from rmds.care.accesslog import access_log
    from rmds.care.record import PersonNotFound, resolve_person
    from rmds.lake.store import Lake
    from rmds.store.db import open_store

    settings = ctx.obj
    if pessoa.isdigit() and len(pessoa) < 11:
        person_id = int(pessoa)
    else:
        try:
            with Lake(lake_path or settings.lake, read_only=True) as lake:
                person_id = resolve_person(lake.con, pessoa)
        except PersonNotFound as error:
            raise click.ClickException(str(error)) from None
    store = open_store(settings.store)
    try:
        log = access_log(store, person_id)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"pessoa": person_id, "acessos": [asdict(e) for e in log.entries],
                               "ausentes": log.missing, "integra": log.complete,
                               "trilha": log.chain.message}, ensure_ascii=False, indent=2))
    else:
        console = Console()
        table = Table("Nº", "Quando", "Quem", "Papel", "Finalidade", "Quebra de vidro",
                      "Origem", title=f"Acessos aos dados da pessoa nº {person_id}")
        for e in log.entries:
            table.add_row(str(e.seq), e.at, e.username, e.role, e.purpose or "—",
                          f"sim: {e.justification}" if e.break_glass else "não",
                          e.origin or "—")
        console.print(table)
        for seq in log.missing:
            console.print(f"[red]entrada nº {seq} ausente da trilha[/]: pode ter sido um "
                          "acesso aos seus dados")
        console.print(log.chain.message)
    if not log.complete:
        ctx.exit(1)


@click.group("worklists")
def worklists_group() -> None:
    """Listas nominais para as equipes de atenção primária (declaradas em
    rmds/care/worklists.toml)."""


def _as_of(value: str | None) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"data inválida: {value} (use AAAA-MM-DD)") from None


@worklists_group.command("list")
def worklists_list() -> None:
    """As listas declaradas, com a regra e o indicador que cada uma move."""
    from rmds.care.worklists import load_worklists

    table = Table("Lista", "Título", "Regra", "Indicador")
    for wl in load_worklists().values():
        table.add_row(wl.id, wl.title, wl.rule, wl.indicator)
    Console().print(table)


@worklists_group.command("compute")
@click.option("--lake", "lake_path", type=click.Path(path_type=Path, file_okay=False))
@click.option("--as-of", "as_of", help="Data de referência (AAAA-MM-DD); padrão: a mais "
              "recente do lago para cada lista.")
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def worklists_compute(ctx: click.Context, lake_path: Path | None, as_of: str | None,
                      as_json: bool) -> None:
    """Calcula todas as listas, mostra quantas pessoas há em cada uma por município
    (contagens, sem ninguém nomeado) e publica essas contagens no lago, num snapshot, para
    o painel de indicadores e a página do município. Rode depois de cada 'rmds link'."""
    import time

    from rmds.care.listcounts import publish
    from rmds.care.worklists import counts
    from rmds.lake.store import Lake
    from rmds.territory import ReferencePack

    settings = ctx.obj
    icsap = frozenset(ReferencePack(settings.reference_dir).icsap.codes)
    start = time.perf_counter()
    with Lake(lake_path or settings.lake) as lake:
        results = publish(lake, icsap, as_of=_as_of(as_of))
        snapshot = lake.snapshot_id()
    seconds = round(time.perf_counter() - start, 3)
    out: dict[str, Any] = {key: {"pessoas": len(entries), "por_municipio": counts(entries)}
                           for key, entries in results.items()}
    if as_json:
        click.echo(json.dumps({"listas": out, "segundos": seconds, "snapshot": snapshot},
                              ensure_ascii=False, indent=2))
        return
    table = Table("Lista", "Pessoas", "Municípios")
    for key, item in out.items():
        table.add_row(key, fmt_int(item["pessoas"]), fmt_int(len(item["por_municipio"])))
    Console().print(table)
    click.echo(f"contagens publicadas no snapshot {fmt_int(snapshot)} do lago "
               f"({f'{seconds:.1f}'.replace('.', ',')} s)")


@worklists_group.command("export")
@click.argument("lista")
@click.argument("destino", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--municipality", "municipality", required=True,
              help="Município (IBGE, 7 dígitos) da equipe.")
@click.option("--lake", "lake_path", type=click.Path(path_type=Path, file_okay=False))
@click.option("--as-of", "as_of", help="Data de referência (AAAA-MM-DD).")
@click.option("--cnes", "facilities", multiple=True,
              help="Só as pessoas acompanhadas por este estabelecimento (e as que nenhum "
                   "acompanha); repita para vários.")
@click.pass_context
def worklists_export(ctx: click.Context, lista: str, destino: Path, municipality: str,
                     lake_path: Path | None, as_of: str | None,
                     facilities: tuple[str, ...]) -> None:
    """Grava a LISTA de um município em CSV (';', UTF-8 com BOM). Cada pessoa da lista
    ganha uma entrada na trilha de auditoria (baixar_lista)."""
    from rmds.care.worklists import audited_export, compute, load_worklists
    from rmds.lake.store import Lake
    from rmds.store.audit import cli_actor
    from rmds.store.db import open_store
    from rmds.territory import ReferencePack

    settings = ctx.obj
    lists = load_worklists()
    if lista not in lists:
        raise click.ClickException(f"lista desconhecida: {lista} (veja rmds worklists list)")
    wl = lists[lista]
    icsap = frozenset(ReferencePack(settings.reference_dir).icsap.codes)
    with Lake(lake_path or settings.lake, read_only=True) as lake:
        entries = compute(lake.con, wl, as_of=_as_of(as_of), icsap=icsap,
                          municipality=municipality, facilities=facilities)
    store = open_store(settings.store)
    try:        # audited before the file is written: no download unaudited
        content = audited_export(store, entries, wl, username=cli_actor(),
                                 role="linha_de_comando", territory=municipality,
                                 origin="cli")
    finally:
        store.close()
    destino.write_bytes(content)
    click.echo(f"{fmt_int(len(entries))} pessoa(s) em {destino}")
