"""Vaccination from the open-data distribution, against a local HTTP server serving national
month ZIPs built from the synthetic state (latin-1, ';', other UFs' rows mixed in): the UF's
rows are kept, a dropped connection resumes, a missing month is reported, an unchanged month
is not downloaded again, a re-published month is fetched again and supersedes the old rows
after ``rmds sync``. No internet."""

from __future__ import annotations

import csv
import email.utils
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rmds.acquisition.vaccination import extract_uf, zip_name
from rmds.cli import cli
from rmds.lake.ingest import expand_paths
from rmds.lake.store import Lake
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

SERVED: dict[str, tuple[bytes, float]] = {}   # path → (bytes, modification time)
CUTS = {"n": 0}


class _Handler(http.server.BaseHTTPRequestHandler):
    def _head(self) -> bytes | None:
        served = SERVED.get(self.path)
        if served is None:
            # S3 answers 403 for a key that does not exist to whom may not list the bucket
            self.send_error(403)
            return None
        data, mtime = served
        start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-") or 0)
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        self.end_headers()
        return data[start:]

    def do_HEAD(self) -> None:
        self._head()

    def do_GET(self) -> None:
        body = self._head()
        if body is None:
            return
        if CUTS["n"] > 0:  # drop the connection mid-file
            CUTS["n"] -= 1
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def months(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[int, tuple[list[str], list[list[str]]]]:
    """The synthetic state's doses of January and February 2023 (header, rows)."""
    out = tmp_path_factory.mktemp("pni") / "estado"
    generate(SynthConfig(0.002, (2023,), 7, out), pack)
    with (out / "PNI" / "vacinacao_MG_2023.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        rows = list(reader)
    when = header.index("dt_vacina")
    return {m: (header, [r for r in rows if r[when].startswith(f"2023-{m:02d}")])
            for m in (1, 2)}


def _national(header: list[str], rows: list[list[str]]) -> bytes:
    """A national month ZIP as the Ministry publishes it: latin-1, ';', the UF's rows among
    other UFs' (here São Paulo's, placed by both municipality columns) and a facility name
    with accents."""
    places = [header.index("co_municipio_paciente"), header.index("co_municipio_estabelecimento")]
    other = []
    for row in rows[:40]:
        moved = list(row)
        for i in places:
            moved[i] = "355030"
        other.append(moved)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\n")
    writer.writerow([*header, "no_fantasia_estabelecimento"])
    for i, row in enumerate(other + rows):
        writer.writerow([*row, "UBS São José" if i % 2 else "CENTRO DE SAÚDE"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("vacinacao_2023.csv", text.getvalue().encode("latin-1"))
    return buffer.getvalue()


def _publish(month: int, header: list[str], rows: list[list[str]], mtime: float) -> None:
    SERVED[f"/pni/{zip_name(2023, month)}"] = (_national(header, rows), mtime)


@pytest.fixture
def base(months: dict[int, tuple[list[str], list[list[str]]]]) -> Iterator[str]:
    SERVED.clear()
    for month, (header, rows) in months.items():
        _publish(month, header, rows, 1_700_000_000.0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pni"
    finally:
        server.shutdown()
        server.server_close()


def _kept(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=";"))


def test_extract_keeps_the_ufs_rows_and_decodes_latin1(
        months: dict[int, tuple[list[str], list[list[str]]]], tmp_path: Path) -> None:
    header, rows = months[1]
    archive = tmp_path / "jan.zip"
    archive.write_bytes(_national(header, rows))
    kept = extract_uf(archive, "MG", tmp_path / "vacinacao_MG_2023_01.csv")
    assert kept == len(rows)
    table = _kept(tmp_path / "vacinacao_MG_2023_01.csv")
    assert table[0] == [*header, "no_fantasia_estabelecimento"]
    assert [r[:-1] for r in table[1:]] == rows          # value for value, in order
    assert {r[-1] for r in table[1:]} == {"UBS São José", "CENTRO DE SAÚDE"}
    assert extract_uf(archive, "SP", tmp_path / "sp.csv") == 40


def test_fetch_resumes_reports_missing_and_skips_unchanged(
        base: str, months: dict[int, tuple[list[str], list[list[str]]]], tmp_path: Path) -> None:
    dest = tmp_path / "baixados"
    args = ["fetch", "PNI", "--period", "2023-01..2023-03", "--dest", str(dest),
            "--url-pni", base, "--retries", "2", "--timeout", "5"]
    CUTS["n"] = 1
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert CUTS["n"] == 0                                    # the cut happened, and resumed
    assert "baixados: 2" in first.output
    assert f"ausente ou recusado pelo servidor: {base}/{zip_name(2023, 3)}" in first.output
    for month in (1, 2):
        table = _kept(dest / f"vacinacao_MG_2023_{month:02d}.csv")
        assert [r[:-1] for r in table[1:]] == months[month][1]
    # nothing partial or national is left where ingest looks
    assert sorted(p.name for p in expand_paths([dest])) == [
        "vacinacao_MG_2023_01.csv", "vacinacao_MG_2023_02.csv"]
    assert not list(dest.rglob("*.part")) and not list(dest.rglob("*.zip"))

    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "baixados: 0" in second.output and "sem mudança: 2" in second.output


def _immunisations(lake_path: Path) -> int:
    with Lake(lake_path, read_only=True) as lake:
        return int(lake.scalar("SELECT count(*) FROM immunisations"))


def test_sync_supersedes_a_republished_month(
        base: str, months: dict[int, tuple[list[str], list[list[str]]]], tmp_path: Path) -> None:
    dest, lake_path = tmp_path / "baixados", tmp_path / "lago"
    args = ["sync", "PNI", "--period", "2023-01..2023-02", "--dest", str(dest),
            "--url-pni", base, "--retries", "1", "--timeout", "5", "--lake", str(lake_path),
            "--no-link"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    before = _immunisations(lake_path)
    assert before > 0

    header, rows = months[2]
    _publish(2, header, rows[:-25], 1_700_100_000.0)       # February corrected upstream
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "republicado: vacinacao_MG_2023_02.csv" in second.output
    assert "baixados: 1" in second.output                   # January was not downloaded
    with Lake(lake_path, read_only=True) as lake:
        status = sorted(b["status"] for b in lake.batches())
    assert status == ["ativo", "ativo", "substituído"]

    # the lake holds what a fresh load of January and the corrected February holds
    fresh = tmp_path / "lago-novo"
    loaded = CliRunner().invoke(cli, ["ingest", "--lake", str(fresh),
                                      str(dest / "vacinacao_MG_2023_01.csv"),
                                      str(dest / "vacinacao_MG_2023_02.csv")])
    assert loaded.exit_code == 0, loaded.output
    assert _immunisations(lake_path) == _immunisations(fresh) < before

    third = CliRunner().invoke(cli, args)
    assert third.exit_code == 0, third.output
    assert "Nada novo" in third.output
