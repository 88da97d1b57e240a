"""sign-in attempts, for rate limiting across replicas

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signin_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_signin_attempts_key_at", ["key", "at"], unique=False)
        batch_op.create_index("ix_signin_attempts_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signin_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_signin_attempts_at")
        batch_op.drop_index("ix_signin_attempts_key_at")
    op.drop_table("signin_attempts")
