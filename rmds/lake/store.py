"""The lake: canonical tables, a batch registry and quarantine, as a live DuckLake.

The lake is a folder. Its data are plain Parquet files under ``dados/``; its catalog (which
files make up which table at which snapshot) is a SQLite file, ``catalogo.sqlite``, in the
folder, or a PostgreSQL schema for a multi-host deployment (setting ``lake_catalog``). Both
are DuckLake (https://ducklake.select), loaded from the installed
``duckdb-extension-ducklake`` package with DuckDB's signature check on; nothing is
downloaded at run time.

Every committed transaction is a **snapshot**: readers (the site, the API, ``rmds
indicators show``, a notebook) read the snapshot that was current when they started and
never wait for a writer; a writer commits a new snapshot in one step; ``Lake(path,
snapshot=N)`` reads the lake exactly as it was at snapshot ``N``. Writers take turns
(a lock file in the folder, and a PostgreSQL advisory lock with a PostgreSQL catalog).

Every canonical table (declared in :mod:`rmds.schema`) is a table here, with the batch that
brought each row. ``batches`` records every file loaded (hash, what the file is, counts,
timings, and whether a later version superseded it); ``quarantine`` every refused row
(batch, file, row, field, value, reason). See ``docs/lake.md``.

Why this module is long: the lake's one entry point: DuckLake attach and extensions, the
writer lock, schema, snapshots (list, expire, compact, files) and exports; splitting
snapshots out is the next step.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from rmds.engine.duck import fetch_arrow
from rmds.engine.sql import ident
from rmds.exceptions import ConfigurationError
from rmds.schema import PROTECTED, TABLES, PeriodKind, Table
from rmds.schema.inventory import period_columns
from rmds.sources.mapping import QUARANTINE_SCHEMA

__all__ = ["BATCH_COLUMNS", "PERIOD_COLUMNS", "Lake", "Snapshot", "fetch_arrow",
           "literal", "make_private", "table_exists"]

SCHEMA_VERSION = 3  # 3: DuckLake folder; batches gain identity_key, status, superseded_by
CATALOG_FILE = "catalogo.sqlite"
DATA_DIR = "dados"
LOCK_FILE = ".escritor.lock"
ALIAS = "lake"
# tests: SIGKILL the process just before it commits a snapshot with this message
FAULT_COMMIT_ENV = "RMDS_FAULT_KILL_AT_COMMIT"
_SQL_TYPES = {pa.string(): "VARCHAR", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
              pa.float64(): "DOUBLE", pa.date32(): "DATE", pa.bool_(): "BOOLEAN"}
BATCH_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("batch_id", "BIGINT", "número do lote"),
    ("file_name", "VARCHAR", "nome do arquivo"),
    ("file_path", "VARCHAR", "caminho do arquivo na carga"),
    ("sha256", "VARCHAR", "SHA-256 do conteúdo (um arquivo já carregado é ignorado)"),
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
    ("identity_key", "VARCHAR", "o que o arquivo é (sistema, tipo, UF, competência, parte): "
     "uma nova versão do mesmo arquivo substitui a anterior"),
    ("status", "VARCHAR", "ativo, ou substituído por uma versão mais nova do arquivo"),
    ("superseded_by", "BIGINT", "lote que substituiu este"),
)
# the column that places a row in time, for partitioned export (from rmds.schema.inventory)
PERIOD_COLUMNS = period_columns(PeriodKind.DATE)
COMPETENCE_COLUMNS = period_columns(PeriodKind.COMPETENCE)


def literal(value: str | int) -> str:
    """A value as a SQL literal, quoted by sqlglot: for the few statements that take no
    bind parameters (ATTACH, LOAD, COPY … TO). Never splice a value any other way."""
    node = exp.Literal.number(value) if isinstance(value, int) else exp.Literal.string(value)
    return node.sql(dialect="duckdb")


def existing_tables(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The names :func:`table_exists` answers for, in one look at the catalog (each look
    costs milliseconds on a DuckLake catalog: ask once per answer, not once per table)."""
    return frozenset(str(n) for (n,) in con.execute(
        "SELECT DISTINCT table_name FROM information_schema.tables WHERE "
        "table_catalog IN (current_database(), 'temp', 'memory')").fetchall())


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the lake (or the connection's temporary objects) has a table or view called
    ``name``; derived tables such as the indicator mart or the diagnosis exist only once
    something has computed them."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND "
        "table_catalog IN (current_database(), 'temp', 'memory')", [name]).fetchall()
    return bool(found[0][0])


@dataclass(frozen=True)
class Snapshot:
    """One committed state of the lake."""

    id: int
    time: dt.datetime
    author: str | None
    message: str | None
    changes: dict[str, Any]
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"snapshot": self.id, "quando": self.time.isoformat(timespec="seconds"),
                "autor": self.author, "o_que": self.message, "mudancas": self.changes,
                "detalhes": self.extra}


def _extension(package: str, name: str) -> Path:
    """The extension file shipped by an installed ``duckdb-extension-*`` package."""
    try:
        module = __import__(package)
    except ImportError:
        raise ConfigurationError(
            f"a extensão {name} do DuckDB não está instalada: instale o pacote "
            f"{package.replace('_', '-')} na versão do duckdb ({duckdb.__version__}); o "
            "rmds não baixa extensões durante a execução") from None
    base = Path(module.__file__ or "").parent / "extensions"
    found = sorted(base.glob(f"v{duckdb.__version__}/{name}.duckdb_extension")) or sorted(
        base.glob(f"*/{name}.duckdb_extension"))
    if not found:
        raise ConfigurationError(f"extensão {name} não encontrada em {base} para o DuckDB "
                                 f"{duckdb.__version__}")
    return found[-1]


def connect_engine() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that installs nothing on its own."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": True})
    return con


def _load(con: duckdb.DuckDBPyConnection, package: str, name: str) -> None:
    loaded = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?",
                         [name]).fetchall()
    if not (loaded and loaded[0][0]):
        con.execute("LOAD " + literal(str(_extension(package, name))))


def _pg_conninfo(url: str) -> str:
    """A PostgreSQL URL (``postgresql://user@host:port/db``) as libpq key=value pairs."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    pairs = {"dbname": (parts.path or "/").lstrip("/") or "postgres",
             "host": parts.hostname or "", "port": str(parts.port or ""),
             "user": unquote(parts.username or ""), "password": unquote(parts.password or "")}

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{k}={quoted(v)}" for k, v in pairs.items() if v)


def metadata_schema(path: Path) -> str:
    """The PostgreSQL schema of a lake's catalog: one per lake folder."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return f"rmds_lago_{digest}"


class _WriterLock:
    """Writers take turns: an exclusive lock on a file in the lake folder (and, with a
    PostgreSQL catalog shared by several hosts, a PostgreSQL advisory lock)."""

    def __init__(self, folder: Path, catalog: str | None, wait_message: bool = True) -> None:
        self.handle: IO[bytes] | None = None
        self.pg: Any = None
        self.handle = (folder / LOCK_FILE).open("ab")
        os.chmod(folder / LOCK_FILE, 0o600)
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait_message:
                from rmds.log import get_logger

                get_logger("lake").info("aguardando outra escrita no lago %s terminar",
                                        folder)
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        if catalog:
            import psycopg

            self.pg = psycopg.connect(catalog.replace("postgresql+psycopg://",
                                                      "postgresql://"), autocommit=True)
            key = int(hashlib.sha256(metadata_schema(folder).encode()).hexdigest()[:15], 16)
            self.pg.execute("SELECT pg_advisory_lock(%s)", [key])

    def release(self) -> None:
        if self.pg is not None:
            with suppress(Exception):
                self.pg.close()
            self.pg = None
        if self.handle is not None:
            with suppress(OSError):
                fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def catalog_setting() -> str | None:
    """The PostgreSQL URL of the lake catalog, when one is set (``RMDS_LAKE_CATALOG``)."""
    from rmds.settings import get_setting

    value = get_setting("lake_catalog")
    return str(value).strip() or None if value else None


def attach(con: duckdb.DuckDBPyConnection, path: Path, *, alias: str = ALIAS,
           read_only: bool = False, snapshot: int | None = None,
           catalog: str | None = None) -> None:
    """Attach the lake at ``path`` to a DuckDB connection as ``alias``."""
    _load(con, "duckdb_extension_ducklake", "ducklake")
    if catalog:
        _load(con, "duckdb_extension_postgres_scanner", "postgres_scanner")
        target = "ducklake:postgres:" + _pg_conninfo(catalog)
    else:
        _load(con, "duckdb_extension_sqlite_scanner", "sqlite_scanner")
        target = "ducklake:sqlite:" + str(path / CATALOG_FILE)
    # the data files are found from where the folder is now: a lake folder can be moved,
    # copied or restored from a backup (file paths in the catalog are relative to it)
    options = [f"DATA_PATH {literal(str(path / DATA_DIR) + os.sep)}", "OVERRIDE_DATA_PATH TRUE"]
    if catalog:
        options.append(f"METADATA_SCHEMA {literal(metadata_schema(path))}")
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {literal(int(snapshot))}")
    options_sql = ", ".join(options)
    con.execute(f"ATTACH {literal(target)} AS {ident(alias)} ({options_sql})")


def _type_sql(type_: pa.DataType) -> str:
    """The DuckDB type of a declared Arrow type (one of a fixed set of type names)."""
    return _SQL_TYPES[type_]


def _ddl_sql(table: Table) -> str:
    columns_sql = ", ".join(f"{ident(c.name)} {_type_sql(c.type)}" for c in table.columns)
    return f"CREATE TABLE IF NOT EXISTS {ident(table.name)} ({columns_sql})"


def make_private(root: Path) -> None:
    """Folders 0700 and files 0600 under ``root`` (and ``root`` itself), whatever the
    umask they were created under: for what holds identity data."""
    os.chmod(root, 0o700)
    for folder, folders, files in os.walk(root):
        for name in folders:
            os.chmod(Path(folder) / name, 0o700)
        for name in files:
            os.chmod(Path(folder) / name, 0o600)


def _new_catalog(path: Path) -> None:
    """A new SQLite catalog, in WAL mode so that readers and the writer do not block one
    another, readable by its owner only."""
    import sqlite3

    file = path / CATALOG_FILE
    with sqlite3.connect(file) as db:
        db.execute("PRAGMA journal_mode=WAL")
    os.chmod(file, 0o600)


class Lake:
    """An open lake. Use as a context manager.

    ``read_only=False`` opens it for writing: the writer lock is taken (other writers wait;
    readers never do). ``snapshot=N`` reads the lake as it was at snapshot ``N``.
    """

    def __init__(self, path: Path, *, read_only: bool = False, snapshot: int | None = None,
                 catalog: str | None = None) -> None:
        self.path = path
        self.catalog = catalog if catalog is not None else catalog_setting()
        self.read_only = read_only or snapshot is not None
        self._lock: _WriterLock | None = None
        if path.is_file():
            raise ConfigurationError(
                f"{path} é um lago em formato antigo (um arquivo DuckDB); o lago agora é uma "
                "pasta com catálogo e arquivos Parquet: carregue os arquivos de novo com "
                "'rmds ingest --lake PASTA'")
        exists = (path / CATALOG_FILE).exists() or (self.catalog is not None
                                                    and (path / DATA_DIR).exists())
        if self.read_only and not exists:
            raise ConfigurationError(f"lago não encontrado: {path} (carregue arquivos com "
                                     "'rmds ingest')")
        if not self.read_only:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            (path / DATA_DIR).mkdir(exist_ok=True, mode=0o700)
            self._lock = _WriterLock(path, self.catalog)
            if not self.catalog and not (path / CATALOG_FILE).exists():
                _new_catalog(path)
        self.con = connect_engine()
        try:
            attach(self.con, path, read_only=self.read_only, snapshot=snapshot,
                   catalog=self.catalog)
            self.con.execute(f"USE {ident(ALIAS)}")
        except duckdb.Error as error:
            self.close()
            if snapshot is not None and "snapshot" in str(error).lower():
                raise ConfigurationError(f"snapshot {snapshot} não existe no lago {path} "
                                         "(veja 'rmds snapshots')") from None
            raise ConfigurationError(f"não foi possível abrir o lago {path}: {error}"
                                     ) from None
        self.snapshot = snapshot
        if not self.read_only:
            self._ensure_schema()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with suppress(Exception):
            self.con.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _ensure_schema(self) -> None:
        version = None
        if table_exists(self.con, "lake_meta"):
            version = self.scalar("SELECT value FROM lake_meta WHERE key = 'schema_version'")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise ConfigurationError(f"o lago {self.path} é de uma versão mais nova do rmds "
                                     f"(esquema {version})")
        if version is not None and int(version) == SCHEMA_VERSION:
            present = set(self.run("SELECT table_name, column_name FROM "
                                   "information_schema.columns WHERE table_catalog = 'lake'"))
            if all((t.name, c.name) in present for t in TABLES for c in t.columns):
                return
        self.run("BEGIN TRANSACTION")
        self.run("CALL lake.set_option('data_inlining_row_limit', 0)")
        self.run("CREATE TABLE IF NOT EXISTS lake_meta (key VARCHAR, value VARCHAR)")
        for table in TABLES:
            self.run(_ddl_sql(table))
            # lakes made by an older rmds gain the columns added since (null there)
            for column in table.columns if version is not None else ():
                self.run(f"ALTER TABLE {ident(table.name)} ADD COLUMN IF NOT EXISTS "
                         f"{ident(column.name)} {_type_sql(column.type)}")
        # the type names of BATCH_COLUMNS are written in this module, never read from data
        batch_columns_sql = ", ".join(f"{ident(name)} {type_sql}"
                                      for name, type_sql, _ in BATCH_COLUMNS)
        self.run(f"CREATE TABLE IF NOT EXISTS batches ({batch_columns_sql})")
        quarantine_columns_sql = ", ".join(f"{ident(f.name)} {_type_sql(f.type)}"
                                           for f in QUARANTINE_SCHEMA)
        self.run(f"CREATE TABLE IF NOT EXISTS quarantine (batch_id BIGINT, "
                 f"{quarantine_columns_sql})")
        self.run("DELETE FROM lake_meta WHERE key = 'schema_version'")
        self.run("INSERT INTO lake_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        self.commit("esquema do lago", versao=SCHEMA_VERSION)

    # ------------------------------------------------------------------ snapshots
    def commit(self, message: str, **extra: Any) -> None:
        """Commit the open transaction as a new snapshot that says what changed."""
        author = os.environ.get("USER") or os.environ.get("LOGNAME") or "rmds"
        if os.environ.get(FAULT_COMMIT_ENV) == message:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        self.run("CALL lake.set_commit_message(?, ?, extra_info => ?)",
                 [f"rmds ({author})", message, json.dumps(extra, default=str,
                                                          ensure_ascii=False)])
        self.run("COMMIT")

    def snapshot_id(self) -> int:
        """The snapshot this connection reads (the newest one, for a writer)."""
        if self.snapshot is not None:
            return self.snapshot
        return int(self.scalar("SELECT id FROM lake.current_snapshot()"))

    def snapshots(self) -> list[Snapshot]:
        rows = self.run("SELECT snapshot_id, epoch(snapshot_time), author, commit_message, "
                        "changes, commit_extra_info FROM lake.snapshots() ORDER BY "
                        "snapshot_id")
        out = []
        for sid, when, author, message, changes, extra in rows:
            try:
                details = json.loads(extra) if extra else {}
            except ValueError:
                details = {"texto": extra}
            out.append(Snapshot(int(sid), dt.datetime.fromtimestamp(when, dt.UTC), author, message,
                                {k: list(v) for k, v in (changes or {}).items()}, details))
        return out

    def expire(self, keep_days: float, keep_last: int = 1) -> dict[str, int]:
        """Forget snapshots older than ``keep_days`` (the newest ``keep_last`` always stay)
        and delete the data files no retained snapshot needs."""
        snaps = self.snapshots()
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=keep_days)
        keep = {s.id for s in snaps[-max(1, keep_last):]}
        old = [s.id for s in snaps
               if s.id not in keep and s.time.astimezone(dt.UTC) < cutoff]
        if old:
            self.run("CALL ducklake_expire_snapshots('lake', versions => ?)", [old])
        removed = self.run("CALL ducklake_cleanup_old_files('lake', cleanup_all => true)")
        # files derived from one data file are named after it (``<file>.parquet.<what>``,
        # as the care records kept whole) and go with it
        for derived in (self.path / DATA_DIR).rglob("*.parquet.*"):
            base = derived.name[:derived.name.index(".parquet.") + len(".parquet")]
            if not derived.with_name(base).exists():
                derived.unlink(missing_ok=True)
        return {"snapshots": len(old), "arquivos": len(removed)}

    def compact(self, tables: list[str] | None = None) -> None:
        """Rewrite the data files that carry deletions (a superseded batch, a recomputed
        table), so that the current data files are plain Parquet with no delete files:
        what Spark, or any Parquet reader, reads as it is."""
        for name in tables or self.table_names():
            self.run("CALL ducklake_rewrite_data_files('lake', ?, delete_threshold => 0)",
                     [name])

    def table_names(self) -> list[str]:
        rows = self.run("SELECT table_name FROM information_schema.tables WHERE "
                        "table_catalog = 'lake' AND table_type = 'BASE TABLE' "
                        "ORDER BY table_name")
        return [r[0] for r in rows]

    def schema_of(self, name: str) -> pa.Schema:
        """The Arrow schema of table ``name`` (what another engine reads its files with)."""
        return fetch_arrow(self.con, f"SELECT * FROM {ident(name)} LIMIT 0").schema

    def current_files(self, name: str) -> list[dict[str, Any]]:
        """The Parquet files that make up table ``name`` at this snapshot (and their delete
        files, if any: none after :meth:`compact`)."""
        rows = self.run("SELECT data_file, data_file_size_bytes, delete_file FROM "
                        "ducklake_list_files('lake', ?, snapshot_version => ?)",
                        [name, self.snapshot_id()])
        return [{"arquivo": r[0], "bytes": r[1], "exclusoes": r[2]} for r in rows]

    # ----------------------------------------------------------------- queries
    def batches(self, *, active_only: bool = False) -> list[dict[str, Any]]:
        where_sql = " WHERE status IS DISTINCT FROM 'substituído'" if active_only else ""
        return self._dicts(f"SELECT * FROM batches{where_sql} ORDER BY batch_id")

    def quarantine(self, batch_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where_sql, params = (("WHERE batch_id = ?", [batch_id]) if batch_id is not None
                             else ("", []))
        return self._dicts(f"SELECT * FROM quarantine {where_sql} ORDER BY batch_id, "
                           "source_row, field, reason LIMIT ?", [*params, int(limit)])

    def quarantine_reasons(self, batch_id: int | None = None) -> list[dict[str, Any]]:
        where_sql, params = (("WHERE batch_id = ?", [batch_id]) if batch_id is not None
                             else ("", []))
        return self._dicts(
            f"SELECT batch_id, source_file, field, reason, count(*) AS rows FROM quarantine "
            f"{where_sql} GROUP BY ALL ORDER BY batch_id, rows DESC", params)

    def counts(self) -> dict[str, int]:
        out = {}
        present = set(self.table_names())
        for table in TABLES:   # a lake made before a table was declared reads it as empty
            out[table.name] = (int(self.scalar(f"SELECT count(*) FROM {ident(table.name)}")
                                   or 0) if table.name in present else 0)
        return out

    def run(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Execute a statement and consume its result (DuckDB keeps a pending result
        otherwise, which blocks the next statement on the connection)."""
        return self.con.execute(sql, params or []).fetchall()

    def insert(self, name: str, data: pa.Table) -> None:
        """Append an Arrow table to ``name``, matching columns by name."""
        self.con.register("rmds_incoming", data)
        try:
            self.run(f"INSERT INTO {ident(name)} BY NAME SELECT * FROM rmds_incoming")
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
    def export_parquet(self, outdir: Path, include_protected: bool = False,
                       engine: str = "duckdb") -> dict[str, int]:
        """Canonical tables as Hive-partitioned Parquet (``table/source_system=…/ano=…``),
        readable by Spark and DuckDB as they are. Protected tables only on request. Written
        by ``engine`` (``duckdb``: this connection; ``spark``: Spark, from the lake's data
        files)."""
        from rmds.engine import open_engine

        outdir.mkdir(parents=True, exist_ok=True)
        if include_protected:
            # identity data: the folder is its owner's before anything is written in it
            os.chmod(outdir, 0o700)
        written: dict[str, int] = {}
        chosen = [t for t in TABLES if t.name not in PROTECTED or include_protected]
        counts = {t.name: int(self.scalar(f"SELECT count(*) FROM {ident(t.name)}") or 0)
                  for t in chosen}
        chosen = [t for t in chosen if counts[t.name]]
        writer = open_engine(engine, self, [t.name for t in chosen])
        try:
            for table in chosen:
                if table.name in PERIOD_COLUMNS:
                    year_sql = f"coalesce(year({ident(PERIOD_COLUMNS[table.name])}), 0)"
                elif table.name in COMPETENCE_COLUMNS:
                    year_sql = ("coalesce(TRY_CAST(left("
                                f"{ident(COMPETENCE_COLUMNS[table.name])}, 4) AS INTEGER), 0)")
                else:
                    year_sql = "0"
                writer.write_partitioned(
                    f"SELECT *, CAST({year_sql} AS INTEGER) AS ano FROM {ident(table.name)}",
                    outdir / table.name, ["source_system", "ano"])
                written[table.name] = counts[table.name]
        finally:
            writer.close()
            if include_protected:
                make_private(outdir)
        return written
