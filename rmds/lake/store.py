"""The lake: a DuckDB database of canonical tables, a batch registry and quarantine.

Every canonical table (declared in :mod:`rmds.schema`) is a table here, with the batch that
brought each row. ``batches`` records every file loaded (hash, source, system, layout,
counts, timings); ``quarantine`` every refused row (batch, file, row, field, value, reason).
A batch is written in one transaction: it lands whole or not at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from rmds.exceptions import ConfigurationError
from rmds.schema import PROTECTED, TABLES, PeriodKind, Table
from rmds.schema.inventory import period_columns
from rmds.sources.mapping import QUARANTINE_SCHEMA

__all__ = ["BATCH_COLUMNS", "PERIOD_COLUMNS", "Lake", "fetch_arrow", "table_exists"]

SCHEMA_VERSION = 2  # 2: deaths/births.registration_date
_SQL_TYPES = {pa.string(): "VARCHAR", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
              pa.float64(): "DOUBLE", pa.date32(): "DATE", pa.bool_(): "BOOLEAN"}
BATCH_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("batch_id", "BIGINT PRIMARY KEY", "número do lote"),
    ("file_name", "VARCHAR", "nome do arquivo"),
    ("file_path", "VARCHAR", "caminho do arquivo na carga"),
    ("sha256", "VARCHAR UNIQUE", "SHA-256 do conteúdo (um arquivo já carregado é ignorado)"),
    ("size_bytes", "BIGINT", "tamanho do arquivo"),
    ("source_type", "VARCHAR", "DATASUS, CSV ou FHIR"),
    ("system", "VARCHAR", "sistema (SIM, SINASC, SIH, SIA, CNES, PNI, CONSORCIO, FHIR)"),
    ("layout", "VARCHAR", "leiaute detectado"),
    ("tables", "VARCHAR", "tabelas canônicas alimentadas"),
    ("rows_read", "BIGINT", "linhas ou recursos lidos"),
    ("rows_accepted", "BIGINT", "linhas aceitas"),
    ("rows_quarantined", "BIGINT", "linhas em quarentena"),
    ("identity_rows", "BIGINT", "linhas de identificação (tabela protegida)"),
    ("started_at", "TIMESTAMP", "início da carga"),
    ("finished_at", "TIMESTAMP", "fim da carga"),
    ("seconds", "DOUBLE", "duração em segundos"),
)
# the column that places a row in time, for partitioned export (from rmds.schema.inventory)
PERIOD_COLUMNS = period_columns(PeriodKind.DATE)
COMPETENCE_COLUMNS = period_columns(PeriodKind.COMPETENCE)


def fetch_arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The result of a DuckDB query as an Arrow table (DuckDB 1.x and 2.x method names)."""
    relation = con.sql(sql)
    method = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = method()
    return table


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the lake has a table (or view) called ``name``; derived tables such as the
    indicator mart or the diagnosis exist only once something has computed them."""
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                        [name]).fetchall()
    return bool(found[0][0])


def _open_error(path: Path, error: duckdb.Error) -> str:
    """Why a lake could not be opened, in the user's words. DuckDB lets one process write a
    database file and no other process open it meanwhile, not even to read."""
    held = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", str(error))
    if held:
        return (f"o lago {path} está em uso por outro processo ({Path(held.group(1)).name}, "
                f"PID {held.group(2)}): uma carga em andamento, ou o 'rmds serve', que o "
                "mantém aberto. O DuckDB não deixa outro processo abri-lo enquanto isso, nem "
                "para leitura: espere a carga terminar, ou pare o servidor, e tente de novo.")
    return f"não foi possível abrir o lago {path}: {error}"


def _ddl(table: Table) -> str:
    columns = ", ".join(f'"{c.name}" {_SQL_TYPES[c.type]}' for c in table.columns)
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" ({columns})'


class Lake:
    """An open lake. Use as a context manager; one writer at a time."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        if read_only and not path.exists():
            raise ConfigurationError(f"lago não encontrado: {path} (carregue arquivos com "
                                     "'rmds ingest')")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            raise ConfigurationError(_open_error(path, error)) from None
        if not read_only:
            self._ensure_schema()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def _ensure_schema(self) -> None:
        self.run("CREATE TABLE IF NOT EXISTS lake_meta (key VARCHAR PRIMARY KEY, "
                 "value VARCHAR)")
        version = self.scalar("SELECT value FROM lake_meta WHERE key = 'schema_version'")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise ConfigurationError(f"o lago {self.path} é de uma versão mais nova do rmds "
                                     f"(esquema {version})")
        outdated = version is not None and int(version) < SCHEMA_VERSION
        self.run("BEGIN TRANSACTION")
        for table in TABLES:
            self.run(_ddl(table))
            # lakes made by an older rmds gain the columns added since (null there)
            for column in table.columns if outdated else ():
                self.run(f'ALTER TABLE "{table.name}" ADD COLUMN IF NOT EXISTS '
                         f'"{column.name}" {_SQL_TYPES[column.type]}')
        columns = ", ".join(f"{name} {sql}" for name, sql, _ in BATCH_COLUMNS)
        self.run(f"CREATE TABLE IF NOT EXISTS batches ({columns})")
        q = ", ".join(f'"{f.name}" {_SQL_TYPES[f.type]}' for f in QUARANTINE_SCHEMA)
        self.run(f"CREATE TABLE IF NOT EXISTS quarantine (batch_id BIGINT, {q})")
        self.run("INSERT OR REPLACE INTO lake_meta VALUES ('schema_version', ?)",
                 [str(SCHEMA_VERSION)])
        self.run("COMMIT")

    # ----------------------------------------------------------------- queries
    def batches(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM batches ORDER BY batch_id")

    def quarantine(self, batch_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ("WHERE batch_id = ?", [batch_id]) if batch_id is not None else ("", [])
        return self._dicts(f"SELECT * FROM quarantine {where} ORDER BY batch_id, source_row, "
                           f"field LIMIT {int(limit)}", params)

    def quarantine_reasons(self, batch_id: int | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE batch_id = ?", [batch_id]) if batch_id is not None else ("", [])
        return self._dicts(
            f"SELECT batch_id, source_file, field, reason, count(*) AS rows FROM quarantine "
            f"{where} GROUP BY ALL ORDER BY batch_id, rows DESC", params)

    def counts(self) -> dict[str, int]:
        out = {}
        for table in TABLES:
            out[table.name] = int(self.scalar(f'SELECT count(*) FROM "{table.name}"') or 0)
        return out

    def run(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Execute a statement and consume its result (DuckDB keeps a pending result
        otherwise, which blocks the next statement on the connection)."""
        return self.con.execute(sql, params or []).fetchall()

    def insert(self, name: str, data: pa.Table) -> None:
        """Append an Arrow table to ``name``, matching columns by name."""
        self.con.register("rmds_incoming", data)
        try:
            self.run(f'INSERT INTO "{name}" BY NAME SELECT * FROM rmds_incoming')
        finally:
            self.con.unregister("rmds_incoming")

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.run(sql, params)
        return rows[0][0] if rows else None

    def _dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # ------------------------------------------------------------------ export
    def export_parquet(self, outdir: Path, include_protected: bool = False) -> dict[str, int]:
        """Canonical tables as Hive-partitioned Parquet (``table/source_system=…/ano=…``),
        readable by Spark and DuckDB as they are. Protected tables only on request."""
        outdir.mkdir(parents=True, exist_ok=True)
        written: dict[str, int] = {}
        for table in TABLES:
            if table.name in PROTECTED and not include_protected:
                continue
            rows = int(self.scalar(f'SELECT count(*) FROM "{table.name}"') or 0)
            if not rows:
                continue
            target = outdir / table.name
            if table.name in PERIOD_COLUMNS:
                year = f'coalesce(year("{PERIOD_COLUMNS[table.name]}"), 0)'
            elif table.name in COMPETENCE_COLUMNS:
                year = f'coalesce(TRY_CAST(left("{COMPETENCE_COLUMNS[table.name]}", 4) ' \
                       'AS INTEGER), 0)'
            else:
                year = "0"
            self.run(
                f"COPY (SELECT *, {year} AS ano FROM \"{table.name}\") TO '{target}' "
                "(FORMAT PARQUET, PARTITION_BY (source_system, ano), OVERWRITE_OR_IGNORE)")
            written[table.name] = rows
        return written
