from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmds.territory import ReferencePack

pytest_plugins = ["tests.service_fixtures"]

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def private_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests write nothing under the user's home: the data home, the audit key and the
    audit checkpoints of every store they open are in a temporary folder."""
    home = tmp_path_factory.mktemp("rmds-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RMDS_HOME", str(home))
        patch.setenv("RMDS_AUDIT_KEY", "chave-de-auditoria-dos-testes-0123456789")
        patch.setenv("RMDS_AUDIT_CHECKPOINTS", str(home / "pontos-auditoria.jsonl"))
        yield


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    directory = Path(os.environ.get("RMDS_REFERENCE_DIR") or SHARED / "reference")
    if not directory.is_dir():
        pytest.fail(f"reference pack not found at {directory}; set RMDS_REFERENCE_DIR")
    return directory


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SHARED / "samples"


@pytest.fixture(scope="session")
def pack(reference_dir: Path) -> ReferencePack:
    return ReferencePack(reference_dir)


@pytest.fixture()
def pack_copy(reference_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the reference pack, for tests that break it on purpose."""
    target = tmp_path / "reference"
    shutil.copytree(reference_dir, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    target.chmod(0o755)
    return target
