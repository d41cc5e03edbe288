"""Audit entries get a sequence number and a sealing scheme; user names are unique without
regard to case.

Entries already written keep their first scheme (1: SHA-256 over ``|``-joined fields) and
are numbered in the order they were written; :func:`rmds.store.audit.verify` checks them as
before, and the first sealed entry written after them covers their last hash.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rmds.exceptions import ConfigurationError

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    bind = op.get_bind()
    names = [str(r[0]) for r in bind.execute(sa.text("SELECT username FROM users"))]
    seen: dict[str, str] = {}
    for name in names:
        if name.lower() in seen:
            raise ConfigurationError(f"usuários que diferem só em maiúsculas e minúsculas: "
                               f"{seen[name.lower()]} e {name}; desative e renomeie um deles "
                               "antes de atualizar o rmds")
        seen[name.lower()] = name
    op.add_column("audit_log", sa.Column("seq", sa.Integer))
    op.add_column("audit_log", sa.Column("scheme", sa.Integer, nullable=False,
                                         server_default="1"))
    ids = [int(r[0]) for r in bind.execute(sa.text("SELECT id FROM audit_log ORDER BY id"))]
    for seq, ident in enumerate(ids, 1):
        bind.execute(sa.text("UPDATE audit_log SET seq = :seq WHERE id = :id"),
                     {"seq": seq, "id": ident})
    op.create_index("ix_audit_log_seq", "audit_log", ["seq"], unique=True)
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")],
                    unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_username_lower", "users")
    op.drop_index("ix_audit_log_seq", "audit_log")
    with op.batch_alter_table("audit_log") as table:
        table.drop_column("scheme")
        table.drop_column("seq")
