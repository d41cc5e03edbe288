"""The person's access log lists exactly the openings of their data, and a deleted entry is
found by `rmds audit verify` and shown as missing in the log."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from rmds.access import AccessPolicy
from rmds.care.accesslog import access_log
from rmds.care.opening import open_record
from rmds.cli import cli
from rmds.lake.store import Lake
from rmds.store import open_store
from rmds.store.auth import Role, User
from rmds.store.db import AUDIT

WHY = "gestante atendida na maternidade de referência regional"


def test_the_log_lists_exactly_the_accesses_and_a_deleted_one_shows_missing(
        service_lake: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'op.db'}"
    store = open_store(url)
    policy = AccessPolicy(None)
    with Lake(service_lake, read_only=True) as lake:
        [(pid, town)] = lake.run(
            "SELECT person_id, any_value(m) FROM (SELECT l.person_id, r.residence_municipality"
            " AS m FROM person_links l JOIN (SELECT *, source_system || '|' || source_file "
            "|| '|' || coalesce(record_key, CAST(source_row AS VARCHAR)) || '|' || role AS "
            "uid FROM identity_records) r ON l.record_uid = r.uid) GROUP BY 1 "
            "HAVING count(DISTINCT m) = 1 AND count(*) > 1 ORDER BY 1 LIMIT 1")
        [other] = lake.run("SELECT min(person_id) FROM person_links WHERE person_id <> ?",
                           [pid])[0]
        local = policy.scope(User(1, "enf", Role.PROFESSIONAL, "municipio", town))
        away = policy.scope(User(2, "med", Role.PROFESSIONAL, "municipio", "0000000"))
        a = open_record(lake.con, store, policy, local, username="enf", key=str(pid),
                        purpose="cuidado")
        open_record(lake.con, store, policy, local, username="enf", key=str(other),
                    purpose="cuidado", justification=WHY)
        b = open_record(lake.con, store, policy, away, username="med", key=str(pid),
                        purpose="coordenacao_cuidado", justification=WHY)
    log = access_log(store, pid)
    assert [(e.seq, e.username, e.purpose, e.break_glass, e.justification)
            for e in log.entries] == [
        (a.audit_seq, "enf", "cuidado", False, None),
        (b.audit_seq, "med", "coordenacao_cuidado", True, WHY)]
    assert log.complete and log.missing == []
    # the command line shows the same, and says the chain is whole
    runner = CliRunner()
    shown = runner.invoke(cli, ["--store", url, "access-log", str(pid), "--json"])
    assert shown.exit_code == 0, shown.output
    assert [e["seq"] for e in json.loads(shown.output)["acessos"]] == [a.audit_seq,
                                                                        b.audit_seq]
    # someone deletes the first access from the store
    with store.engine.begin() as c:
        c.execute(sa.delete(AUDIT).where(AUDIT.c.seq == a.audit_seq))
    log = access_log(store, pid)
    assert not log.chain.ok and log.missing == [a.audit_seq] and not log.complete
    assert [e.seq for e in log.entries] == [b.audit_seq]
    verified = runner.invoke(cli, ["--store", url, "audit", "verify"])
    assert verified.exit_code != 0 and f"nº {a.audit_seq}" in verified.output
    shown = runner.invoke(cli, ["--store", url, "access-log", str(pid)])
    assert shown.exit_code == 1 and f"entrada nº {a.audit_seq} ausente" in shown.output
    store.close()
