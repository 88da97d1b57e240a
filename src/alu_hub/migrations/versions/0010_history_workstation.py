"""The workstation an event came from: the random id a data folder makes once

``alu-hub items show`` counted a member's workstations by name, the host name a workstation
signs in with: two cloned newsroom PCs named alike counted as one. A client that knows its
workstation id sends it with each event; events of older clients have none (NULL), and are
counted by name as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 11:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("history", sa.Column("workstation", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_column("workstation")
