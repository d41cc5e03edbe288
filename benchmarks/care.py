"""Benchmark: the care record under concurrent clinicians (issue 24), against the service's
ceiling (``GET /api/saude``) measured in the same run.

    python benchmarks/care.py [--clients 50] [--seconds 15] [--events 200] [--workers 1]

A small synthetic state (scale 0.003, 2023) is generated, loaded and linked; one resident
of Belo Horizonte is given ``--events`` primary-care events (a FHIR file with their Patient
— same CNS and CPF, so the incremental linkage joins it to them — and blood-pressure
observations at as many encounters), and the server (``rmds serve``, ``--workers``
processes, 1 by default; SQLite operational store) answers, for that person, as the
professional of the municipality:

* ``saude``: ``GET /api/saude`` (no data, no audit: the ceiling);
* ``prontuario``: ``POST /api/prontuario`` (JSON record, with the purpose; audited);
* ``pagina``: ``POST /prontuario`` (the record page, as the form sends it; audited);
* ``summary``: ``GET /fhir/Patient/{id}/$summary`` (the IPS Bundle; audited);
* ``leve``: ``POST /api/prontuario`` for another resident, whose few events are read from
  the projection's rows (a record of 40 items or more is kept whole: ``rmds.care.projection``).

Every opening writes one entry of the hash-chained audit log before it answers: that write
is part of what is measured. The load comes from ``wrk`` (Debian package ``wrk``) when
installed, else from a Python client, which on a 2-core machine saturates first (said).
Target (issue 24): p95 under 100 ms at 50 clients for people with 200 events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.api import WRK_DONE, free_port, wait_until_warm, wrk  # noqa: E402

LUA = """
request = function()
  return wrk.format(%(method)s, %(path)s, %(headers)s, %(body)s)
end
""" + WRK_DONE


def lua_string(text: str) -> str:
    return json.dumps(text)     # a JSON string literal is a valid Lua string literal here


def heavy_person(folder: Path, events: int) -> tuple[Path, Path, int, int]:
    """The lake, the state's population file, a person of Belo Horizonte with ``events``
    more primary-care events, and another of Belo Horizonte as the sources left them (a
    light record: assembled from its rows when opened, not kept whole)."""
    from rmds.care.projection import project
    from rmds.care.record import care_record, own_cpf_holders
    from rmds.lake.ingest import ingest
    from rmds.lake.store import Lake
    from rmds.linkage.run import link
    from rmds.settings import Settings
    from rmds.synth import SynthConfig, generate
    from rmds.territory import ReferencePack

    pack = ReferencePack(Settings.resolve().reference_dir)
    state = generate(SynthConfig(0.003, (2023,), 17, folder / "estado"), pack).out
    lake_path = folder / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state], pack)
        link(lake)
        (pid, cpf), (light, _) = own_cpf_holders(lake.con, "3106200", 2)
        record = care_record(lake.con, pid)
    ident = next(i for i in record.identifications if i.name and i.birth_date)
    cns = next((i.cns for i in record.identifications if i.cns), None)
    patient: dict[str, object] = {
        "resourceType": "Patient", "id": "pac-bench",
        "identifier": [{"system": "https://saude.gov.br/sid/cpf", "value": cpf}]
        + ([{"system": "https://saude.gov.br/sid/cns", "value": cns}] if cns else []),
        "name": [{"text": ident.name}], "gender": "female" if ident.sex == "F" else "male",
        "birthDate": ident.birth_date.isoformat() if ident.birth_date else None,
        "address": [{"city": "3106200", "state": "MG"}]}
    lines = [json.dumps(patient)]
    first = dt.date(2023, 1, 2)
    for n in range(events):
        day = (first + dt.timedelta(days=n % 360)).isoformat()
        lines.append(json.dumps({
            "resourceType": "Observation", "id": f"obs-bench-{n}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/pac-bench"}, "effectiveDateTime": day,
            "component": [{"code": {"coding": [{"system": "http://loinc.org",
                                                 "code": "8480-6"}]},
                           "valueQuantity": {"value": 120 + n % 30, "unit": "mm[Hg]"}}]}))
    extra = folder / "fhir-bench" / "acompanhamento.ndjson"
    extra.parent.mkdir()
    extra.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Lake(lake_path) as lake:
        ingest(lake, [extra], pack)
        link(lake, incremental=True)
        project(lake)      # what 'rmds link' does after linking
        total = len(care_record(lake.con, pid).timeline)
        few = len(care_record(lake.con, light).timeline)
    print(f"pessoa nº {pid}: {total} eventos na linha do tempo "
          f"({events} acrescentados ao acompanhamento na atenção primária); pessoa nº "
          f"{light} (registro leve, montado das linhas): {few} eventos")
    return lake_path, state / "populacao.csv", pid, light


def run_wrk(base: str, clients: int, seconds: float, method: str, path: str,
            headers: dict[str, str], body: str | None) -> tuple[float, float, float, float, int]:
    lua_headers = "{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}"
                                  for k, v in headers.items()) + "}"
    script = LUA % {"method": lua_string(method), "path": lua_string(path),
                    "headers": lua_headers, "body": lua_string(body) if body else "nil"}
    return wrk(script, base, clients, seconds, "--timeout", "60s")


def run_python(base: str, clients: int, seconds: float, method: str, path: str,
               headers: dict[str, str], body: str | None
               ) -> tuple[float, float, float, float, int]:
    import asyncio

    latencies: list[float] = []
    errors = 0

    async def go() -> float:
        nonlocal errors
        deadline = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    r = await client.request(method, path, headers=headers, content=body)
                    latencies.append(time.perf_counter() - started)
                    errors += r.status_code != 200
            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return time.perf_counter() - began

    elapsed = asyncio.run(go())
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return len(ordered) / elapsed, pct(0.5), pct(0.95), pct(0.99), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (rmds serve --workers)")
    args = parser.parse_args()
    from rmds.store import open_store
    from rmds.store.auth import Role, add_user, login

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lake_path, _, pid, light = heavy_person(folder, args.events)
        store_url = f"sqlite:///{folder}/op.db"
        store = open_store(store_url)
        add_user(store, "prof.bench", "senha-do-benchmark-1", Role.PROFESSIONAL, "3106200")
        token, _ = login(store, "prof.bench", "senha-do-benchmark-1")
        store.close()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "RMDS_STORE": store_url}
        server = subprocess.Popen([sys.executable, "-m", "rmds.cli", "serve", "--lake",
                                   str(lake_path), "--port", str(port), "--workers",
                                   str(args.workers)], env=env, stdout=subprocess.DEVNULL)
        try:
            wait_until_warm(base)
            has_wrk = shutil.which("wrk") is not None
            print(f"servidor: rmds serve ({args.workers} processo(s)), armazenamento SQLite; "
                  f"{args.clients} clientes, {args.seconds:g} s por cenário; gerador: "
                  + ("wrk" if has_wrk else "cliente Python (satura antes do servidor)"))
            auth = {"Authorization": f"Bearer {token}"}
            scenarios = {
                "saude": ("GET", "/api/saude", {}, None),
                "prontuario": ("POST", "/api/prontuario",
                               {**auth, "Content-Type": "application/json"},
                               json.dumps({"pessoa": str(pid), "finalidade": "cuidado"})),
                "pagina": ("POST", "/prontuario",
                           {"Cookie": f"rmds_sessao={token}",
                            "Content-Type": "application/x-www-form-urlencoded"},
                           f"pessoa={pid}&finalidade=cuidado"),
                "summary": ("GET", f"/fhir/Patient/{pid}/$summary?finalidade=cuidado",
                            auth, None),
                "leve": ("POST", "/api/prontuario",
                         {**auth, "Content-Type": "application/json"},
                         json.dumps({"pessoa": str(light), "finalidade": "cuidado"})),
            }
            for name, (method, path, headers, body) in scenarios.items():
                began = time.perf_counter()
                check = httpx.request(method, base + path, headers=headers, content=body,
                                      timeout=60)
                assert check.status_code == 200, (name, check.status_code, check.text[:200])
                print(f"  {name}: uma requisição sozinha em "
                      f"{(time.perf_counter() - began) * 1000:.0f} ms")
            runner = run_wrk if has_wrk else run_python
            ceiling = 0.0
            print(f"{'cenário':<12}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
                  f"{'erros':>7}{'÷ teto':>8}")
            for name, (method, path, headers, body) in scenarios.items():
                rate, p50, p95, p99, errors = runner(base, args.clients, args.seconds,
                                                     method, path, headers, body)
                ceiling = ceiling or rate
                met = p95 < 100 and errors == 0 and rate > 0
                mark = "" if name == "saude" else (
                    "  meta p95 < 100 ms sem erros: " + ("cumprida" if met else "NÃO cumprida"))
                print(f"{name:<12}{rate:>9.0f}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{errors:>7}"
                      f"{rate / ceiling:>8.2f}{mark}")
            from rmds.store.audit import verify

            audited = open_store(store_url)
            chain = verify(audited)
            print(f"trilha de auditoria depois da carga: {chain.entries} entradas, "
                  f"íntegra: {'sim' if chain.ok else 'NÃO: ' + chain.message}")
            audited.close()
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
