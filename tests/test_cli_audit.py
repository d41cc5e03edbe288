"""The commands that read personal data or change the lake leave an audit entry: the OS user
as actor, origin 'cli'."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from rmds.cli import cli
from rmds.store import open_store
from rmds.store.audit import cli_actor, verify
from rmds.store.db import AUDIT


def test_cli_commands_are_audited(tmp_path: Path, samples_dir: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'op.db'}"
    lake = tmp_path / "lago.duckdb"
    sample = tmp_path / "sim_do_sample.csv"
    shutil.copy(samples_dir / "sim_do_sample.csv", sample)
    roster = tmp_path / "rol.csv"
    roster.write_text("sigla;nome;cod_ibge7;inicio;fim\n"
                      "TESTE;Consórcio de teste;3106200;01/07/2023;\n", encoding="utf-8")
    base = ["--store", store_url]
    commands = [
        (["ingest", str(sample), "--lake", str(lake)], "escrita", "rmds ingest"),
        (["quarantine", "--lake", str(lake)], "leitura_dados_pessoais", "rmds quarantine"),
        (["export", "parquet", str(tmp_path / "pq"), "--lake", str(lake),
          "--include-protected"], "leitura_dados_pessoais",
         "rmds export parquet --include-protected"),
        (["link", "--lake", str(lake), "review", "--same", "--pair", "a", "b"], "escrita",
         "rmds link review --same"),
        (["consortia", "import", str(roster), "--lake", str(lake)], "escrita",
         "rmds consortia import"),
    ]
    runner = CliRunner()
    for args, action, resource in commands:
        result = runner.invoke(cli, [*base, *args])
        assert result.exit_code == 0, (args, result.output)
        store = open_store(store_url)
        with store.engine.connect() as c:
            last = c.execute(sa.select(AUDIT).order_by(AUDIT.c.seq.desc()).limit(1)).one()
        store.close()
        assert last.action == action and last.resource.startswith(resource), last
        assert last.username == cli_actor() and last.origin == "cli"
    # an export without the protected table reads no personal data: no entry
    store = open_store(store_url)
    assert verify(store).entries == len(commands)
    runner.invoke(cli, [*base, "export", "parquet", str(tmp_path / "pq2"), "--lake", str(lake)])
    assert verify(store).entries == len(commands) and verify(store).ok
    store.close()
