"""``Library.among`` — what the Library reads after a file is probed or downloaded — costs what
reading those few items does, not what the whole library does (search finding 5: with 15,000
items it took 12 s per call, the app's store waiting on it, and each search showed an empty
list for as long). Cost is counted in SQLite's virtual machine steps, not in seconds."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alu_client.core.library import Library, Query, record_file, upsert_items
from alu_client.core.store import Store
from tests.client.test_library import PROFILE, make_item

N = 1500
# every item has the words and a file: the query's own lists are as long as the library
LIBRARY_QUERY = Query(text="floods", downloaded=True, with_missing=True)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    store = Store(tmp_path_factory.mktemp("among") / "library.sqlite3")
    items = [make_item(seq, title=f"Kenya floods report {seq}") for seq in range(1, N + 1)]
    for start in range(0, N, 500):
        upsert_items(store, PROFILE, items[start : start + 500])
    with store.write() as conn:
        for it in items:
            record_file(conn, PROFILE, it.id, "broadcast", f"/v/{it.id}.mp4", 10, "ab" * 32)
    yield Library(store, PROFILE)
    store.close()


def steps(library: Library, call: Callable[[], Any]) -> int:
    """SQLite VM steps (in thousands) that ``call`` takes."""
    conn: sqlite3.Connection = library.store._conn
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    conn.set_progress_handler(tick, 1000)
    try:
        call()
    finally:
        conn.set_progress_handler(None, 1000)
    return count[0]


@pytest.mark.parametrize("asked", [1, 20, 200])
def test_among_a_few_items_costs_about_a_page_not_the_library_squared(
    library: Library, asked: int
) -> None:
    ids = [f"it{seq:06d}" for seq in range(N, N - asked, -1)]
    found = library.among(LIBRARY_QUERY, ids)
    assert [li.id for li in found] == ids
    page = steps(library, lambda: library.search(Query(**{**LIBRARY_QUERY.__dict__, "limit": 100})))
    among = steps(library, lambda: library.among(LIBRARY_QUERY, ids))
    # a page reads the query's lists once and 101 rows; among a few items, about as much
    # (it was the library squared: 18,000 for 20 items here)
    assert among <= 4 * page + 10, (among, page)


def test_a_count_of_the_library_s_search_costs_about_a_page(library: Library) -> None:
    """The same lists made SQLite count every item with a file × every item with the words
    (45 s for a search of the Library tab's 15,000 items)."""
    assert library.count(LIBRARY_QUERY).count == N
    page = steps(library, lambda: library.search(Query(**{**LIBRARY_QUERY.__dict__, "limit": 100})))
    counted = steps(library, lambda: library.count(LIBRARY_QUERY))
    assert counted <= 4 * page + 10, (counted, page)
