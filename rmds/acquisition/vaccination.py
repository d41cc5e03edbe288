"""Vaccination microdata (SI-PNI / RNDS "doses aplicadas") from the Ministry's open-data
distribution: one national ZIP per month, ``vacinacao_{mes}_{ano}_csv.zip`` (``mes`` = jan,
fev, ... dez), a ``;``-separated CSV inside (latin-1 or UTF-8 by year), about 1.3 GB zipped
for the whole country.

The host moved in 2026 from ``arquivosdadosabertos.saude.gov.br/dados/dbbni`` to the
open-data portal's S3 bucket (``ckan.saude.gov.br/PNI/csv``), which, as of 2026-08, keeps
only the current year (earlier years were taken down upstream): the base URL is an option.

Of each month rmds keeps the rows of one UF (a dose given in the UF **or** to a resident of
the UF: coverage counts residents, production counts facilities), as
``vacinacao_MG_2023_01.csv`` (UTF-8, same columns and delimiter), the name
:func:`rmds.lake.ingest.identity_key` turns into ``PNI:VACINACAO_MG_2023_01``, so a month
re-published upstream supersedes the month loaded before. The national ZIP is downloaded
with :func:`rmds.acquisition.http.http_fetch` (resume, retries, size check) and deleted once
the UF's rows are out; the manifest keeps its size and ``Last-Modified`` so an unchanged
month is not downloaded again.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from rmds.acquisition.fetch import FetchReport, load_manifest, save_manifest
from rmds.acquisition.http import http_fetch

__all__ = ["MONTHS", "PNI_URL", "UF_CODES", "extract_uf", "fetch_vaccination", "local_name",
           "zip_name"]

PNI_URL = "https://s3.sa-east-1.amazonaws.com/ckan.saude.gov.br/PNI/csv"
MONTHS = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")
#: IBGE codes of the 27 federative units (the first two digits of a municipality code)
UF_CODES = {"RO": "11", "AC": "12", "AM": "13", "RR": "14", "PA": "15", "AP": "16", "TO": "17",
            "MA": "21", "PI": "22", "CE": "23", "RN": "24", "PB": "25", "PE": "26", "AL": "27",
            "SE": "28", "BA": "29", "MG": "31", "ES": "32", "RJ": "33", "SP": "35", "PR": "41",
            "SC": "42", "RS": "43", "MS": "50", "MT": "51", "GO": "52", "DF": "53"}
#: the columns that place a dose: where the person lives, where the dose was given
PLACE_COLUMNS = ("co_municipio_paciente", "co_municipio_estabelecimento")
_NATIONAL = ".nacional"   # where the national ZIPs wait (a dot folder: never ingested)


def zip_name(year: int, month: int) -> str:
    return f"vacinacao_{MONTHS[month - 1]}_{year:04d}_csv.zip"


def local_name(uf: str, year: int, month: int) -> str:
    return f"vacinacao_{uf.upper()}_{year:04d}_{month:02d}.csv"


def _lines(raw: IO[bytes]) -> Iterator[str]:
    """Text lines of a CSV whose encoding may change within the file: each line is read as
    UTF-8 and, when it is not valid UTF-8, as latin-1 (what the 2020–2022 files are)."""
    for line in raw:
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield line.decode("latin-1")


def extract_uf(archive: Path, uf: str, target: Path) -> int:
    """Write the rows of ``uf`` (dose given there or to a resident) of every CSV in
    ``archive`` to ``target`` (UTF-8); returns the rows written. The header is the first
    member's; the file appears only when complete."""
    prefix = UF_CODES[uf.upper()]
    part = target.with_name(target.name + ".part")
    kept = 0
    with zipfile.ZipFile(archive) as zipped, part.open("w", encoding="utf-8",
                                                        newline="") as out:
        members = [m for m in zipped.namelist() if m.lower().endswith((".csv", ".txt"))]
        if not members:
            raise ValueError(f"{archive.name}: nenhum CSV dentro do ZIP")
        writer: Any = None
        for member in members:
            with zipped.open(member) as raw:
                lines = _lines(raw)
                first = next(lines, "").lstrip("\ufeff")
                delimiter = max((";", ",", "\t", "|"), key=first.count)
                header = next(csv.reader([first], delimiter=delimiter))
                places = [header.index(c) for c in PLACE_COLUMNS if c in header]
                if not places:
                    raise ValueError(
                        f"{archive.name}/{member}: sem {' nem '.join(PLACE_COLUMNS)} no "
                        "cabeçalho; não há como separar as doses da UF (leiaute mudou?)")
                if writer is None:
                    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
                    writer.writerow(header)
                for row in csv.reader(lines, delimiter=delimiter):
                    if any(i < len(row) and row[i].startswith(prefix) for i in places):
                        writer.writerow(row)
                        kept += 1
    os.replace(part, target)
    return kept


def _stamp(url: str, timeout: float, retries: int, backoff: float,
           sleep: Callable[[float], None]) -> tuple[int | None, str | None]:
    """Size and Last-Modified of a remote file (HEAD). A missing key raises
    FileNotFoundError: 404, or 403, which is how S3 answers for a key that does not exist
    to whom may not list the bucket."""
    for attempt in range(retries + 1):
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                return (int(length) if length is not None else None,
                        response.headers.get("Last-Modified"))
        except urllib.error.HTTPError as exc:
            if exc.code in (403, 404, 410):
                raise FileNotFoundError(f"{url}: ausente no servidor ({exc.code})") from None
            if attempt == retries:
                raise OSError(f"{url}: HTTP {exc.code}") from None
        except (OSError, urllib.error.URLError):
            if attempt == retries:
                raise
        sleep(backoff * 2 ** attempt)
    raise AssertionError(url)  # pragma: no cover


def fetch_vaccination(dest: Path, uf: str, months: list[tuple[int, int]], *,
                      base_url: str = PNI_URL, timeout: float = 60.0, retries: int = 5,
                      backoff: float = 2.0, sleep: Callable[[float], None] = time.sleep,
                      report: FetchReport | None = None) -> FetchReport:
    """Fetch the national month files of ``months`` and keep the rows of ``uf`` in
    ``dest``, recording each in the destination's manifest (shared with the FTP files)."""
    if uf.upper() not in UF_CODES:
        raise ValueError(f"UF desconhecida: {uf} (conhecidas: {', '.join(UF_CODES)})")
    report = report if report is not None else FetchReport()
    dest.mkdir(parents=True, exist_ok=True)
    (dest / _NATIONAL).mkdir(exist_ok=True)
    manifest = load_manifest(dest)
    for year, month in months:
        url = f"{base_url.rstrip('/')}/{zip_name(year, month)}"
        name = local_name(uf, year, month)
        try:
            size, modified = _stamp(url, timeout, retries, backoff, sleep)
        except FileNotFoundError:
            report.missing.append(url)
            continue
        except OSError:
            report.failed.append(url)
            continue
        known = manifest.get(name, {})
        if (known.get("complete") and (known.get("size"), known.get("mtime")) == (size, modified)
                and (dest / name).exists()):
            report.unchanged.append(name)
            continue
        archive = dest / _NATIONAL / zip_name(year, month)
        partial = archive.with_name(archive.name + ".part")
        if partial.exists() and (known.get("size"), known.get("mtime")) != (size, modified):
            partial.unlink()   # a partial download of an earlier publication
        manifest[name] = {"remote": url, "size": size, "mtime": modified, "sha256": None,
                          "complete": False}
        save_manifest(dest, manifest)
        try:
            http_fetch(url, archive, retries=retries, backoff=backoff, timeout=timeout,
                       sleep=sleep)
            rows = extract_uf(archive, uf, dest / name)
        except FileNotFoundError:
            report.missing.append(url)
            continue
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            report.failed.append(f"{url} ({exc})")
            with contextlib.suppress(OSError):
                archive.unlink()   # a complete but unreadable ZIP is fetched again
            continue
        archive.unlink()
        digest = hashlib.sha256((dest / name).read_bytes()).hexdigest()
        if known.get("complete"):
            report.republished.append(name)
        report.fetched.append(name)
        report.paths.append(dest / name)
        manifest[name] = {"remote": url, "size": size, "mtime": modified, "sha256": digest,
                          "complete": True, "rows": rows}
        save_manifest(dest, manifest)
    return report
