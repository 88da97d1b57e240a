"""A Library search while the media worker probes files (search finding 5): each probed file
is told to the model (``refresh_items``, as the bridge does, at most every 300 ms) and read
again; a search typed meanwhile shows its first page at once, not after those reads — they
took 7–29 s each on a 15,000-item library and the search's page waited behind them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from alu_client.core.library import Library, Query, record_file, upsert_items
from alu_client.core.store import Store
from alu_client.ui.models.items import ItemsModel
from tests.gui.test_feed_model import PROFILE, make_item

N = 3000
# the Library tab's query: items with a file here (or recorded missing)
LIBRARY = Query(downloaded=True, with_missing=True)


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    store = Store(tmp_path / "library.sqlite3")
    words = ("floods", "election", "drought")
    items = [make_item(n, title=f"Kenya {words[n % 3]} report {n}") for n in range(1, N + 1)]
    for start in range(0, N, 500):
        upsert_items(store, PROFILE, items[start : start + 500])
    with store.write() as conn:  # every file downloaded by `alu get`, not probed yet
        for it in items:
            record_file(conn, PROFILE, it.id, "broadcast", f"/v/{it.id}.mp4", 1000, "ab" * 32)
    yield Library(store, PROFILE)
    store.close()


def test_a_search_shows_its_first_page_at_once_while_files_are_probed(
    qtbot: Any, library: Library
) -> None:
    model = ItemsModel(library, page_size=100)
    model.set_query(LIBRARY)
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    probed = iter(range(N, 0, -1))
    worker = QTimer()  # the bridge's pace: the items probed in the last 300 ms
    worker.setInterval(300)
    worker.timeout.connect(lambda: model.refresh_items([f"it{next(probed):06d}" for _ in range(5)]))
    worker.start()
    try:
        for before, word in (("report", "floods"), ("Kenya", "drought"), ("report", "election")):
            model.set_query(Query(**{**LIBRARY.__dict__, "text": before}))
            qtbot.waitUntil(lambda: model.rowCount() == 100 and not model._busy)
            # the files probed in the last 300 ms: their read starts
            model.refresh_items([f"it{next(probed):06d}" for _ in range(5)])
            assert model._busy
            started = time.monotonic()
            model.set_query(Query(**{**LIBRARY.__dict__, "text": word}))
            # (the page itself takes milliseconds; behind the probe's read it took seconds)
            qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=5000)
            assert time.monotonic() - started < 2
    finally:
        worker.stop()
        model.tasks.wait_for_done()
        model.thumbnails.wait_for_done()
