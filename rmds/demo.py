"""The demo: what rmds can do today, run end to end on the reference pack.

Steps are added as they are built: reference pack, territory, DATASUS samples, synthetic
state, ingestion, linkage, indicators, data quality and the web service (consortia,
queues and the strategic portfolio included).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rmds.fmt import fmt_decimal, fmt_int
from rmds.territory import Level, ReferencePack
from rmds.territory.check import check_pack

__all__ = ["run_demo"]

BH = "3106200"      # Belo Horizonte: the demo's professional and citizen live there


def run_demo(pack: ReferencePack, console: Console, workdir: Path | None = None,
             scale: float = 0.005) -> None:
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
    counts = Table("Nível", *[v.label for v in pack.vintages])
    for level in (Level.MUNICIPALITY, Level.REGION, Level.MACRO, Level.URS):
        counts.add_row(level.label, *[
            str(len(pack.units(level, v))) if (level is not Level.URS
                                                or v.has_urs) else "—"
            for v in pack.vintages])
    console.print(counts)

    console.print("3. População residente por macrorregião (PDR vigente)")
    table = Table("Código", "Macrorregião", "Municípios", "Pop. 2022 (DATASUS)",
                  "Pop. 2023 (IBGE, interpolada)", "Pop. 2024 (DATASUS)")
    for unit in pack.macros(pack.current_vintage).values():
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
    if workdir is not None:
        _synthetic_state_into_lake(pack, console, workdir, scale)


def _synthetic_state_into_lake(pack: ReferencePack, console: Console, workdir: Path,
                               scale: float) -> None:
    import time

    from rmds.lake.ingest import ingest
    from rmds.lake.store import Lake
    from rmds.synth import SynthConfig, generate

    workdir.mkdir(parents=True, exist_ok=True)
    state_dir, lake_path = workdir / "estado", workdir / "lago"
    console.print(f"5. Gerando um estado sintético (escala {scale}, 2023–2024) em {state_dir}")
    started = time.perf_counter()
    result = generate(SynthConfig(scale, (2023, 2024), 2026, state_dir), pack)
    console.print(f"   {fmt_int(result.people)} pessoas; "
                  + ", ".join(f"{fmt_int(v)} {k.replace('_', ' ')}"
                              for k, v in result.counts.items() if k != "pessoas_base")
                  + f"; {fmt_int(len(result.files))} arquivos "
                  f"({time.perf_counter() - started:.0f} s)")
    if lake_path.is_dir():  # the demo starts from an empty lake
        shutil.rmtree(lake_path)
    console.print(f"6. Carregando o estado sintético no lago {lake_path}")
    started = time.perf_counter()
    with Lake(lake_path) as lake:
        outcomes = ingest(lake, [state_dir], pack)
        batches = lake.batches()
        counts = lake.counts()
        reasons = lake.quarantine_reasons()
    by_system: dict[str, list[int]] = {}
    for b in batches:
        totals = by_system.setdefault(b["system"], [0, 0, 0, 0])
        totals[0] += 1
        totals[1] += b["rows_read"]
        totals[2] += b["rows_accepted"]
        totals[3] += b["rows_quarantined"]
    table = Table("Sistema", "Lotes", "Lidas", "Aceitas", "Quarentena",
                  title=f"Lotes no lago ({time.perf_counter() - started:.0f} s)")
    for system, (files, read, accepted, quarantined) in sorted(by_system.items()):
        table.add_row(system, fmt_int(files), fmt_int(read), fmt_int(accepted),
                      fmt_int(quarantined))
    console.print(table)
    skipped = [o.path.name for o in outcomes if o.status == "não reconhecido"]
    if skipped:
        console.print(f"   fora da carga (não são fontes): {', '.join(sorted(skipped))}")
    tables = Table("Tabela canônica", "Linhas")
    for name, rows in counts.items():
        tables.add_row(name + (" (protegida)" if name == "identity_records" else ""),
                       fmt_int(rows))
    console.print(tables)
    if reasons:
        top = Table("Campo", "Motivo da quarentena", "Linhas", title="Principais motivos")
        merged: dict[tuple[str, str], int] = {}
        for r in reasons:
            key = (r["field"], r["reason"])
            merged[key] = merged.get(key, 0) + int(r["rows"])
        for (field_name, reason), rows in sorted(merged.items(), key=lambda kv: -kv[1])[:6]:
            top.add_row(field_name, reason, fmt_int(rows))
        console.print(top)
    shutil.rmtree(workdir / "estado.partial", ignore_errors=True)
    _link(pack, console, lake_path, state_dir)
    _indicators(pack, console, lake_path, state_dir)
    _quality(pack, console, lake_path, state_dir)
    _web(pack, console, lake_path, workdir)


def _web(pack: ReferencePack, console: Console, lake_path: Path, workdir: Path) -> None:
    """The service on the demo lake: a demo analyst, every page and the main endpoints
    answered in-process; the command that serves them is printed."""
    import secrets
    import warnings

    with warnings.catch_warnings():      # starlette's notice about its httpx client
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    from rmds.api.oidc import LocalProvider
    from rmds.server import create_app
    from rmds.store import open_store
    from rmds.store.auth import Role, add_user, list_users, login, set_password

    console.print("10. Serviço web: API REST e páginas (painel, município, qualidade, cargas)")
    store_url = f"sqlite:///{workdir / 'operacional.db'}"
    store = open_store(store_url)
    password = secrets.token_urlsafe(12)      # a new one on every demo run
    if any(u.username == "analista.demo" for u in list_users(store)):
        set_password(store, "analista.demo", password)
    else:
        add_user(store, "analista.demo", password, Role.STATE_ANALYST)
    token, _ = login(store, "analista.demo", password)
    if not any(u.username == "profissional.demo" for u in list_users(store)):
        add_user(store, "profissional.demo", password, Role.PROFESSIONAL, BH)
    else:
        set_password(store, "profissional.demo", password)
    app = create_app(lake_path, store, pack, warm=False)
    app.state.oidc = LocalProvider()      # the citizen's sign-in, as gov.br would do it
    pages = workdir / "paginas"
    pages.mkdir(exist_ok=True)
    checks = Table("Endereço", "Situação", "Tamanho")
    with TestClient(app) as client:
        for path, name in (("/", "painel"), ("/?nivel=macrorregiao&indicador=partos_cesareos",
                                              "painel-macrorregioes"),
                           ("/municipio/3106200", "municipio-belo-horizonte"),
                           ("/qualidade", "qualidade"),
                           ("/consorcio/CISMARG", "consorcio-cismarg"),
                           ("/api/carteira", None),
                           ("/api/indicadores/mortalidade_infantil/valores?nivel=regiao",
                            None), ("/api/qualidade", None),
                           ("/api/consorcios/CONVALES", None)):
            response = client.get(path, headers={"Authorization": f"Bearer {token}"}
                                  if path.startswith("/api/carteira") else {})
            checks.add_row(path, str(response.status_code), fmt_int(len(response.content)))
            if name:
                (pages / f"{name}.html").write_text(response.text, encoding="utf-8")
        citizen = _citizen(app, client, password, pages, checks)
    app.state.data.close()
    console.print(checks)
    console.print(f"   páginas salvas em {pages}")
    console.print(f"   usuário analista.demo (analista estadual); senha desta demonstração: "
                  f"{password}")
    console.print("   profissional.demo (profissional de saúde, Belo Horizonte), mesma senha")
    if citizen:
        console.print(f"   cidadão sintético para 'Meus dados': CPF {citizen} (provedor local: "
                      "entre em /meus-dados com este CPF)")
    console.print(f"   para abrir no navegador: RMDS_STORE={store_url} RMDS_OIDC_ISSUER=local "
                  f".venv/bin/rmds serve --lake {lake_path}  → http://127.0.0.1:8000/")


def _citizen(app: Any, client: Any, password: str, pages: Path, checks: Table) -> str | None:
    """A synthetic citizen of Belo Horizonte: a professional opens their record for care,
    then they sign in (local provider) and see it, with that access in their log."""
    from fastapi.testclient import TestClient

    from rmds.api.oidc import sign_in_locally
    from rmds.care.record import own_cpf_holders

    owners = own_cpf_holders(app.state.data.cursor(), BH, 1)
    if not owners:
        return None
    pid, cpf = owners[0]
    session = client.post("/api/sessao", json={"usuario": "profissional.demo",
                                               "senha": password}).json()["token"]
    client.post("/api/prontuario", json={"pessoa": str(pid), "finalidade": "cuidado"},
                headers={"Authorization": f"Bearer {session}"})
    browser = TestClient(app)
    sign_in_locally(browser, cpf)
    response = browser.get("/meus-dados")
    checks.add_row("/meus-dados (cidadão)", str(response.status_code),
                   fmt_int(len(response.content)))
    (pages / "meus-dados.html").write_text(response.text, encoding="utf-8")
    return cpf


def _indicators(pack: ReferencePack, console: Console, lake_path: Path, state_dir: Path
                ) -> None:
    from rmds.indicators.catalog import load_catalog
    from rmds.indicators.compute import compute
    from rmds.indicators.mart import values
    from rmds.lake.store import Lake
    from rmds.settings import get_setting

    catalog = load_catalog()
    console.print(f"8. Calculando {len(catalog)} indicadores para município, região, "
                  "macrorregião, URS, consórcio e estado, por mês, trimestre e ano")
    threshold = int(str(get_setting("small_cell_threshold")))
    with Lake(lake_path) as lake:
        result = compute(lake, pack, population=state_dir / "populacao.csv",
                         threshold=threshold)
        year = str(result.years[-1])
        table = Table("Indicador", "Unidade", "Valor", "IC 95%",
                      title=f"Minas Gerais (estado sintético), {year}")
        for ident in ("mortalidade_infantil", "razao_mortalidade_materna",
                      "prenatal_7_consultas", "partos_cesareos", "cobertura_penta_d3",
                      "cobertura_triplice_viral_d1", "icsap_proporcao",
                      "internacao_fora_regiao", "obitos_causa_mal_definida"):
            row = values(lake.con, ident, "estado", year)[0]
            table.add_row(catalog.get(ident).name, catalog.get(ident).unit,
                          fmt_decimal(row["value"], 1),
                          f"{fmt_decimal(row['ci_low'], 1)} – {fmt_decimal(row['ci_high'], 1)}")
        hidden = lake.scalar("SELECT count(*) FROM indicator_values WHERE suppressed")
    console.print(f"   {fmt_int(result.rows)} células em {fmt_decimal(result.seconds, 1)} s; "
                  f"{fmt_int(int(hidden))} células pequenas (< {threshold}) suprimidas nas "
                  "saídas públicas")
    console.print(table)


def _quality(pack: ReferencePack, console: Console, lake_path: Path, state_dir: Path
             ) -> None:
    import csv

    from rmds.lake.store import Lake
    from rmds.quality.report import municipality_report, quality_report

    console.print("9. Diagnóstico de maturidade dos dados dos 853 municípios")
    with Lake(lake_path) as lake:
        result = quality_report(lake, pack, population=state_dir / "populacao.csv")
        rows = municipality_report(lake.con)
    with (state_dir / "verdade" / "municipios.csv").open(encoding="utf-8") as handle:
        degraded = {r["cod_ibge7"] for r in csv.DictReader(handle)
                    if r["qualidade_degradada"] == "true"}
    flagged = {r["municipality"] for r in rows if r["level"] not in ("avançada", "sem dados")}
    levels = ", ".join(f"{k}: {v}" for k, v in sorted(result.by_level.items()))
    console.print(f"   níveis: {levels}")
    console.print(f"   contra o gerador: {len(flagged & degraded)} de {len(degraded)} municípios "
                  f"degradados sinalizados; {len(flagged - degraded)} sinalizados sem estar "
                  "(nesta escala, muitos municípios têm poucos registros)")
    worst = Table("Município", "Nota", "Nível", "O que mais pesa", title="Menores notas")
    for r in rows[:5]:
        worst.add_row(f"{r['name']} ({r['municipality']})", fmt_decimal(r["score"], 1),
                      r["level"], r["explanation"][0]["nome"] if r["explanation"] else "")
    console.print(worst)


def _link(pack: ReferencePack, console: Console, lake_path: Path, state_dir: Path
          ) -> None:
    import logging
    import time

    from rmds.care.listcounts import publish
    from rmds.care.projection import project
    from rmds.lake.store import Lake
    from rmds.linkage import evaluate_against_truth, link

    logging.getLogger("splink").setLevel(logging.ERROR)
    console.print("7. Vinculando os registros por pessoa (CNS/CPF válidos + Splink)")
    started = time.perf_counter()
    with Lake(lake_path) as lake:
        summary = link(lake)
        project(lake)
        lists = publish(lake, frozenset(pack.icsap.codes))
        scores = evaluate_against_truth(lake, state_dir / "verdade" / "registros.parquet")
    console.print(f"   {fmt_int(summary.records)} registros de identificação → "
                  f"{fmt_int(summary.persons)} pessoas; "
                  f"{fmt_int(summary.review_pairs)} pares na fila de revisão "
                  f"({time.perf_counter() - started:.0f} s)")
    console.print(f"   contra a verdade do gerador: precisão {scores.precision:.4f}, "
                  f"sensibilidade {scores.recall:.4f}, F1 {scores.f1:.4f}".replace(".", ","))
    console.print("   listas nominais da APS (contagens publicadas para o painel): "
                  + "; ".join(f"{key} {fmt_int(len(entries))}"
                              for key, entries in lists.items()))


def _read_samples(pack: ReferencePack, console: Console) -> None:
    """Map the real DATASUS samples beside the reference pack, if they are there."""
    from rmds.systems.registry import map_file, open_source

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
