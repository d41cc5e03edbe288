"""HTML → PDF with Debian's Chromium in headless mode (no network, no extra service)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from rmds.exceptions import ConfigurationError

__all__ = ["html_to_pdf"]


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
