"""Each item's feed JSON, made once when it is published

Items never change once in the feed, and every workstation of every member reads each of them:
``items.feed_json`` holds the item as the API serves it (``ItemOut``), with its URLs relative to
the hub (the base URL of the request is put in front when serving). Items published before this
revision have none; the hub makes theirs when first served (``alu_hub.feed``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 16:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("feed_json", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("items", "feed_json")
