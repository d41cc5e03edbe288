"""Tables of the operational store and opening it (migrations included)."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from rmds.exceptions import ConfigurationError

__all__ = ["AUDIT", "LOGIN_THROTTLE", "METADATA", "RECORD_REPORTS", "SESSIONS", "USERS", "Store",
           "open_store"]

METADATA = sa.MetaData()

USERS = sa.Table(
    "users", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(80), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("scope_level", sa.String(20)),
    sa.Column("scope_code", sa.String(40)),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # migration 0005: a health professional's facilities (CNES, comma-separated)
    sa.Column("facilities", sa.String(400)),
)

SESSIONS = sa.Table(
    "sessions", METADATA,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

AUDIT = sa.Table(
    "audit_log", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("resource", sa.String(400), nullable=False),
    sa.Column("territory", sa.String(80)),
    sa.Column("origin", sa.String(80)),
    sa.Column("reason", sa.String(400)),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # migration 0003: the sequence number and how the entry is sealed (1: SHA-256 over
    # '|'-joined fields, the first scheme; 2: HMAC-SHA256 over canonical JSON)
    sa.Column("seq", sa.Integer, unique=True),
    sa.Column("scheme", sa.Integer, nullable=False, default=1),
)

PROJECTS = sa.Table(
    "projects", METADATA,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("unit", sa.String(40), nullable=False),
    sa.Column("challenge", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("objectives", sa.String(200), nullable=False),
    sa.Column("indicators", sa.String(600), nullable=False),
)
MILESTONES = sa.Table(
    "milestones", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(80), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("due_date", sa.Date),
    sa.Column("done_on", sa.Date),
    sa.UniqueConstraint("project_id", "name"),
)
STATUS_UPDATES = sa.Table(
    "status_updates", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(80), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("week", sa.Date, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("percent", sa.Integer, nullable=False),
    sa.Column("note", sa.String(1000), nullable=False),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
CRITICAL_POINTS = sa.Table(
    "critical_points", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(80), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("owner_unit", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("escalated_on", sa.Date),
    sa.Column("resolution", sa.String(1000)),
    sa.Column("resolved_on", sa.Date),
)
DELIVERIES = sa.Table(
    "deliveries", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(80), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("milestone_id", sa.Integer, sa.ForeignKey("milestones.id")),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("delivered_on", sa.Date, nullable=False),
    sa.Column("reviewed", sa.Boolean, nullable=False),
)

# a citizen's report that a record of theirs is wrong: the review queue of the municipality
# of residence (rmds.care.reports)
RECORD_REPORTS = sa.Table(
    "record_reports", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("person_id", sa.BigInteger, nullable=False),
    sa.Column("municipality", sa.String(7)),
    sa.Column("text", sa.String(2000), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("resolved_by", sa.String(80)),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
)
sa.Index("ix_record_reports_municipality", RECORD_REPORTS.c.municipality,
         RECORD_REPORTS.c.status)

# failed logins, shared by every server process (rmds.api.security.LoginGuard): one row
# per throttled key (kind: par, origem, conta); wall-clock seconds (migration 0006)
LOGIN_THROTTLE = sa.Table(
    "login_throttle", METADATA,
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
)
sa.Index("ix_login_throttle_last_at", LOGIN_THROTTLE.c.last_at)

MIGRATIONS = Path(__file__).with_name("migrations")


class Store:
    """An open operational store."""

    def __init__(self, engine: sa.Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    def close(self) -> None:
        self.engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600; SQLite gives its journal
    files the same mode), and tighten one left world-readable by an older version."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            path.chmod(0o600)
    except OSError as error:
        raise ConfigurationError(f"não foi possível criar o banco operacional {path}: "
                                 f"{error.strerror}") from None


def open_store(url: str) -> Store:
    """Open (and migrate to the latest schema) the store at ``url``."""
    try:
        # a SQLite file never drops a pooled connection: no ping before each use
        engine = sa.create_engine(url, future=True,
                                  pool_pre_ping=not url.startswith("sqlite"))
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                _private_file(Path(path))
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except sa.exc.SQLAlchemyError as error:
        raise ConfigurationError(f"não foi possível abrir o banco operacional {url}: "
                                 f"{str(error).splitlines()[0]}") from None
    return Store(engine, url)
