"""An upload's ``Upload-Metadata`` kept as the client sent it

tus core: a HEAD's ``Upload-Metadata`` is the value "as specified by the Client during the
creation". The hub gave back the decoded fields encoded again: a client that sent unpadded
base64 (allowed), another key order or spaces got different bytes back. Uploads created
before this revision have none (NULL) and are encoded again, as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 21:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("meta_header", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_column("meta_header")
