"""Benchmark: the indicator and map endpoints under concurrent clients, against a trivial
endpoint of the same app (the framework's ceiling), in the same run.

    python benchmarks/api.py [--lake LAGO] [--clients 50] [--seconds 20]

The care record's routes (record page, ``POST /api/prontuario``, ``$summary``: issue 24)
are measured by ``benchmarks/care.py``, which builds the person with 200 events they need.

The server is ``rmds serve`` (one uvicorn process) on the lake of
``benchmarks/indicators.py`` (full-scale synthetic state, 2023, catalog computed) unless
``--lake`` names another. The load comes from ``wrk`` (Debian package ``wrk``; one thread,
``--clients`` keep-alive connections, a Lua script drawing a random indicator, level and
period from the whole catalog for every request); without ``wrk`` a Python client (asyncio +
httpx) is used, which on a 2-core machine saturates before the server does, and the script
says so. Each scenario runs for ``--seconds``:

* ``saude``: ``GET /api/saude`` (no data: the ceiling);
* ``valores``: ``GET /api/indicadores/{id}/valores`` at a random level and period;
* ``mapa``: ``GET /api/mapa/{id}`` at a random level and period;
* ``ranking``: ``GET /api/indicadores/{id}/ranking`` of municipalities;
* ``painel``: ``GET /`` — the Painel page (map of the 853 municipalities, ranking,
  monthly chart) at municipal level, random indicator and period (issue 23: p95 under
  100 ms at 50 clients, and under 300 KB transferred, measured before the load);
* ``tabulador``: ``GET /api/tabulador`` — a state-wide table, municipality × month, of a
  random indicator (issue 23: its p95 printed);
* ``distintas``: a stream of distinct anonymous URLs, none asked twice (issue 20): half
  valid and each a new cache entry (a ranking with a new ``limite``, at a random indicator,
  period and level), half carrying a junk parameter never seen before (refused with 422
  before the cache).

Printed: requests/s, p50/p95/p99 latency, the ratio of each scenario's throughput to the
ceiling's, and the server's resident memory (RSS of the server process, sampled every
50 ms from ``/proc``): at the start of the scenario and its peak. Target (issue #8): p95
under 50 ms at 50 concurrent clients. Memory bound (issue 20): the peak RSS during the
distinct stream must stay under the peak before it plus the answer cache's bound
(``--cache-mb``, given to the server as ``RMDS_API_CACHE_MB``) plus a margin for the
framework (``--margin-mb``); the script prints the bound and whether it held.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from rmds.indicators.catalog import load_catalog  # noqa: E402

LEVELS = ("municipio", "regiao", "macrorregiao", "urs", "consorcio", "estado")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: seconds from launch within which the server must answer (issue 23), warm or not
FIRST_ANSWER_S = 3.0


def wait_until_warm(base: str, started: float | None = None, tries: int = 30000) -> None:
    """Until the server at ``base`` answers and has read its mart into memory; prints when
    it first answered, counted from ``started`` (its launch)."""
    answered = False
    for _ in range(tries):
        try:
            ready = httpx.get(f"{base}/api/saude").json().get("aquecido")
            if not answered and started is not None:
                answered = True
                took = time.perf_counter() - started
                held = "cumprida" if took < FIRST_ANSWER_S else "NÃO cumprida"
                print(f"primeira resposta {took:.1f} s após o início do processo (meta < "
                      f"{FIRST_ANSWER_S:g} s: {held}; o mart é lido em segundo plano)")
            if ready:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.01)


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (``/proc/PID/status``, VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemoryWatch:
    """Samples a process's RSS every ``every`` s while active: the first and the peak."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.start = self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


async def scenario(base: str, name: str, clients: int, seconds: float, periods: list[str]
                   ) -> tuple[float, list[float], int]:
    catalog = [i.id for i in load_catalog()]
    rng = random.Random(7)
    counter = iter(range(1, 10**9))

    def url() -> str:
        ind = rng.choice(catalog)
        period = rng.choice(periods)
        if name == "distintas":
            n = next(counter)
            if n % 2:
                return f"/api/saude?lixo{n}={n}" if n % 4 == 1 else \
                    f"/api/indicadores/{ind}/valores?nivel=estado&x{n}=1"
            return (f"/api/indicadores/{ind}/ranking?nivel={rng.choice(LEVELS)}"
                    f"&periodo={period}&limite={n}")
        if name == "saude":
            return "/api/saude"
        if name == "valores":
            return f"/api/indicadores/{ind}/valores?nivel={rng.choice(LEVELS)}&periodo={period}"
        if name == "mapa":
            return f"/api/mapa/{ind}?nivel={rng.choice(LEVELS)}&periodo={period}"
        if name == "painel":
            return f"/?nivel=municipio&indicador={ind}&periodo={period}"
        if name == "tabulador":
            return f"/api/tabulador?indicador={ind}&linhas=municipio&colunas=mes"
        return f"/api/indicadores/{ind}/ranking?nivel=municipio&periodo={period}&limite=50"

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url(), headers={"accept-encoding": "gzip"})
                latencies.append(time.perf_counter() - started)
                # junk parameters are meant to be refused (422) in the distinct stream
                if response.status_code != 200 and not (
                        name == "distintas" and response.status_code == 422):
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies, errors


LUA = """
local inds = {%(inds)s}
local levels = {%(levels)s}
local periods = {%(periods)s}
math.randomseed(7)
counter = 0
request = function()
  counter = counter + 1
  local i = inds[math.random(#inds)]
  local n = levels[math.random(#levels)]
  local p = periods[math.random(#periods)]
  local path = %(path)s
  return wrk.format("GET", path, {["Accept-Encoding"] = "gzip"})
end
"""
#: wrk's summary line (a %-template like the scripts it ends: ``%%`` for ``%``)
WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%f %%f %%f %%f %%d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.timeout))
end
"""
PATHS = {
    "saude": '"/api/saude"',
    "valores": '"/api/indicadores/" .. i .. "/valores?nivel=" .. n .. "&periodo=" .. p',
    "mapa": '"/api/mapa/" .. i .. "?nivel=" .. n .. "&periodo=" .. p',
    "ranking": '"/api/indicadores/" .. i .. "/ranking?nivel=municipio&periodo=" .. p',
    "painel": '"/?nivel=municipio&indicador=" .. i .. "&periodo=" .. p',
    "tabulador": '"/api/tabulador?indicador=" .. i .. "&linhas=municipio&colunas=mes"',
    # every request a URL never seen: a new cached ranking, or a new junk parameter (422)
    "distintas": '(counter % 2 == 0) and ("/api/indicadores/" .. i .. "/ranking?nivel=" .. n '
                 '.. "&periodo=" .. p .. "&limite=" .. counter) or ("/api/indicadores/" .. i '
                 '.. "/valores?nivel=estado&x" .. counter .. "=1")',
}


def run_wrk(base: str, name: str, clients: int, seconds: float, periods: list[str]
            ) -> tuple[float, float, float, float, int]:
    def quoted(items: list[str]) -> str:
        return ", ".join(f'"{x}"' for x in items)

    script = (LUA + WRK_DONE) % {"inds": quoted([i.id for i in load_catalog()]),
                                 "levels": quoted(list(LEVELS)), "periods": quoted(periods),
                                 "path": PATHS[name]}
    return wrk(script, base, clients, seconds)


def wrk(script: str, base: str, clients: int, seconds: float, *options: str
        ) -> tuple[float, float, float, float, int]:
    """Run ``script`` (ending in :data:`WRK_DONE`) with wrk: requests/s, p50, p95, p99 (ms)
    and errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{int(seconds)}s", *options,
                              "-s", handle.name, base], capture_output=True, text=True,
                             check=True)
    finally:
        Path(handle.name).unlink()
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT"))
    rate, p50, p95, p99, errors = line.split()[1:]
    return float(rate), float(p50), float(p95), float(p99), int(errors)


#: p95 targets (ms) other than the 50 ms of the API's cell endpoints
TARGETS = {"painel": 100}
#: the most a Painel page may transfer (issue 23)
PAINEL_KB = 300


def painel_size(base: str, periods: list[str]) -> None:
    """Bytes on the wire (gzip accepted, as browsers do) and the server's time for the
    Painel at municipal level: the first request of a page (rendered) and the next one
    (from the answer cache), over six indicators."""
    sizes: list[int] = []
    first: list[float] = []
    again: list[float] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for ind in [i.id for i in load_catalog()][:6]:
            url = f"/?nivel=municipio&indicador={ind}&periodo={periods[0]}"
            for times in (first, again):
                started = time.perf_counter()
                with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as r:
                    r.read()
                    times.append((time.perf_counter() - started) * 1000)
                    sizes.append(r.num_bytes_downloaded)
    kb = max(sizes) / 1024
    print(f"painel (municipal): {kb:.0f} KB transferidos no pior caso (meta < {PAINEL_KB} KB: "
          f"{'cumprida' if kb < PAINEL_KB else 'NÃO cumprida'}); tempo no servidor "
          f"{np.median(first):.0f} ms na 1ª visita (desenho), {np.median(again):.1f} ms "
          "nas seguintes (cache), medianas de 6 indicadores sem carga")


def visit_every_page(base: str, periods: list[str], kind: str) -> None:
    """Visit each Painel page and each tabulator table of the scenarios once before they
    are measured (the steady state of a day of use: drawn or computed on the first visit,
    then served from the answer cache until the next snapshot); the first visits' times
    are printed, as the cost a visitor pays when a snapshot is new."""
    catalog = [i.id for i in load_catalog()]
    kinds = {"painel": [f"/?nivel=municipio&indicador={i}&periodo={p}"
                        for i in catalog for p in periods],
             "tabulador": [f"/api/tabulador?indicador={i}&linhas=municipio&colunas=mes"
                           for i in catalog]}

    async def visit(urls: list[str]) -> list[float]:
        times: list[float] = []
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            async def one(url: str) -> None:
                began = time.perf_counter()
                await client.get(url, headers={"accept-encoding": "gzip"})
                times.append((time.perf_counter() - began) * 1000)
            for at in range(0, len(urls), 2):
                await asyncio.gather(*(one(u) for u in urls[at:at + 2]))
        return times

    urls = kinds[kind]
    if urls:
        times = asyncio.run(visit(urls))
        print(f"{kind}: {len(urls)} respostas feitas uma vez antes da carga (2 de cada vez); "
              f"1ª visita p50 {np.percentile(times, 50):.0f} ms, "
              f"p95 {np.percentile(times, 95):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path,
                        default=Path.home() / ".cache" / "rmds-bench" / "indicadores"
                        / "lago")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cache-mb", type=int, default=256,
                        help="limite do cache de respostas do servidor (RMDS_API_CACHE_MB)")
    parser.add_argument("--margin-mb", type=int, default=64,
                        help="folga de memória do framework além do cache")
    args = parser.parse_args()
    if not args.lake.exists():
        sys.exit(f"lago não encontrado: {args.lake} (rode benchmarks/indicators.py antes)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "RMDS_STORE": f"sqlite:///{folder}/op.db",
               "RMDS_API_CACHE_MB": str(args.cache_mb)}
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "rmds.cli", "serve", "--lake",
                                   str(args.lake), "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL)
        try:
            wait_until_warm(base, started)
            print(f"servidor pronto, mart em memória, em {time.perf_counter() - started:.1f} s")
            periods = [p for p in ["2023", "2023-T1", "2023-T2", "2023-T3", "2023-T4"]
                       + [f"2023-{m:02d}" for m in range(1, 13)]]
            print(f"servidor: rmds serve (1 processo) em {base}; lago {args.lake}; "
                  f"{args.clients} clientes simultâneos, {args.seconds:g} s por cenário")
            has_wrk = shutil.which("wrk") is not None
            print("gerador de carga: " + ("wrk" if has_wrk else
                  "cliente Python (httpx); sem wrk, o cliente satura antes do servidor"))
            ceiling = None
            peak_before = 0.0
            painel_size(base, periods)
            for name in ("saude", "valores", "mapa", "ranking", "painel", "tabulador",
                         "distintas"):
                if name in ("painel", "tabulador"):
                    visit_every_page(base, periods, name)
                with MemoryWatch(server.pid) as memory:
                    if has_wrk:
                        rate, p50, p95, p99, errors = run_wrk(base, name, args.clients,
                                                              args.seconds, periods)
                    else:
                        rate, latencies, errors = asyncio.run(
                            scenario(base, name, args.clients, args.seconds, periods))
                        ms = np.array(latencies) * 1000
                        p50, p95, p99 = (float(x) for x in np.percentile(ms, [50, 95, 99]))
                ceiling = ceiling or rate
                print(f"{name:9s} {rate:8.0f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                      f"p99 {p99:6.1f} ms  erros {errors}  "
                      f"({rate / ceiling:.2f}× o teto /api/saude)"
                      + ("" if name in ("saude", "distintas", "tabulador") else
                         f"  meta p95 < {TARGETS.get(name, 50)} ms: "
                         f"{'cumprida' if p95 < TARGETS.get(name, 50) else 'NÃO cumprida'}")
                      + f"\n          memória do servidor (RSS): início {memory.start:.0f} MB, "
                      f"pico {memory.peak:.0f} MB")
                if name != "distintas":
                    peak_before = max(peak_before, memory.peak)
                else:
                    bound = peak_before + args.cache_mb + args.margin_mb
                    held = memory.peak <= bound
                    print(f"limite de memória sob URLs distintas: pico antes {peak_before:.0f} MB"
                          f" + cache {args.cache_mb} MB + folga {args.margin_mb} MB = "
                          f"{bound:.0f} MB; pico {memory.peak:.0f} MB: "
                          + ("mantido" if held else "NÃO mantido"))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
