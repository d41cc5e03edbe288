"""The audit chain against an attacker who can write to the operational store but holds
neither the audit key nor the checkpoint file: every tampering is found by
``rmds audit verify``, which names the first bad sequence number. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from click.testing import CliRunner

from rmds.cli import cli
from rmds.exceptions import ConfigurationError
from rmds.store import Store, open_store
from rmds.store.audit import GENESIS, _legacy_digest, _mac, record, verify
from rmds.store.db import AUDIT, MIGRATIONS
from tests.service_fixtures import PG_SERVER

ATTACKER_KEY = b"a-key-the-attacker-made-up-0123456789"
ENTRIES = 40
PERSONAL = {7, 15, 22}           # the sequence numbers of the personal-data reads


def _new_database(kind: str, tmp_path: Path) -> tuple[str, sa.Engine | None, str]:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'op.db'}", None, ""
    name = f"rmds_audit_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    return f"{PG_SERVER}/{name}", admin, name


def _drop(admin: sa.Engine | None, name: str) -> None:
    if admin is not None:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[str]:
    """An empty store of its own, with its own checkpoint file."""
    monkeypatch.setenv("RMDS_AUDIT_CHECKPOINTS", str(tmp_path / "pontos.jsonl"))
    address, admin, name = _new_database(str(request.param), tmp_path)
    yield address
    _drop(admin, name)


@pytest.fixture()
def store(url: str) -> Iterator[Store]:
    """A store with ENTRIES audit entries, some of them reads of personal data."""
    opened = open_store(url)
    for seq in range(1, ENTRIES + 1):
        record(opened, username=f"user{seq % 4}", role="analista_estadual",
               action="leitura_dados_pessoais" if seq in PERSONAL else "leitura_restrita",
               resource=f"/api/quarentena?n={seq}" if seq in PERSONAL else f"/api/cargas/{seq}",
               territory="3106200", origin="10.0.0.1", reason="conferência")
    assert verify(opened).ok
    yield opened
    opened.close()


def _verify_cli(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--store", url, "audit", "verify"])
    return result.exit_code, result.output


def _assert_broken_at(store: Store, seq: int) -> None:
    result = verify(store)
    assert not result.ok and result.broken_at == seq, result.message
    code, output = _verify_cli(store.url)
    assert code == 1, output
    assert "trilha adulterada" in output and f"entrada nº {seq}:" in output, output


def _rows(c: sa.Connection) -> list[dict[str, object]]:
    return [dict(r._mapping) for r in c.execute(AUDIT.select().order_by(AUDIT.c.seq))]


def _rechain(c: sa.Connection, key: bytes, start: int, renumber: bool = False) -> None:
    """What an attacker does after an edit at position ``start``: recompute every link and
    seal from there on (with a key of their own, having no other), optionally renumbering
    to close the gaps; the entries before ``start`` stay as they are."""
    prev = GENESIS
    rows = _rows(c)
    for n, row in enumerate(rows, 1):
        if n < start:
            prev = str(row["hash"])
            continue
        seq = n if renumber else int(str(row["seq"]))
        mac = _mac(key, seq, prev, row)
        c.execute(AUDIT.update().where(AUDIT.c.id == row["id"])
                  .values(seq=-seq, prev_hash=prev, hash=mac))
        prev = mac
    c.execute(AUDIT.update().where(AUDIT.c.seq < 0).values(seq=-AUDIT.c.seq))


def test_an_untouched_chain_verifies(store: Store) -> None:
    code, output = _verify_cli(store.url)
    assert code == 0 and f"{ENTRIES} entradas íntegras" in output, output


def test_deleting_the_newest_20_entries_is_found(store: Store) -> None:
    with store.engine.begin() as c:
        c.execute(AUDIT.delete().where(AUDIT.c.seq > ENTRIES - 20))
    _assert_broken_at(store, ENTRIES - 19)


def test_deleting_every_entry_is_found(store: Store) -> None:
    with store.engine.begin() as c:
        c.execute(AUDIT.delete())
    _assert_broken_at(store, 1)


def test_editing_an_entry_and_recomputing_the_chain_is_found(store: Store) -> None:
    with store.engine.begin() as c:
        c.execute(AUDIT.update().where(AUDIT.c.seq == 10).values(username="outra.pessoa"))
        _rechain(c, ATTACKER_KEY, start=10)
    _assert_broken_at(store, 10)


def test_rewriting_the_chain_in_the_old_keyless_form_is_found(store: Store) -> None:
    with store.engine.begin() as c:
        c.execute(AUDIT.update().where(AUDIT.c.seq == 12).values(reason="outro motivo"))
        prev = GENESIS
        for row in _rows(c):
            digest = _legacy_digest(prev, row)
            c.execute(AUDIT.update().where(AUDIT.c.id == row["id"])
                      .values(scheme=1, prev_hash=prev, hash=digest))
            prev = digest
    _assert_broken_at(store, 1)        # the checkpoint of entry 1 holds its real seal


@pytest.mark.parametrize("renumber", [False, True], ids=["gap", "renumbered"])
def test_deleting_the_personal_data_reads_and_recomputing_is_found(
        store: Store, renumber: bool) -> None:
    with store.engine.begin() as c:
        c.execute(AUDIT.delete().where(AUDIT.c.action == "leitura_dados_pessoais"))
        _rechain(c, ATTACKER_KEY, min(PERSONAL), renumber)
    _assert_broken_at(store, min(PERSONAL))


def test_appending_a_forged_entry_is_found(store: Store) -> None:
    with store.engine.begin() as c:
        head = _rows(c)[-1]
        forged: dict[str, object] = {
            "at": "2026-01-01T00:00:00+00:00", "username": "adm", "role": "administrador",
            "action": "login", "resource": "/api/sessao", "territory": None,
            "origin": "10.0.0.9", "reason": None}
        c.execute(AUDIT.insert().values(
            **forged, seq=ENTRIES + 1, scheme=2, prev_hash=head["hash"],
            hash=_mac(ATTACKER_KEY, ENTRIES + 1, str(head["hash"]), forged)))
    _assert_broken_at(store, ENTRIES + 1)


def test_moving_text_across_fields_is_found(store: Store) -> None:
    original: dict[str, object] = {
        "at": "2026-01-01T00:00:00+00:00", "username": "ana", "role": "r",
        "action": "leitura_restrita", "resource": "/api/cargas|x", "territory": "3106200",
        "origin": None, "reason": None}
    moved = {**original, "resource": "/api/cargas", "territory": "x|3106200"}
    # the first scheme could not tell the two apart
    assert _legacy_digest(GENESIS, original) == _legacy_digest(GENESIS, moved)
    seq = record(store, username="ana", role="r", action="leitura_restrita",
                 resource="/api/cargas|x", territory="3106200")
    assert seq == ENTRIES + 1 and verify(store).ok
    with store.engine.begin() as c:
        c.execute(AUDIT.update().where(AUDIT.c.seq == seq)
                  .values(resource=moved["resource"], territory=moved["territory"]))
    _assert_broken_at(store, seq)


def _key(store: Store) -> bytes:
    from rmds.store.audit import audit_config

    return audit_config(store).key


def test_a_forged_checkpoint_is_found(store: Store) -> None:
    path = Path(os.environ["RMDS_AUDIT_CHECKPOINTS"])
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace('"seq":40', '"seq":41')
    path.write_text("\n".join(lines) + "\n")
    result = verify(store)
    assert not result.ok and "ponto de controle forjado" in result.message


def test_deleting_the_checkpoint_file_and_the_newest_entries_is_found(store: Store) -> None:
    os.unlink(os.environ["RMDS_AUDIT_CHECKPOINTS"])
    with store.engine.begin() as c:
        c.execute(AUDIT.delete().where(AUDIT.c.seq > 30))
    _assert_broken_at(store, 1)


def test_the_key_is_not_in_the_database_and_a_missing_one_is_refused(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RMDS_AUDIT_KEY")
    opened = open_store(url)
    try:
        if url.startswith("sqlite"):
            # development: a key made beside the database, readable by its owner only
            record(opened, username="a", role="r", action="x", resource="/")
            key_file = Path(url.split("///")[1] + ".chave-auditoria")
            assert key_file.stat().st_mode & 0o777 == 0o600
        else:
            with pytest.raises(ConfigurationError, match="chave da auditoria não configurada"):
                record(opened, username="a", role="r", action="x", resource="/")
            key_file = tmp_path / "chave"
            key_file.write_text("k" * 40)
            key_file.chmod(0o644)
            monkeypatch.setenv("RMDS_AUDIT_KEY_FILE", str(key_file))
            opened.close()
            opened = open_store(url)
            with pytest.raises(ConfigurationError, match="chmod 600"):
                record(opened, username="a", role="r", action="x", resource="/")
            key_file.chmod(0o600)
            opened.close()
            opened = open_store(url)
            record(opened, username="a", role="r", action="x", resource="/")
        with opened.engine.connect() as c:
            stored = " ".join(str(v) for r in c.execute(sa.text("SELECT * FROM audit_log"))
                              for v in r)
        assert key_file.read_text().strip() not in stored
        assert verify(opened).ok
    finally:
        opened.close()


def test_entries_written_before_the_seal_still_verify_and_are_covered(url: str) -> None:
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        prev = GENESIS
        for n in range(1, 6):
            values: dict[str, object] = {
                "at": f"2025-01-0{n}T00:00:00+00:00", "username": "ana",
                "role": "analista_estadual", "action": "leitura_restrita",
                "resource": f"/api/cargas/{n}", "territory": None, "origin": "cli",
                "reason": None}
            digest = _legacy_digest(prev, values)
            connection.execute(sa.text(
                "INSERT INTO audit_log (at, username, role, action, resource, territory, "
                "origin, reason, prev_hash, hash) VALUES (:at, :username, :role, :action, "
                ":resource, :territory, :origin, :reason, :prev, :hash)"),
                {**values, "prev": prev, "hash": digest})
            prev = digest
    engine.dispose()
    opened = open_store(url)            # migrates to the sealed scheme
    try:
        result = verify(opened)
        assert result.ok and "5 no formato antigo" in result.message, result.message
        assert record(opened, username="ana", role="r", action="x", resource="/") == 6
        assert verify(opened).ok
        # rewriting an old entry and its keyless chain breaks the first sealed entry
        with opened.engine.begin() as c:
            c.execute(AUDIT.update().where(AUDIT.c.seq == 2).values(username="outra"))
            prev = GENESIS
            for row in _rows(c)[:5]:
                digest = _legacy_digest(prev, row)
                c.execute(AUDIT.update().where(AUDIT.c.id == row["id"])
                          .values(prev_hash=prev, hash=digest))
                prev = digest
        _assert_broken_at(opened, 6)
    finally:
        opened.close()


def test_the_seal_is_hmac_sha256_over_canonical_json(store: Store) -> None:
    """Pinned so that an auditor can check an entry with nothing but the key."""
    with store.engine.connect() as c:
        row = _rows(c)[0]
    body = ('{"action":"leitura_restrita","at":"' + str(row["at"]) + '","origin":"10.0.0.1",'
            '"prev":"' + GENESIS + '","reason":"conferência","resource":"/api/cargas/1",'
            '"role":"analista_estadual","seq":1,"territory":"3106200","username":"user1",'
            '"v":2}')
    expected = hmac.new(_key(store), b"rmds-auditoria-v2\n" + body.encode(),
                        hashlib.sha256).hexdigest()
    assert row["hash"] == expected


def test_concurrent_entries_are_committed_together_each_in_its_place(url: str) -> None:
    """Group commit: 8 threads appending at once. Every call returns the sequence number
    of its own entry, the numbers run 1…N without a gap, the chain verifies, and fewer
    transactions than entries were needed (entries waiting are committed together)."""
    import threading

    opened = open_store(url)
    commits = 0

    def count(*_: object) -> None:
        nonlocal commits
        commits += 1

    sa.event.listen(opened.engine, "commit", count)
    got: dict[int, str] = {}
    start = threading.Barrier(8)

    def write(thread: int) -> None:
        start.wait()
        for n in range(25):
            resource = f"pessoa:{thread}-{n}"
            got[record(opened, username=f"u{thread}", role="profissional_saude",
                       action="abrir_prontuario", resource=resource)] = resource

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(got) == list(range(1, 201))
        with opened.engine.connect() as c:
            stored = dict(c.execute(sa.select(AUDIT.c.seq, AUDIT.c.resource)).all())
        assert stored == got
        assert verify(opened).ok
        assert commits < 200
    finally:
        opened.close()


def _append_from_another_process(url: str, worker: int, count: int,
                                 start: Any) -> None:
    """A server worker of its own: its own store connection, appending ``count`` entries."""
    opened = open_store(url)
    try:
        start.wait()
        for n in range(count):
            record(opened, username=f"w{worker}", role="profissional_saude",
                   action="abrir_prontuario", resource=f"pessoa:{worker}-{n}")
    finally:
        opened.close()


def test_server_workers_in_separate_processes_append_one_chain(url: str) -> None:
    """`rmds serve --workers N`: N processes append to the same chain at once. Each
    append takes the store's write lock before it reads the chain's end (BEGIN IMMEDIATE
    on SQLite, an exclusive table lock on PostgreSQL), so no two processes seal the same
    sequence number: every entry is there, numbered 1…N without a gap, and the chain
    verifies."""
    import multiprocessing

    open_store(url).close()                 # migrated once, before the workers start
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    workers = [context.Process(target=_append_from_another_process, args=(url, w, 30, start))
               for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    opened = open_store(url)
    try:
        with opened.engine.connect() as c:
            stored = c.execute(sa.select(AUDIT.c.seq, AUDIT.c.resource)).all()
        assert sorted(seq for seq, _ in stored) == list(range(1, 121))
        assert {r for _, r in stored} == {f"pessoa:{w}-{n}" for w in range(4)
                                          for n in range(30)}
        assert verify(opened).ok
    finally:
        opened.close()
