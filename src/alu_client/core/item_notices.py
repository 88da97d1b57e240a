"""What the agency changed about items this workstation has, for the user to be told.

A withdrawal of an item whose files are in the Library, or whose download was under way or
queued (``withdrawn.end_downloads`` has just canceled it), is told (the tray, the status bar);
one of an item this workstation never took is only marked on its row. A correction is told
when it changed the usage restrictions of an item this workstation has."""

from __future__ import annotations

from dataclasses import dataclass

from .hub import Item
from .library.items import Before

WITHDRAWN, CORRECTED = "withdrawn", "corrected"


@dataclass(frozen=True)
class ItemNotice:
    """``kind``: ``WITHDRAWN`` or ``CORRECTED`` (its restrictions changed); ``before``: its
    usage restrictions before the change; ``canceled``: its downloads that ended with it."""

    item: Item
    kind: str
    before: str = ""
    canceled: int = 0


def notices(
    items: list[Item], before: dict[str, Before], has_files: set[str], canceled: dict[str, int]
) -> list[ItemNotice]:
    """The changes to tell among ``items`` (just updated): newly withdrawn ones this
    workstation has (files in ``has_files``, or downloads ``canceled``), and corrected ones
    it has whose restrictions changed."""
    found: list[ItemNotice] = []
    for item in items:
        was = before.get(item.id)
        taken = item.id in has_files or canceled.get(item.id, 0) > 0
        if not taken or was is None:
            continue
        if item.withdrawn and not was.withdrawn:
            found.append(ItemNotice(item, WITHDRAWN, was.restrictions, canceled.get(item.id, 0)))
        elif not item.withdrawn and was.restrictions.strip() != item.restrictions.strip():
            found.append(ItemNotice(item, CORRECTED, was.restrictions))
    return found
