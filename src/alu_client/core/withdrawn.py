"""What a workstation does with an item the agency withdrew: its downloads end, canceled with
the agency's reason and never tried again, and it is not downloaded again (`alu get`, the
auto-download rules). Its files already in the Library stay: the Feed, the Library and the
item's detail say "withdrawn" with the date and the reason, and the user deletes them there."""

from __future__ import annotations

import logging

from .hub import Item
from .plain_text import one_line
from .store.transfers import profile_of
from .transfers.base import withdrawn_message
from .transfers.queue import TransferQueue

log = logging.getLogger(__name__)

#: the states of a download that has not ended (a failed one may be retried: it ends too)
NOT_ENDED = ("queued", "active", "paused", "failed")


class WithdrawnItem(Exception):
    """An item the agency withdrew was asked for: nothing is queued."""

    def __init__(self, item: Item) -> None:
        when = item.withdrawn_at.strftime("%Y-%m-%d %H:%M UTC") if item.withdrawn_at else ""
        reason = " ".join(item.withdrawn_reason.split()) or "no reason given"
        stop = "" if reason[-1] in ".!?؟" else "."
        super().__init__(
            f"{item.title or item.id!r} was withdrawn by the agency ({when}): {reason}{stop} "
            "Do not use it; nothing was downloaded."
        )
        self.item = item


def end_downloads(queue: TransferQueue, item: Item, profile: str) -> list[int]:
    """Cancel ``profile``'s downloads of ``item`` (any rendition) that have not ended, each
    saying the agency's reason; returns their ids."""
    error = withdrawn_message(item.withdrawn_reason)
    ended = []
    for t in queue.transfers.all(NOT_ENDED, "download"):
        if t.item_id != item.id or profile_of(t) != profile:
            continue
        queue.cancel_withdrawn(t.id, error)
        ended.append(t.id)
    if ended:
        log.info("item %s withdrawn by the agency: %d download(s) canceled", item.id, len(ended))
    return ended


def log_changed(items: list[Item]) -> None:
    """The engine's log (WARNING: on `alu watch run`'s stderr too) names each item of the
    library the agency withdrew or corrected, as `alu sync` does: a station without a screen
    said nothing of it, and the `alu sync` after had nothing left to say."""
    for item in items:
        title = one_line(item.title or item.id)
        if item.withdrawn:
            reason = one_line(item.withdrawn_reason) or "no reason given"
            log.warning("item withdrawn by the agency, do not use it: %s (%s), id %s",
                        title, reason, item.id)  # fmt: skip
        else:
            note = one_line(item.correction_note) or "-"
            log.warning("item corrected by the agency: %s (%s), id %s", title, note, item.id)
