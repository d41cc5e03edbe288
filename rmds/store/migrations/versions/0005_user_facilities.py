"""The facilities (CNES) a health professional works in: their work lists' teams."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("facilities", sa.String(400)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("facilities")
