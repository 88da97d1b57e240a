"""An index on the renditions' sha256

A member upload is refused when its bytes are a rendition of an item already on the network
that is not the member's own (an agency clip a shared hot folder picked up): the hub looks the
upload's sha256 up among every rendition, at the upload's creation and when its last byte has
arrived. Without an index that read the whole table each time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00.000000
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.create_index("ix_renditions_sha256", ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.drop_index("ix_renditions_sha256")
