"""A protected export (identity data) is its owner's only: folders 0700, files 0600,
whatever the umask (issue 20); an export without identity data keeps the umask's modes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.territory import ReferencePack


@pytest.fixture()
def open_umask() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


def _lake_with_a_patient(tmp_path: Path, pack: ReferencePack) -> Path:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {
            "resourceType": "Patient", "id": "p1", "name": [{"text": "MARIA DA SILVA"}],
            "gender": "female", "birthDate": "1980-05-17",
            "address": [{"city": "3106200", "line": ["Rua A, 1"]}]}}]}
    source = tmp_path / "pacote.json"
    source.write_bytes(orjson.dumps(bundle))
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        [outcome] = ingest(lake, [source], pack)
        assert outcome.status == "carregado"
        assert lake.counts()["identity_records"] == 1
    return lake_path


def _modes(root: Path) -> tuple[set[int], set[int]]:
    folders = {stat.S_IMODE(os.stat(root).st_mode)}
    files: set[int] = set()
    for path in root.rglob("*"):
        (folders if path.is_dir() else files).add(stat.S_IMODE(os.stat(path).st_mode))
    return folders, files


def test_a_protected_export_is_created_0600_and_0700(
        open_umask: None, tmp_path: Path, pack: ReferencePack) -> None:
    lake_path = _lake_with_a_patient(tmp_path, pack)
    with Lake(lake_path, read_only=True) as lake:
        written = lake.export_parquet(tmp_path / "protegido", include_protected=True)
        lake.export_parquet(tmp_path / "aberto")
    assert written["identity_records"] == 1
    assert list((tmp_path / "protegido" / "identity_records").rglob("*.parquet"))
    folders, files = _modes(tmp_path / "protegido")
    assert folders == {0o700} and files == {0o600}
    # without identity data the umask rules, as for any file the user writes
    folders, files = _modes(tmp_path / "aberto")
    assert 0o755 in folders
