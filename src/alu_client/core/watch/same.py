"""The same bytes sent from this data folder before a hot folder's file is taken: by a hot
folder (its ``watch_files`` rows), or by hand — `alu put`, the app's upload form (their uploads
to the profile's hub, in ``transfers``). A file in a hot folder that was also put by hand was
published twice: the hot folder only knew its own uploads (docs tester, hotdup)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..store import Store
from ..store.transfers import PROFILE_SQL

#: a transfer's states while its bytes are on their way (as the upload form counts them)
_ON_ITS_WAY = ("queued", "active", "paused")

#: this profile's uploads of the bytes not made by a hot folder (those have their rows: the
#: option the service gives them, or a row's transfer), sent or on their way; not failed or
#: canceled ones, nor one the hub refused once it had the bytes
_BY_HAND = (
    "SELECT id, state, label, source FROM transfers WHERE direction = 'upload'"  # noqa: S608 - a constant
    " AND lower(sha256) = ? AND state IN ('queued', 'active', 'paused', 'done')"
    f" AND {PROFILE_SQL} = ?"
    " AND (CASE WHEN json_valid(options) THEN json_type(options, '$.hot_folder') END) IS NULL"
    " AND id NOT IN (SELECT transfer_id FROM watch_files WHERE transfer_id IS NOT NULL)"
    " AND NOT (state = 'done' AND (CASE WHEN json_valid(result)"
    " THEN json_extract(result, '$.state') END) IS 'failed')"
    " ORDER BY state = 'done', id DESC LIMIT 1"
)
#: this profile's hot folders' files of the bytes, sent or uploading
_WATCHED = (
    "SELECT wf.id, wf.path, wf.state FROM watch_files wf"
    " JOIN watch_folders f ON f.id = wf.folder_id"
    " WHERE f.profile = ? AND wf.sha256 = ? AND wf.state IN ('uploading', 'sent')"
    " ORDER BY wf.state = 'uploading' DESC, wf.id LIMIT 1"
)


@dataclass(frozen=True)
class SameContent:
    """An upload of the same bytes: a hot folder's row (``kind`` "watch") or a transfer queued
    by hand ("transfer")."""

    kind: str
    id: int
    #: uploading (queued, active, paused): its end decides; else sent
    on_its_way: bool
    #: what ``MSG_SAME_CONTENT`` says it was sent as: the first file's name, or the title the
    #: upload by hand was given
    first: str
    #: for the log: where the bytes went from
    where: str


def same_content(store: Store, profile: str, sha: str) -> SameContent | None:
    """The upload of ``sha``'s bytes from this data folder that decides what a hot folder's
    file of them is: one on its way first (a hot folder's, then one by hand: moved to the sent
    folder meanwhile, the file being put by hand would fail), else one sent."""
    found = [x for x in (_watched(store, profile, sha), _by_hand(store, profile, sha)) if x]
    found.sort(key=lambda x: not x.on_its_way)  # (stable: a hot folder's first)
    return found[0] if found else None


def on_its_way(store: Store, kind: str, ident: int) -> bool:
    """Whether the upload ``same_content`` found is still on its way."""
    if kind == "watch":
        row = store.query_one("SELECT state FROM watch_files WHERE id = ?", (ident,))
        return row is not None and row[0] == "uploading"
    row = store.query_one("SELECT state FROM transfers WHERE id = ?", (ident,))
    return row is not None and row[0] in _ON_ITS_WAY


def _watched(store: Store, profile: str, sha: str) -> SameContent | None:
    r = store.query_one(_WATCHED, (profile, sha))
    if r is None:
        return None
    path = str(r["path"])
    return SameContent("watch", int(r["id"]), r["state"] == "uploading", Path(path).name, path)


def _by_hand(store: Store, profile: str, sha: str) -> SameContent | None:
    r = store.query_one(_BY_HAND, (sha.lower(), profile))
    if r is None:
        return None
    title = str(r["label"] or "")
    first = f"“{title}”" if title else Path(str(r["source"])).name
    where = f"transfer {int(r['id'])} ({r['state']}, queued by hand: alu put or the upload form)"
    return SameContent("transfer", int(r["id"]), r["state"] in _ON_ITS_WAY, first, where)
