"""HTML → PDF with Debian's Chromium in headless mode (no network, no extra service)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from rmds.exceptions import ConfigurationError

__all__ = ["RenderBusy", "ReportRenderer", "html_to_pdf"]


def html_to_pdf(html: str, timeout: float = 60.0) -> bytes:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise ConfigurationError("o PDF precisa do Chromium (pacote Debian 'chromium'; "
                                 "'make test' o instala)")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "relatorio.html"
        target = Path(folder) / "relatorio.pdf"
        source.write_text(html, encoding="utf-8")
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={folder}/perfil", "--no-pdf-header-footer",
             f"--print-to-pdf={target}", source.as_uri()],
            capture_output=True, timeout=timeout, check=False)
        if not target.exists():
            raise ConfigurationError("o Chromium não gerou o PDF: "
                                     + result.stderr.decode(errors="replace")[-300:])
        return target.read_bytes()


class RenderBusy(RuntimeError):
    """Every render slot is taken: the caller should try again in ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("o servidor já está gerando o número máximo de PDFs ao mesmo tempo; "
                         f"tente de novo em {retry_after} segundos")
        self.retry_after = retry_after


class ReportRenderer:
    """PDF renders of the weekly report, cached and bounded.

    A rendered PDF is kept per (week, digest of the report's HTML): the HTML is made from
    the portfolio as it stands, so a change to the portfolio (its "snapshot") changes the
    key and a stale PDF is never served, while the same report asked again costs no
    Chromium. At most ``slots`` renders run at once; a request beyond them is refused at
    once with :class:`RenderBusy` (the server answers 503 with ``Retry-After``), so no
    caller can pile up Chromium processes. ``keep`` PDFs are cached (least recently used
    go first)."""

    def __init__(self, render: Callable[[str], bytes] = html_to_pdf, slots: int = 2,
                 keep: int = 16, retry_after: int = 10) -> None:
        if slots < 1 or keep < 0:
            raise ValueError("slots ≥ 1 e keep ≥ 0")
        self.render = render
        self.slots = threading.BoundedSemaphore(slots)
        self.keep = keep
        self.retry_after = retry_after
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def pdf(self, week: str, html: str) -> bytes:
        key = (week, hashlib.sha256(html.encode()).hexdigest())
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        if not self.slots.acquire(blocking=False):
            raise RenderBusy(self.retry_after)
        try:
            with self._lock:            # rendered by another request meanwhile
                hit = self._cache.get(key)
            out = hit if hit is not None else self.render(html)
        finally:
            self.slots.release()
        with self._lock:
            self._cache[key] = out
            self._cache.move_to_end(key)
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return out
