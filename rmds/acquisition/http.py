"""Resumable HTTP(S) download (the vaccination open-data CSV distribution).

Writes ``NAME.part`` and renames it only when the size matches ``Content-Length``; an
interrupted download resumes with a ``Range`` request. urllib honours the ``https_proxy``
and ``http_proxy`` environment variables (and ``no_proxy``).
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

__all__ = ["http_fetch"]


def http_fetch(url: str, target: Path, *, retries: int = 5, backoff: float = 2.0,
               timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> Path:
    """Download ``url`` to ``target``; raises OSError after ``retries`` failed attempts
    and FileNotFoundError when the server answers 404."""
    part = target.with_name(target.name + ".part")
    total: int | None = None
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if have and response.status != 206:  # no range support: start again
                    have = 0
                    part.unlink()
                length = response.headers.get("Content-Length")
                if length is not None:
                    total = have + int(length)
                with part.open("ab") as handle:
                    while block := response.read(1 << 16):
                        handle.write(block)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise FileNotFoundError(f"{url}: ausente no servidor (404)") from None
            if exc.code == 416 and total is not None and have == total:
                pass
            elif attempt == retries:
                raise OSError(f"{url}: HTTP {exc.code}") from None
        except (OSError, urllib.error.URLError):
            if attempt == retries:
                raise
        size = part.stat().st_size if part.exists() else 0
        if total is not None and size == total:
            os.replace(part, target)
            return target
        if attempt < retries:
            sleep(backoff * 2 ** attempt)
    raise OSError(f"{url}: incompleto após {retries + 1} tentativas")
