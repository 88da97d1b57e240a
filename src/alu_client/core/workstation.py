"""This data folder's workstation id: a random id made once and kept in its store (two data
folders on one machine are two workstations). Hot-folder claims name their holder by it
(``watch.claims``), and history events carry it to the hub, which counts a member's
workstations by it (two machines with the same host name are two)."""

from __future__ import annotations

import json
import uuid

from .store import Store

#: the ``settings`` key of this data folder's workstation id (named when only the hot folders
#: used it)
WORKSTATION_KEY = "watch.workstation_id"


def workstation_id(store: Store) -> str:
    """This data folder's workstation id: a random UUID made the first time, kept in the store
    (two data folders on one machine are two workstations)."""
    with store.write() as c:
        c.execute(
            "INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)",
            (WORKSTATION_KEY, json.dumps(uuid.uuid4().hex)),
        )
        row = c.execute("SELECT value FROM settings WHERE key = ?", (WORKSTATION_KEY,)).fetchone()
    try:
        value = json.loads(row[0])
    except (TypeError, ValueError):
        value = None
    if isinstance(value, str) and value:
        return value
    fresh = uuid.uuid4().hex  # (damaged: made again)
    with store.write() as c:
        c.execute(
            "UPDATE settings SET value = ? WHERE key = ?", (json.dumps(fresh), WORKSTATION_KEY)
        )
    return fresh
