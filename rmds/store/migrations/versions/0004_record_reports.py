"""Citizens' reports of a wrong record (the municipality's review queue)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "record_reports",
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
    op.create_index("ix_record_reports_municipality", "record_reports",
                    ["municipality", "status"])


def downgrade() -> None:
    op.drop_index("ix_record_reports_municipality", "record_reports")
    op.drop_table("record_reports")
