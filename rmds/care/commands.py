"""The operator's commands for care: ``rmds patient show``.

The command line is run by the server's operator (:data:`rmds.access.OPERATOR`, an
administrator), who opens a record only to audit it; the opening is written to the audit
chain like any other (:func:`rmds.care.opening.open_record`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from rmds.fmt import fmt_date

__all__ = ["patient_group"]


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
                                 origin="cli")
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
