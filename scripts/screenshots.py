"""Screenshots of the main pages, for docs/screenshots/ (linked from the README).

    .venv/bin/python scripts/screenshots.py [--lake LAGO] [--out docs/screenshots]

The pages are served from the demo's lake (``make demo`` builds it in
``$RMDS_HOME/demo/lago``) by the app in this process, on a free port, and photographed in
headless Chromium (Playwright) at 1280 × 900 and, for the Painel, also at 390 × 844 (a
phone). Only aggregate pages: no person's record is ever photographed. The signed-in pages
use a state analyst created for the run in a throwaway operational store.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from rmds.server import create_app  # noqa: E402
from rmds.settings import Settings  # noqa: E402
from rmds.store import open_store  # noqa: E402
from rmds.store.auth import Role, add_user  # noqa: E402
from rmds.territory import ReferencePack  # noqa: E402

#: (file name, path, signed in, phone)
SHOTS = (
    ("painel", "/?indicador=cobertura_penta_d3&nivel=municipio", False, False),
    ("painel-celular", "/?indicador=cobertura_penta_d3&nivel=municipio", False, True),
    ("painel-macrorregioes", "/?indicador=partos_cesareos&nivel=macrorregiao", False, False),
    ("municipio", "/municipio/3106200", False, False),
    ("urs", "/unidade/urs/belo-horizonte", False, False),
    ("metodos", "/metodos", False, False),
    ("tabulador", "/tabulador?indicador=partos_cesareos&linhas=macrorregiao&colunas=trimestre",
     False, False),
    ("qualidade", "/qualidade", False, False),
    ("consorcios", "/consorcios", False, False),
    ("carteira", "/carteira", True, False),
    ("relatorio-semanal", "/carteira/relatorio", True, False),
    ("cargas", "/cargas", True, False),
)


def _serve(lake: Path, store_url: str, pack: ReferencePack) -> tuple[str, uvicorn.Server]:
    app = create_app(lake, open_store(store_url), pack, warm=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            sys.exit("o servidor não subiu em 30 s")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/entrar")
    page.fill("#campo-usuario", username)
    page.fill("#campo-senha", password)
    page.click("#botao-entrar")
    page.wait_for_load_state()


def main() -> None:
    settings = Settings.resolve()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, default=settings.data_home / "demo" / "lago")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not args.lake.is_dir():
        sys.exit(f"lago não encontrado: {args.lake} (rode 'make demo' antes)")
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Chromium não encontrado: rode scripts/ensure-chromium.sh")
    pack = ReferencePack(settings.reference_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        store_url = f"sqlite:///{folder}/op.db"
        password = secrets.token_urlsafe(12)
        add_user(open_store(store_url), "analista.fotos", password, Role.STATE_ANALYST)
        base, server = _serve(args.lake, store_url, pack)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox"])
            desk = browser.new_context(viewport={"width": 1280, "height": 900})
            phone = browser.new_context(viewport={"width": 390, "height": 844},
                                        is_mobile=True, has_touch=True)
            signed = browser.new_context(viewport={"width": 1280, "height": 900})
            _sign_in(signed.new_page(), base, "analista.fotos", password)
            for name, path, signed_in, on_phone in SHOTS:
                context = phone if on_phone else signed if signed_in else desk
                page = context.new_page()
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                target = args.out / f"{name}.png"
                page.screenshot(path=str(target), full_page=False)
                page.close()
                print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                      f"  ←  {path}")
            browser.close()
        server.should_exit = True


if __name__ == "__main__":
    main()
