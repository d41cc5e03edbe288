"""``rmds fetch`` and ``rmds sync``: download DATASUS files and run the monthly refresh."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from rmds.acquisition.catalog import HOST, Family, families_of, ingestible_name
from rmds.acquisition.fetch import MANIFEST, Fetcher, FetchReport, periods
from rmds.acquisition.vaccination import PNI_URL, fetch_vaccination

__all__ = ["fetch_command", "sync_command"]

SYNC_STATE = ".rmds-sync.json"
_STEPS = ("carga", "vinculação", "indicadores")
_VACCINATION = {"PNI", "VACINACAO"}


def _fetch_options(func: Any) -> Any:
    for option in reversed((
        click.argument("systems", nargs=-1, required=True),
        click.option("--uf", default="MG", show_default=True, help="UF dos arquivos."),
        click.option("--period", "period", required=True,
                     help="Competências: 2023-01..2024-12, 2023-05 ou 2023."),
        click.option("--dest", type=click.Path(path_type=Path, file_okay=False),
                     default=Path("dados/datasus"), show_default=True,
                     help="Pasta local dos arquivos baixados (com o manifesto)."),
        click.option("--host", default=HOST, show_default=True, help="Servidor FTP."),
        click.option("--port", type=int, default=21, show_default=True),
        click.option("--timeout", type=float, default=60.0, show_default=True,
                     help="Segundos sem resposta antes de tentar de novo."),
        click.option("--retries", type=int, default=5, show_default=True,
                     help="Novas tentativas, com espera exponencial (2 s, 4 s, 8 s...)."),
        click.option("--url-pni", "pni_url", default=PNI_URL, show_default=True,
                     help="Endereço dos ZIPs mensais de vacinação (dados abertos, HTTP)."),
    )):
        func = option(func)
    return func


def _run_fetch(systems: tuple[str, ...], uf: str, period: str, dest: Path, host: str,
               port: int, timeout: float, retries: int, pni_url: str) -> FetchReport:
    vaccination = [s for s in systems if s.upper() in _VACCINATION]
    try:
        families = families_of([s for s in systems if s not in vaccination])
        months = periods(period)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    report = FetchReport()
    if families:
        report = _run_ftp(families, uf, months, dest, host, port, timeout, retries)
    if vaccination:
        try:
            fetch_vaccination(dest, uf, months, base_url=pni_url, timeout=timeout,
                              retries=retries, report=report)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    return report


def _run_ftp(families: list[Family], uf: str, months: list[tuple[int, int]], dest: Path,
             host: str, port: int, timeout: float, retries: int) -> FetchReport:
    last: dict[str, int] = {}

    def progress(remote: str, done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if last.get(remote) != step:
            last[remote] = step
            click.echo(f"  {remote.rsplit('/', 1)[-1]}: {done * 100 // max(total, 1)}%",
                       err=True)

    fetcher = Fetcher(dest, host=host, port=port, timeout=timeout, retries=retries,
                      progress=progress)
    try:
        return fetcher.fetch(families, uf, months)
    except OSError as exc:
        raise click.ClickException(f"Falha ao conectar em {host}:{port}: {exc}") from None


def _print_report(report: FetchReport) -> None:
    click.echo(f"baixados: {len(report.fetched)} (republicados: {len(report.republished)}); "
               f"sem mudança: {len(report.unchanged)}; ausentes no servidor: "
               f"{len(report.missing)}; falharam: {len(report.failed)}")
    for name in report.republished:
        click.echo(f"  republicado: {name}")
    for name in report.missing:
        click.echo(f"  ausente ou recusado pelo servidor: {name}")
    for name in report.failed:
        click.echo(f"  falhou após as novas tentativas: {name}")


@click.command("fetch")
@_fetch_options
@click.option("--json", "as_json", is_flag=True, help="Resumo em JSON.")
def fetch_command(systems: tuple[str, ...], uf: str, period: str, dest: Path, host: str,
                  port: int, timeout: float, retries: int, pni_url: str, as_json: bool) -> None:
    """Baixa arquivos do FTP do DATASUS (SIM, SINASC, SIH, SIA, CNES; p. ex. SIH ou SIH:RD)
    e as doses de vacinação dos dados abertos (PNI: o ZIP nacional do mês, do qual ficam as
    linhas da UF, em vacinacao_MG_2023_01.csv).

    Retoma downloads interrompidos, tenta de novo com espera exponencial, confere o tamanho
    e só torna o arquivo visível quando completo. O manifesto da pasta (tamanho, data e
    SHA-256 de cada arquivo) detecta arquivos republicados, que são baixados de novo.
    Sai com código 1 quando algum arquivo falhou.
    """
    report = _run_fetch(systems, uf, period, dest, host, port, timeout, retries, pni_url)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    if report.failed:
        raise SystemExit(1)


def _state(dest: Path) -> dict[str, Any]:
    path = dest / SYNC_STATE
    return json.loads(path.read_text()) if path.exists() else {"ingested": {}, "pending": []}


def _save_state(dest: Path, state: dict[str, Any]) -> None:
    tmp = dest / (SYNC_STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, dest / SYNC_STATE)


@click.command("sync")
@_fetch_options
@click.option("--lake", "lake_path", type=click.Path(path_type=Path, file_okay=False),
              help="Pasta do lago (padrão: configuração 'lake', RMDS_LAKE).")
@click.option("--population", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="População para os indicadores (padrão: a do pacote de referência).")
@click.option("--no-link", "no_link", is_flag=True, help="Não roda a vinculação incremental.")
@click.pass_context
def sync_command(ctx: click.Context, systems: tuple[str, ...], uf: str, period: str,
                 dest: Path, host: str, port: int, timeout: float, retries: int, pni_url: str,
                 lake_path: Path | None, population: Path | None, no_link: bool) -> None:
    """A atualização mensal num comando: baixa o que é novo ou republicado, carrega no lago
    (o republicado substitui o lote anterior), vincula os registros novos e recalcula os
    indicadores cujas tabelas mudaram. Sai com código diferente de zero, dizendo a etapa,
    quando uma etapa falha; a próxima execução retoma as etapas pendentes."""
    # the steps are the CLI's own commands, found through the command tree (this package
    # does not import rmds.cli, which imports it)
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    ingest_command = root.get_command(ctx, "ingest")
    link_group = root.get_command(ctx, "link")
    indicators = root.get_command(ctx, "indicators")
    assert isinstance(indicators, click.Group)
    indicators_compute = indicators.get_command(ctx, "compute")
    assert ingest_command and link_group and indicators_compute

    report = _run_fetch(systems, uf, period, dest, host, port, timeout, retries, pni_url)
    _print_report(report)
    state = _state(dest)
    manifest = json.loads((dest / MANIFEST).read_text()) if (dest / MANIFEST).exists() else {}
    new = sorted(name for name, entry in manifest.items()
                 if entry.get("complete") and state["ingested"].get(name) != entry["sha256"]
                 and (dest / name).exists())
    unread = [n for n in new if not ingestible_name(n)]
    for name in unread:
        click.echo(f"  baixado, mas o rmds ainda não lê esta família: {name}")
    new = [n for n in new if n not in unread]
    pending: list[str] = list(state["pending"])
    if new:
        pending = list(_STEPS)
    if not pending:
        click.echo("Nada novo: nenhum arquivo novo ou republicado e nenhuma etapa pendente; "
                   "nada foi carregado, vinculado ou recalculado.")
        if report.failed:
            raise SystemExit(1)
        return
    steps: dict[str, Any] = {
        "carga": lambda: ctx.invoke(ingest_command, paths=tuple(dest / n for n in new),
                                    lake_path=lake_path, as_json=False),
        "vinculação": lambda: None if no_link else ctx.invoke(
            link_group, lake_path=lake_path, accept=0.999, review=0.5, incremental=True,
            as_json=False),
        "indicadores": lambda: ctx.invoke(
            indicators_compute, lake_path=lake_path, years_text=None, population=population,
            only=(), changed=True, as_json=False),
    }
    for step in _STEPS:
        if step not in pending or (step == "carga" and not new):
            pending = [s for s in pending if s != step]
            continue
        click.echo(f"== {step}")
        try:
            steps[step]()
        except (SystemExit, click.exceptions.Exit) as exc:
            code = getattr(exc, "code", None) or getattr(exc, "exit_code", 1)
            if code:
                _save_state(dest, {**state, "pending": pending})
                raise click.ClickException(f"a etapa '{step}' falhou (código {code}); "
                                           "rode 'rmds sync' de novo para retomar") from None
        except Exception as exc:
            _save_state(dest, {**state, "pending": pending})
            raise click.ClickException(f"a etapa '{step}' falhou: {exc}; rode 'rmds sync' "
                                       "de novo para retomar") from None
        if step == "carga":
            state["ingested"].update({n: manifest[n]["sha256"] for n in new})
        pending = [s for s in pending if s != step]
        _save_state(dest, {**state, "pending": pending})
    click.echo(f"Sincronização concluída: {len(new)} arquivo(s) carregado(s) "
               f"({len(report.republished)} republicado(s)); ausentes no servidor: "
               f"{len(report.missing)}.")
    if report.failed:
        raise SystemExit(1)
