"""Alembic environment: the connection is handed over by :func:`rmds.store.open_store`."""

from __future__ import annotations

from alembic import context

from rmds.store.db import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA)
with context.begin_transaction():
    context.run_migrations()
