"""What the app tells of a finished download: one notice per item, once its last file is in.

A rule that fetches the proxy then the broadcast file finishes two downloads per item; a
notification for each was two identical balloons per item (120 a day for 60 pushes).
``download_done`` reads what a finished download is of: its item, its rule, the item's usage
restrictions, and whether another download of the same item is still to finish (the notice
then waits for that one). The app gathers the notices of items finishing close together into
one balloon (``ui/download_notices.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .store import Store
from .store.transfers import PROFILE_SQL, Transfer, profile_of

#: the states of a download still to finish by itself (a failed one waits for the user)
_ON_ITS_WAY = ("queued", "active", "paused")


@dataclass(frozen=True)
class DownloadDone:
    """A finished download, as a notice tells it."""

    #: the item's id, or ``transfer:N`` for a download of no item (a plain URL)
    key: str
    title: str
    #: the rendition downloaded ("broadcast", "proxy"; "" for none)
    rendition: str
    #: the rule that queued it ("" when asked by hand)
    rule: str
    #: the item's usage restrictions ("" when it has none)
    restrictions: str
    #: another download of the same item is queued, running or paused: the item is told when
    #: that one is in
    more_to_come: bool


def download_done(store: Store, tid: int) -> DownloadDone | None:
    """The notice of download ``tid`` if it is done, else None."""
    row = store.query_one("SELECT * FROM transfers WHERE id = ?", (tid,))
    if row is None:
        return None
    t = Transfer.from_row(row)
    if t.direction != "download" or t.state != "done":
        return None
    rule = t.options.get("rule")
    restrictions = t.options.get("restrictions")
    title = t.label
    profile = profile_of(t)
    if not t.item_id:
        return DownloadDone(f"transfer:{t.id}", title, t.rendition or "", "", "", False)
    item = store.query_one(
        "SELECT title, restrictions FROM items WHERE id = ? AND profile = ?",
        (t.item_id, profile),
    )
    if not isinstance(restrictions, str) and item is not None:
        # (a download queued before its restrictions were kept with it)
        restrictions = str(item["restrictions"] or "")
    if item is not None and item["title"]:
        title = str(item["title"])
    others = store.query_one(
        "SELECT 1 FROM transfers WHERE direction = 'download' AND item_id = ? AND id != ?"  # noqa: S608 - constant SQL only
        f" AND state IN ({','.join('?' * len(_ON_ITS_WAY))}) AND {PROFILE_SQL} = ? LIMIT 1",
        (t.item_id, t.id, *_ON_ITS_WAY, profile),
    )
    return DownloadDone(
        t.item_id,
        title,
        t.rendition or "",
        rule if isinstance(rule, str) else "",
        restrictions.strip() if isinstance(restrictions, str) else "",
        others is not None,
    )
