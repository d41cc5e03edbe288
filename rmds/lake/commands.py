"""``rmds snapshots``: the lake's snapshots, their retention, and its current data files.

Beside the lake package; ``rmds/cli.py`` only registers the group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from rmds.fmt import fmt_int

__all__ = ["snapshots_group"]

console = Console()


def _lake(ctx: click.Context, lake_path: Path | None) -> Path:
    settings: Any = ctx.find_root().obj
    return lake_path or Path(settings.lake)


_LAKE = click.option("--lake", "lake_path", type=click.Path(path_type=Path, file_okay=False),
                     help="Pasta do lago (padrão: configuração 'lake', RMDS_LAKE).")


def _changes(changes: dict[str, Any]) -> str:
    names = {"tables_created": "tabelas criadas", "tables_inserted_into": "inserções",
             "tables_deleted_from": "exclusões", "tables_dropped": "tabelas removidas",
             "tables_altered": "tabelas alteradas", "schemas_created": "esquemas criados"}
    return "; ".join(f"{names.get(k, k)}: {len(v)}" for k, v in changes.items() if v)


def _details(extra: dict[str, Any]) -> str:
    parts = []
    if extra.get("lotes"):
        parts.append("lotes " + ", ".join(str(b) for b in extra["lotes"][:8])
                     + (" …" if len(extra["lotes"]) > 8 else ""))
    for s in extra.get("substituidos") or []:
        parts.append(f"lote {s['lote']} substituído pelo {s['por']}")
    for key, label in (("calculo", "cálculo"), ("snapshot_lido", "leu o snapshot"),
                       ("registros", "registros"), ("pessoas", "pessoas")):
        if key in extra:
            parts.append(f"{label} {extra[key]}")
    return "; ".join(parts)


@click.group("snapshots", invoke_without_command=True)
@_LAKE
@click.option("--json", "as_json", is_flag=True, help="Saída em JSON.")
@click.pass_context
def snapshots_group(ctx: click.Context, lake_path: Path | None, as_json: bool) -> None:
    """Lista os snapshots do lago: cada carga ou cálculo confirmado é um snapshot, que
    `--snapshot N` (CLI) e `?snapshot=N` (API) reproduzem."""
    if ctx.invoked_subcommand is not None:
        return
    from rmds.lake.store import Lake

    with Lake(_lake(ctx, lake_path), read_only=True) as lake:
        snaps = lake.snapshots()
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in snaps], ensure_ascii=False, indent=2,
                              default=str))
        return
    table = Table("Snapshot", "Quando (UTC)", "O quê", "Mudanças", "Detalhes", "Autor",
                  title="Snapshots do lago")
    for s in snaps:
        table.add_row(str(s.id), s.time.strftime("%d/%m/%Y %H:%M:%S"), s.message or "",
                      _changes(s.changes), _details(s.extra), s.author or "")
    console.print(table)


@snapshots_group.command("expire")
@_LAKE
@click.option("--days", type=click.FloatRange(min=0),
              help="Mantém os snapshots destes últimos dias (padrão: configuração "
                   "'lake_retention_days').")
@click.option("--keep-last", type=click.IntRange(min=1), default=1, show_default=True,
              help="Mantém sempre os N snapshots mais recentes.")
@click.pass_context
def snapshots_expire(ctx: click.Context, lake_path: Path | None, days: float | None,
                     keep_last: int) -> None:
    """Esquece os snapshots mais antigos que a retenção e apaga os arquivos que nenhum
    snapshot mantido usa."""
    from rmds.lake.store import Lake

    settings: Any = ctx.find_root().obj
    keep_days = days if days is not None else float(settings.lake_retention_days)
    with Lake(_lake(ctx, lake_path)) as lake:
        result = lake.expire(keep_days, keep_last)
    console.print(f"{fmt_int(result['snapshots'])} snapshots expirados, "
                  f"{fmt_int(result['arquivos'])} arquivos apagados")


@snapshots_group.command("files")
@click.argument("table_name", metavar="TABELA")
@_LAKE
@click.option("--snapshot", type=click.IntRange(min=0), help="Padrão: o atual.")
@click.pass_context
def snapshots_files(ctx: click.Context, table_name: str, lake_path: Path | None,
                    snapshot: int | None) -> None:
    """Os arquivos Parquet de uma tabela num snapshot, em JSON: o que o Spark (ou
    qualquer leitor de Parquet) lê como está."""
    from rmds.exceptions import ConfigurationError
    from rmds.lake.store import Lake

    with Lake(_lake(ctx, lake_path), read_only=True, snapshot=snapshot) as lake:
        if table_name not in lake.table_names():
            raise ConfigurationError(f"tabela desconhecida no lago: {table_name}")
        files = lake.current_files(table_name)
        read = lake.snapshot_id()
    click.echo(json.dumps({"tabela": table_name, "snapshot": read, "arquivos": files},
                          ensure_ascii=False, indent=2))


@snapshots_group.command("compact")
@_LAKE
@click.pass_context
def snapshots_compact(ctx: click.Context, lake_path: Path | None) -> None:
    """Reescreve os arquivos com exclusões (lotes substituídos, tabelas recalculadas): os
    arquivos atuais ficam Parquet simples, sem arquivos de exclusão."""
    from rmds.lake.store import Lake

    with Lake(_lake(ctx, lake_path)) as lake:
        lake.compact()
        read = lake.snapshot_id()
    console.print(f"lago compactado (snapshot {read})")
