"""64-bit keys for the tables that grow with traffic, on PostgreSQL

``history.seq`` and ``signin_attempts.id`` were INTEGER: on PostgreSQL a 32-bit column fed by a
32-bit sequence, which a flood of sign-ins (every attempt takes an id, blocked ones too) could
run out of in weeks, after which every sign-in fails; a ``GET /history?after=`` beyond 2**31
failed too. SQLite's INTEGER PRIMARY KEY is 64-bit already: nothing to do there.

On PostgreSQL the history table is rewritten (it is locked meanwhile: seconds per million
events).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KEYS = (("history", "seq"), ("signin_attempts", "id"))


def _change(to: sa.types.TypeEngine[int], sequence_type: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    for table, column in KEYS:
        op.alter_column(table, column, type_=to, existing_nullable=False)
        if bind.dialect.name == "postgresql":
            # SERIAL's sequence is typed too (AS integer): its maximum follows the new type
            sequence = bind.execute(
                sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}
            ).scalar()
            if sequence:
                op.execute(f"ALTER SEQUENCE {sequence} AS {sequence_type}")


def upgrade() -> None:
    _change(sa.BigInteger(), "bigint")


def downgrade() -> None:
    _change(sa.Integer(), "integer")
