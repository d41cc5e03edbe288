"""The browser tests' server (the session's app on a free port) and headless Chromium."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="module")
def server(app: FastAPI) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium não encontrado: rode 'make test' (instala o pacote chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox"])
        yield launched
        launched.close()


def sign_in(page: Page, server: str, username: str) -> None:
    """Sign in through the login page (the tests' users share one password); the caller
    waits for where it expects to land."""
    from tests.service_fixtures import PASSWORD

    page.goto(f"{server}/entrar")
    page.fill("#campo-usuario", username)
    page.fill("#campo-senha", PASSWORD)
    page.click("#botao-entrar")
