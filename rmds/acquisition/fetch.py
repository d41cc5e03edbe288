"""Resumable FTP download of DATASUS files with a local manifest.

Each file is written to ``NAME.part`` and renamed only when its size matches the server's
(nothing half-downloaded is ever visible to ``rmds ingest``, which skips dot-less ``.part``
suffixes). A dropped connection resumes with ``REST``; errors are retried with exponential
back-off. The manifest (``.rmds-fetch.json`` in the destination) keeps, per file, the remote
size, modification time (``MDTM``) and sha256: when size or time change upstream the file
was re-published and is fetched again.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmds.acquisition.catalog import HOST, Family

__all__ = ["MANIFEST", "FetchReport", "Fetcher", "load_manifest", "periods", "save_manifest"]

MANIFEST = ".rmds-fetch.json"
_TRANSIENT = (OSError, EOFError, ftplib.error_temp, ftplib.error_reply)


def load_manifest(dest: Path) -> dict[str, dict[str, Any]]:
    path = dest / MANIFEST
    return dict(json.loads(path.read_text())) if path.exists() else {}


def save_manifest(dest: Path, manifest: dict[str, dict[str, Any]]) -> None:
    """Write the manifest whole or not at all (a temporary file renamed over it)."""
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, dest / MANIFEST)


def periods(spec: str) -> list[tuple[int, int]]:
    """``2023-01..2024-12`` (or ``2023-05``, or ``2023``) → [(2023, 1), ..., (2024, 12)]."""
    start, _, end = spec.partition("..")
    end = end or start

    def parse(text: str, last: bool) -> tuple[int, int]:
        m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", text.strip())
        if not m:
            raise ValueError(f"Período inválido: {text!r} (use AAAA-MM..AAAA-MM)")
        return int(m[1]), int(m[2]) if m[2] else (12 if last else 1)

    (y0, m0), (y1, m1) = parse(start, False), parse(end, True)
    out = []
    y, m = y0, m0
    while (y, m) <= (y1, m1):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if not out:
        raise ValueError(f"Período vazio: {spec!r}")
    return out


@dataclass
class FetchReport:
    fetched: list[str] = field(default_factory=list)      # new or re-published
    republished: list[str] = field(default_factory=list)  # subset of fetched
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)      # absent upstream / 550
    failed: list[str] = field(default_factory=list)       # gave up after retries
    paths: list[Path] = field(default_factory=list)       # files fetched this run

    def as_dict(self) -> dict[str, Any]:
        return {k: [str(v) for v in getattr(self, k)] for k in
                ("fetched", "republished", "unchanged", "missing", "failed")}


class Fetcher:
    def __init__(self, dest: Path, *, host: str = HOST, port: int = 21, user: str = "anonymous",
                 password: str = "rmds@", timeout: float = 60.0, retries: int = 5,
                 backoff: float = 2.0, sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[str, int, int], None] | None = None) -> None:
        self.dest, self.host, self.port = dest, host, port
        self.user, self.password, self.timeout = user, password, timeout
        self.retries, self.backoff, self.sleep, self.progress = retries, backoff, sleep, progress
        self._ftp: ftplib.FTP | None = None
        self._listings: dict[str, list[str] | None] = {}
        dest.mkdir(parents=True, exist_ok=True)
        self.manifest = load_manifest(dest)

    # -------------------------------------------------------------- connection
    def _conn(self) -> ftplib.FTP:
        if self._ftp is None:
            ftp = ftplib.FTP(timeout=self.timeout)
            ftp.connect(self.host, self.port)
            ftp.login(self.user, self.password)
            ftp.voidcmd("TYPE I")
            self._ftp = ftp
        return self._ftp

    def _drop(self) -> None:
        if self._ftp is not None:
            with contextlib.suppress(OSError):
                self._ftp.close()
        self._ftp = None

    def _retry(self, what: str, action: Callable[[ftplib.FTP], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return action(self._conn())
            except ftplib.error_perm:
                raise
            except _TRANSIENT:
                self._drop()
                if attempt == self.retries:
                    raise
                self.sleep(self.backoff * 2 ** attempt)
        raise AssertionError(what)  # pragma: no cover

    def close(self) -> None:
        if self._ftp is not None:
            with contextlib.suppress(OSError, EOFError, ftplib.Error):
                self._ftp.quit()
        self._ftp = None

    # -------------------------------------------------------------- listing
    def _listing(self, folder: str) -> list[str] | None:
        """File names of a folder (None when the folder is refused or absent: 550)."""
        if folder not in self._listings:
            try:
                names = self._retry(folder, lambda f: f.nlst(folder))
                self._listings[folder] = [n.rsplit("/", 1)[-1] for n in names]
            except ftplib.error_perm:
                self._listings[folder] = None
        return self._listings[folder]

    def _locate(self, family: Family, stem: str) -> list[str]:
        """Remote paths of one file (its parts a/b/c when split), final folder first."""
        rx = re.compile(re.escape(stem) + (r"[A-Z]?" if family.split else "") + r"\.DBC",
                        re.IGNORECASE)
        for folder in family.folders():
            names = sorted(n for n in self._listing(folder) or [] if rx.fullmatch(n))
            if names:
                return [f"{folder}/{n}" for n in names]
        return []

    # -------------------------------------------------------------- download
    def fetch(self, families: Iterable[Family], uf: str,
              months: list[tuple[int, int]]) -> FetchReport:
        report = FetchReport()
        try:
            for family in families:
                stems: list[str] = []
                for year, month in months:
                    if year < family.since:
                        continue
                    stem = family.stem(uf, year, month if family.monthly else 1)
                    if stem not in stems:
                        stems.append(stem)
                for stem in stems:
                    remotes = self._locate(family, stem)
                    if not remotes:
                        report.missing.append(f"{family.folder}/{stem}.dbc")
                    for remote in remotes:
                        self._one(remote, report)
        finally:
            self.close()
        self._save()
        return report

    def _one(self, remote: str, report: FetchReport) -> None:
        name = remote.rsplit("/", 1)[-1]
        try:
            size = int(self._retry(remote, _binary_size(remote)))
            mtime = self._retry(remote, lambda f: f.voidcmd(f"MDTM {remote}")).split()[-1]
        except ftplib.error_perm:
            report.missing.append(remote)
            return
        except _TRANSIENT:
            report.failed.append(remote)
            return
        target = self.dest / name
        known = self.manifest.get(name)
        if (known and known["size"] == size and known["mtime"] == mtime and target.exists()
                and target.stat().st_size == size):
            report.unchanged.append(name)
            return
        part = target.with_name(name + ".part")
        if known and part.exists() and (known.get("size"), known.get("mtime")) != (size, mtime):
            part.unlink()  # a partial download of an earlier publication
        try:
            self._download(remote, part, size)
        except ftplib.error_perm:
            report.missing.append(remote)
            return
        except _TRANSIENT:
            report.failed.append(remote)
            self.manifest[name] = {"remote": remote, "size": size, "mtime": mtime, "sha256": None,
                                   "complete": False}
            return
        digest = hashlib.sha256()
        with part.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        os.replace(part, target)
        if known and known.get("complete"):
            report.republished.append(name)
        report.fetched.append(name)
        report.paths.append(target)
        self.manifest[name] = {"remote": remote, "size": size, "mtime": mtime,
                               "sha256": digest.hexdigest(), "complete": True}
        self._save()

    def _download(self, remote: str, part: Path, size: int) -> None:
        for attempt in range(self.retries + 1):
            have = part.stat().st_size if part.exists() else 0
            if have > size:
                part.unlink()
                have = 0
            if have == size:
                return
            try:
                ftp = self._conn()
                with part.open("ab") as handle:
                    def write(block: bytes) -> None:
                        handle.write(block)
                        if self.progress:
                            self.progress(remote, handle.tell(), size)
                    ftp.retrbinary(f"RETR {remote}", write, rest=have or None)
            except ftplib.error_perm:
                raise
            except _TRANSIENT:
                self._drop()
            if part.stat().st_size == size:
                return
            if attempt < self.retries:
                self.sleep(self.backoff * 2 ** attempt)
        raise OSError(f"{remote}: tamanho incompleto após {self.retries + 1} tentativas")

    def _save(self) -> None:
        save_manifest(self.dest, self.manifest)


def _binary_size(remote: str) -> Callable[[ftplib.FTP], int]:
    """SIZE in binary mode (listings switch the session to ASCII, where SIZE is refused)."""
    def action(ftp: ftplib.FTP) -> int:
        ftp.voidcmd("TYPE I")
        return int(ftp.size(remote) or 0)
    return action
