"""PDF renders of the weekly report are cached per (week, report) and bounded (issue 20):
a fake renderer counts the Chromium calls; saturation is made by holding the slots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rmds.portfolio.pdf import RenderBusy, ReportRenderer
from tests.service_fixtures import token


class FakeChromium:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, html: str) -> bytes:
        self.calls.append(html)
        return b"%PDF-fake " + str(len(self.calls)).encode()


@pytest.fixture()
def chromium(app: FastAPI) -> Iterator[FakeChromium]:
    before = app.state.reports
    fake = FakeChromium()
    app.state.reports = ReportRenderer(fake, slots=1, keep=4, retry_after=7)
    yield fake
    app.state.reports = before


def test_the_same_report_is_rendered_once(client: TestClient, chromium: FakeChromium
                                          ) -> None:
    headers = token(client, "ana")
    first = client.get("/carteira/relatorio.pdf?semana=2024-03-04", headers=headers)
    assert first.status_code == 200 and first.content == b"%PDF-fake 1"
    for _ in range(5):
        again = client.get("/carteira/relatorio.pdf?semana=2024-03-04", headers=headers)
        assert again.content == b"%PDF-fake 1"
    assert len(chromium.calls) == 1
    other = client.get("/carteira/relatorio.pdf?semana=2024-03-11", headers=headers)
    assert other.content == b"%PDF-fake 2" and len(chromium.calls) == 2


def test_a_saturated_renderer_answers_503_with_retry_after(
        app: FastAPI, client: TestClient, chromium: FakeChromium) -> None:
    headers = token(client, "ana")
    renderer: ReportRenderer = app.state.reports
    assert renderer.slots.acquire(blocking=False)      # the one slot is busy elsewhere
    try:
        r = client.get("/carteira/relatorio.pdf?semana=2024-05-06", headers=headers)
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "7"
        assert "tente de novo em 7 segundos" in r.text
        assert chromium.calls == []
    finally:
        renderer.slots.release()
    assert client.get("/carteira/relatorio.pdf?semana=2024-05-06",
                      headers=headers).status_code == 200
    assert len(chromium.calls) == 1


def test_the_renderer_bounds_its_cache_and_its_slots() -> None:
    fake = FakeChromium()
    renderer = ReportRenderer(fake, slots=2, keep=2)
    for week in ("a", "b", "c", "a"):
        renderer.pdf(week, "<p>x</p>")
    assert len(fake.calls) == 4             # "a" was pushed out by "c"
    renderer.pdf("a", "<p>mudou</p>")       # a changed portfolio is a new report
    assert len(fake.calls) == 5
    assert renderer.slots.acquire(blocking=False) and renderer.slots.acquire(blocking=False)
    with pytest.raises(RenderBusy):
        renderer.pdf("z", "<p>x</p>")
    assert renderer.pdf("a", "<p>mudou</p>") == b"%PDF-fake 5"   # a cached one still comes
