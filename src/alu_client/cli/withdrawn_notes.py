"""What `alu get` and `alu sync` say of the agency's withdrawals and corrections: the item
`alu get` just downloaded may have been withdrawn meanwhile (its file is kept, said "do not
use it", with its own exit status), and `alu sync` names the items of the library it found
withdrawn or corrected, and the downloads that ended for it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ..core import hub
from ..core.hub import Item
from ..core.plain_text import one_line
from ..core.services import Services
from ..core.sync import ChangesRead
from .common import WITHDRAWN_STATUS, fmt_bytes

log = logging.getLogger(__name__)


def read_changes(services: Services) -> None:
    """Read the hub's changes as the sync does (the library learns of a withdrawal that
    happened while a download ran; `alu feed` then shows it). Best effort: offline, the
    next sync reads them."""
    try:
        services.feed_sync().read_changes()
    except hub.HubError as e:
        log.info("the hub's changes were not read: %s", e)


def withdrawn_since(services: Services, item_id: str) -> Item | None:
    """The item, when the library knows it withdrawn (after ``read_changes``), else None."""
    li = services.library.get(item_id)
    return li.item if li is not None and li.item.withdrawn else None


def say_downloaded_but_withdrawn(item: Item, path: Path, size: int) -> int:
    """`alu get`'s end when the agency withdrew the item while it downloaded: the file is
    kept (verified; the user decides), its path said on stderr only — stdout, a script's
    path to use, stays empty — and the status is ``WITHDRAWN_STATUS``."""
    when = item.withdrawn_at.strftime("%Y-%m-%d %H:%M UTC") if item.withdrawn_at else ""
    reason = one_line(item.withdrawn_reason) or "no reason given"
    print(
        f"alu: {one_line(path.name)}: {fmt_bytes(size)}, sha256 verified, kept at {path}",
        file=sys.stderr,
    )
    print(
        f"alu: warning: the agency withdrew this item while it downloaded ({when}): {reason}. "
        "Do not use it; delete the file when you no longer need it.",
        file=sys.stderr,
    )
    return WITHDRAWN_STATUS


#: the most items a line of `alu sync` names; the others are counted, `alu feed` lists them
TITLES_NAMED = 5


def _titles(items: list[Item], detail: str) -> str:
    """The first ``TITLES_NAMED`` items named, with their detail; the rest counted, and where
    to see them (150 corrections were one line of 12,000 characters)."""
    named = ", ".join(
        f"{one_line(i.title or i.id)} ({one_line(getattr(i, detail)) or '-'})"
        for i in items[:TITLES_NAMED]
    )
    more = len(items) - TITLES_NAMED
    return named if more <= 0 else f"{named} and {more} more (`alu feed` lists them)"


def changes_lines(changes: ChangesRead) -> list[str]:
    """`alu sync`'s lines for what the hub's changes did to this library ([] when nothing):
    "1 item withdrawn by the agency: TITLE (REASON); 1 download canceled." and "1 item
    corrected: TITLE (NOTE)."."""
    lines = []
    gone, fixed, ended = changes.withdrawn, changes.corrected, changes.downloads_canceled
    if gone:
        items = "1 item" if len(gone) == 1 else f"{len(gone)} items"
        line = f"{items} withdrawn by the agency: {_titles(gone, 'withdrawn_reason')}"
        if ended:
            line += f"; {ended} download{'' if ended == 1 else 's'} canceled"
        lines.append(line + ".")
    if fixed:
        items = "1 item" if len(fixed) == 1 else f"{len(fixed)} items"
        lines.append(f"{items} corrected: {_titles(fixed, 'correction_note')}.")
    return lines
