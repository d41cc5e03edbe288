"""A small synthetic lake with indicators and a quality diagnosis, and the operational store
on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rmds.care.listcounts import publish
from rmds.care.projection import project
from rmds.indicators.compute import compute
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.linkage.run import link
from rmds.quality.report import quality_report
from rmds.server import create_app
from rmds.store import Store, open_store
from rmds.store.auth import Role, add_user
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

PASSWORD = "senha-de-teste-123"
PG_SERVER = os.environ.get("RMDS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture(scope="session")
def service_lake(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("servico")
    state = generate(SynthConfig(0.003, (2023,), 17, folder / "estado"), pack).out
    path = folder / "lago"
    with Lake(path) as lake:
        ingest(lake, [state], pack)
        link(lake)           # the person index: care records (rmds.care)
        project(lake)        # and the care records by person
        publish(lake, frozenset(pack.icsap.codes))   # the work lists' counts, for pages
        compute(lake, pack, population=state / "populacao.csv")
        quality_report(lake, pack, population=state / "populacao.csv")
    return path


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path_factory.mktemp('store') / 'op.db'}")
        yield opened
        opened.close()
        return
    name = f"rmds_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    opened = open_store(f"{PG_SERVER}/{name}")
    yield opened
    opened.close()
    with admin.connect() as c:
        c.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def users(store: Store) -> dict[str, str]:
    """username → role; municipal managers of Belo Horizonte and Uberlândia."""
    made = {"ana": (Role.STATE_ANALYST, None), "bh": (Role.MUNICIPAL, "3106200"),
            "udi": (Role.MUNICIPAL, "3170206"), "urs": (Role.REGIONAL, "belo-horizonte"),
            "prof": (Role.PROFESSIONAL, "3106200"), "adm": (Role.ADMIN, None)}
    for name, (role, scope) in made.items():
        add_user(store, name, PASSWORD, role, scope)
    return {name: role.value for name, (role, _) in made.items()}


@pytest.fixture(scope="session")
def app(service_lake: Path, store: Store, users: dict[str, str], pack: ReferencePack
        ) -> FastAPI:
    return create_app(service_lake, store, pack, warm=False)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def token(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/sessao", json={"usuario": username, "senha": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
