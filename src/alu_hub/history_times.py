"""When a workstation's download counts: its time on the hub's clock, never before its item.

A workstation's clock is corrected by the offset of the batch's ``sent_at`` only when that is
more than ``api.CLOCK_RIGHT_WITHIN`` off (less is the request's way here). A clock slow by less
than that still reports a download of a push published at 00:00:30 and fetched at once as
ended the day before — before the item existed. So a download event's time (``occurred_at``,
what the statistics count) is at least its item's publication; it is at most the hub's now
already (api.post_history).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Item


def not_before_publication(s: Session, rows: list[dict[str, Any]]) -> None:
    """Move each download event's ``occurred_at`` (rows as api.post_history stores them) up to
    its item's ``published_at`` when it is earlier; events of items unknown here stay."""
    ids = {r["item_id"] for r in rows if r["item_id"] and r["type"].startswith("download_")}
    if not ids:
        return
    published = dict(s.execute(select(Item.id, Item.published_at).where(Item.id.in_(ids))).all())
    for r in rows:
        when = published.get(r["item_id"]) if r["type"].startswith("download_") else None
        if when is not None and r["occurred_at"] < when:
            r["occurred_at"] = when
