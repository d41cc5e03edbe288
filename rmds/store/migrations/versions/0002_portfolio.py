"""The strategic portfolio: projects, milestones, weekly status, critical points, deliveries."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("challenge", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("objectives", sa.String(200), nullable=False),
        sa.Column("indicators", sa.String(600), nullable=False),
    )
    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(80), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("due_date", sa.Date),
        sa.Column("done_on", sa.Date),
        sa.UniqueConstraint("project_id", "name"),
    )
    op.create_table(
        "status_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(80), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("percent", sa.Integer, nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "critical_points",
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
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(80), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("milestone_id", sa.Integer, sa.ForeignKey("milestones.id")),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("delivered_on", sa.Date, nullable=False),
        sa.Column("reviewed", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for name in ("deliveries", "critical_points", "status_updates", "milestones", "projects"):
        op.drop_table(name)
