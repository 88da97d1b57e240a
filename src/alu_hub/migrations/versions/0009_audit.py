"""The audit trail of the actions that change the hub

Who published, withdrew or corrected an item, and who added, changed, disabled, signed out or
unlocked a member, when: the operator's commands (``via`` "cli": the OS user and host) and the
agency's API calls (``via`` "api": the agency account). One row per action, written in the
action's own transaction.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        # BIGINT on PostgreSQL, INTEGER (the rowid, 64-bit) on SQLite: as models.BigKey
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_target_at", "audit", ["target", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_target_at", table_name="audit")
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_table("audit")
