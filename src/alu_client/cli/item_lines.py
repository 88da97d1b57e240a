"""Items as `alu feed` and `alu library search` print them: one line each, or JSON."""

from __future__ import annotations

from typing import Any

from ..core.library import LibraryItem
from ..core.plain_text import one_line
from .common import (
    print_json,
)
from .times import minute

PRIORITY_MARK = {"flash": "FLASH ", "urgent": "URGENT", "routine": "      "}


def _item_json(li: LibraryItem) -> dict[str, Any]:
    it = li.item
    return {
        "id": it.id,
        "seq": it.seq,
        "kind": it.kind,
        "title": it.title,
        "slug": it.slug,
        "dateline": it.dateline,
        "published_at": it.published_at.isoformat(),
        "language": it.language,
        "category": it.category,
        "region": it.region,
        "country": it.country,
        "priority": it.priority,
        "duration": it.duration,
        "restrictions": it.restrictions,
        "script": it.script,
        "shotlist": it.shotlist,
        "read": li.read,
        # what the agency did since it published it (a withdrawn item: do not use it)
        "revision": it.revision,
        "corrected_at": it.corrected_at.isoformat() if it.corrected_at else None,
        "correction_note": it.correction_note,
        "withdrawn_at": it.withdrawn_at.isoformat() if it.withdrawn_at else None,
        "withdrawn_reason": it.withdrawn_reason,
        "files": [
            {"rendition": f.rendition, "path": str(f.path), "state": f.state} for f in li.files
        ],
        "renditions": [{"name": r.name, "size": r.size, "sha256": r.sha256} for r in it.renditions],
    }


def print_items(items: list[LibraryItem], as_json: bool, *, utc: bool = False) -> None:
    if as_json:
        print_json([_item_json(li) for li in items])
        return
    for li in items:
        it = li.item
        when = minute(it.published_at, utc)
        gone = [f for f in li.files if f.state == "missing"] if not li.downloaded else []
        have = "✓" if li.downloaded else ("✗" if gone else " ")
        # the hub's words, on one line without what a terminal would obey (ESC sequences,
        # a CR and LF that forge an "alu:" line, direction overrides)
        print(
            f"{have} {PRIORITY_MARK.get(it.priority, '')} {when}  {one_line(it.language):2}  "
            f"{one_line(it.id)}  {one_line(it.title)}"
        )
        if it.withdrawn_at is not None:  # never left out either: it must not be used
            at = minute(it.withdrawn_at, utc)
            print(
                f"      WITHDRAWN by the agency {at}, do not use: {one_line(it.withdrawn_reason)}"
            )
        elif it.corrected_at is not None:
            at = minute(it.corrected_at, utc)
            print(f"      Corrected {at}: {one_line(it.correction_note)}")
        if it.restrictions:  # what may not be aired, where: never left out of a listing
            print(f"      Restrictions: {one_line(it.restrictions)}")
        for f in gone:  # it was here: a librarian looking for it is told it went, and why
            print(
                f"      Missing: {one_line(str(f.path))} ({one_line(f.reason)}); "
                f"alu get {one_line(it.id)}{' --proxy' if f.rendition == 'proxy' else ''} "
                "fetches it again"
            )
