"""The times the statistics count by: when a member upload's bytes arrived, when a member was
disabled

``items.received_at`` and ``uploads.received_at``: a member upload counts on the day its last
byte reached the hub, not the day the hub finished publishing it (the proxy of a file that
arrived before midnight was made after it; a crash republished it the next morning).
``members.disabled_at``: a member's pledge is judged only on the days it was a member. All
nullable: items from before this revision have none, and the statistics count them by
``published_at``, as before. A member disabled before it is taken as disabled at the upgrade
(the hub kept no date): listed and judged up to then as before, no longer after.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:00:00.000000
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("uploads", sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("members", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    now = dt.datetime.now(dt.UTC)
    if op.get_bind().dialect.name == "sqlite":  # stored without a zone, as models.UTCDateTime does
        now = now.replace(tzinfo=None)
    members = sa.table(
        "members",
        sa.column("active", sa.Boolean()),
        sa.column("disabled_at", sa.DateTime(timezone=True)),
    )
    op.execute(members.update().where(members.c.active.is_(False)).values(disabled_at=now))


def downgrade() -> None:
    op.drop_column("members", "disabled_at")
    op.drop_column("uploads", "received_at")
    op.drop_column("items", "received_at")
