"""The operational store: users, sessions, the audit log (and, later, the portfolio).

SQLite by default (a file under the data home), PostgreSQL in production by URL
(``postgresql+psycopg://user@host/db``); the schema is created and upgraded by Alembic
migrations (``rmds/store/migrations``), run on every open.
"""

from rmds.store.db import Store, open_store

__all__ = ["Store", "open_store"]
