"""Filters, newest-first keyset paging, counts and read marks over a few hundred items, each
checked against the same selection made in Python (exact ids, in order)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alu_client.core.hub import Item
from alu_client.core.library import Library, Query, record_file, upsert_items
from alu_client.core.store import Store
from tests.client.test_library import BASE, PROFILE, make_item

N = 300
LANGUAGES = ("en", "fr", "ar")
CATEGORIES = ("politics", "economy", "sport", "health", "environment")
REGIONS = ("East Africa", "West Africa", "Southern Africa", "North Africa")
COUNTRIES = ("KE", "NG", "ZA", "EG", "SN", "UG", "CI")
PRIORITIES = ("routine", "routine", "urgent", "routine", "flash")
WORDS = {
    "en": ("floods", "election", "budget", "harvest"),
    "fr": ("inondations", "élection", "budget", "récolte"),
    "ar": ("فيضانات", "انتخابات", "ميزانية", "حصاد"),
}


def generated() -> list[Item]:
    items = []
    for seq in range(1, N + 1):
        lang = LANGUAGES[seq % 3]
        word = WORDS[lang][seq % 4]
        items.append(
            make_item(
                seq,
                title=f"{word} report {seq}",
                language=lang,
                category=CATEGORIES[seq % 5],
                region=REGIONS[seq % 4],
                country=COUNTRIES[seq % 7],
                priority=PRIORITIES[seq % 5],
                kind="member_upload" if seq % 6 == 0 else "push",
                published_at=BASE + dt.timedelta(hours=seq),
            )
        )
    return items


ITEMS = generated()
DOWNLOADED = {i.id for i in ITEMS if i.seq % 9 == 0}
READ = {i.id for i in ITEMS if i.seq % 4 == 0}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    store = Store(tmp_path_factory.mktemp("lib") / "library.sqlite3")
    shuffled = ITEMS[:]
    random.Random(4).shuffle(shuffled)  # arrival order is not seq order
    for start in range(0, N, 70):
        upsert_items(store, PROFILE, shuffled[start : start + 70])
    with store.write() as conn:
        for item_id in sorted(DOWNLOADED):
            record_file(
                conn, PROFILE, item_id, "broadcast", f"/videos/{item_id}.mp4", 10, "ab" * 32
            )
        # a removed file is not a download any more
        record_file(conn, PROFILE, "it000001", "proxy", "/videos/it000001.mp4", 10, "cd" * 32)
        conn.execute("UPDATE library_files SET state = 'removed' WHERE item_id = 'it000001'")
    lib = Library(store, PROFILE)
    lib.mark_read(sorted(READ))
    yield lib
    store.close()


def newest_first(keep: Callable[[Item], bool]) -> list[str]:
    return [i.id for i in sorted(ITEMS, key=lambda i: -i.seq) if keep(i)]


def all_pages(library: Library, q: Query) -> list[str]:
    """Every page from the newest, following the ``older`` cursor."""
    seen: list[str] = []
    cursor = None
    while True:
        page = library.search(Query(**{**q.__dict__, "before": cursor}))
        assert len(page.items) <= q.limit
        seen += [i.id for i in page.items]
        if page.older is None:
            return seen
        cursor = page.older


CASES: list[tuple[str, Query, Callable[[Item], bool]]] = [
    ("everything", Query(), lambda i: True),
    ("french", Query(languages=["fr"]), lambda i: i.language == "fr"),
    ("en+ar", Query(languages=["en", "ar"]), lambda i: i.language in ("en", "ar")),
    ("category", Query(categories=["sport"]), lambda i: i.category == "sport"),
    ("region", Query(regions=["West Africa"]), lambda i: i.region == "West Africa"),
    ("countries", Query(countries=["KE", "EG"]), lambda i: i.country in ("KE", "EG")),
    ("flash", Query(priorities=["flash"]), lambda i: i.priority == "flash"),
    (
        "flash+urgent",
        Query(priorities=["flash", "urgent"]),
        lambda i: i.priority in ("flash", "urgent"),
    ),
    ("kind", Query(kind="member_upload"), lambda i: i.kind == "member_upload"),
    ("downloaded", Query(downloaded=True), lambda i: i.id in DOWNLOADED),
    ("not downloaded", Query(downloaded=False), lambda i: i.id not in DOWNLOADED),
    ("unread", Query(unread=True), lambda i: i.id not in READ),
    ("read", Query(unread=False), lambda i: i.id in READ),
    (
        "datetime range",
        Query(
            published_from=BASE + dt.timedelta(hours=50),
            published_until=BASE + dt.timedelta(hours=80),
        ),
        lambda i: 50 <= i.seq < 80,
    ),
    (
        "whole days",
        Query(published_from=dt.date(2026, 10, 3), published_until=dt.date(2026, 10, 4)),
        lambda i: dt.date(2026, 10, 3) <= i.published_at.date() <= dt.date(2026, 10, 4),
    ),
    (
        "a word in three languages",
        Query(text="budget"),
        lambda i: i.seq % 4 == 2 and i.language != "ar",
    ),
    ("arabic word", Query(text="ميزانيه"), lambda i: i.seq % 4 == 2 and i.language == "ar"),
    ("accent", Query(text="election"), lambda i: i.seq % 4 == 1 and i.language != "ar"),
    (
        "all at once",
        Query(
            text="report",
            languages=["fr", "en"],
            priorities=["routine"],
            unread=True,
            downloaded=False,
        ),
        lambda i: (
            i.language in ("fr", "en")
            and i.priority == "routine"
            and i.id not in READ
            and i.id not in DOWNLOADED
        ),
    ),
    ("nothing", Query(text="report", countries=["XX"]), lambda i: False),
    ("unknown priority", Query(priorities=["whenever"]), lambda i: False),
]


@pytest.mark.parametrize(("name", "query", "keep"), CASES, ids=[c[0] for c in CASES])
def test_filters_and_pages_give_exactly_the_matching_items_newest_first(
    library: Library, name: str, query: Query, keep: Callable[[Item], bool]
) -> None:
    expected = newest_first(keep)
    first = library.search(Query(**{**query.__dict__, "limit": 500}))
    assert [i.id for i in first.items] == expected
    assert all_pages(library, Query(**{**query.__dict__, "limit": 17})) == expected
    counted = library.count(query)
    assert (counted.count, counted.exact) == (len(expected), True)


@pytest.mark.parametrize(("name", "query", "keep"), CASES, ids=[c[0] for c in CASES])
def test_among_gives_those_of_some_items_that_match_newest_first(
    library: Library, name: str, query: Query, keep: Callable[[Item], bool]
) -> None:
    """What a view reads after a few items changed (a download recorded): the same filters,
    only those items, cursors and limit ignored; ids not in the library are none of them."""
    asked = [i.id for i in ITEMS if i.seq % 7 == 3] + ["it999999", ITEMS[9].id, ITEMS[9].id]
    expected = [i for i in newest_first(keep) if i in set(asked)]
    q = Query(**{**query.__dict__, "limit": 2, "before": 5})
    found = library.among(q, asked)
    assert [li.id for li in found] == expected
    assert all(li.files for li in found if li.id in DOWNLOADED)
    assert library.among(query, []) == []


def test_among_reads_more_items_than_one_statement_takes(library: Library) -> None:
    everything = [i.id for i in ITEMS] * 2 + [f"gone{n}" for n in range(600)]
    assert [li.id for li in library.among(Query(), everything)] == newest_first(lambda i: True)


def test_pages_go_back_to_newer_items_with_the_after_cursor(library: Library) -> None:
    q = Query(languages=["fr"], limit=10)
    expected = newest_first(lambda i: i.language == "fr")
    p1 = library.search(q)
    p2 = library.search(Query(**{**q.__dict__, "before": p1.older}))
    p3 = library.search(Query(**{**q.__dict__, "before": p2.older}))
    assert [i.id for i in p1.items + p2.items + p3.items] == expected[:30]
    assert p1.newer is None  # the newest page
    back = library.search(Query(**{**q.__dict__, "after": p3.newer}))
    assert [i.id for i in back.items] == [i.id for i in p2.items]
    back = library.search(Query(**{**q.__dict__, "after": back.newer}))
    assert [i.id for i in back.items] == [i.id for i in p1.items]
    assert back.newer is None
    assert back.older == p1.items[-1].seq


def test_the_last_page_says_there_is_no_more(library: Library) -> None:
    q = Query(kind="member_upload", limit=50)  # exactly 50 of them
    page = library.search(q)
    assert len(page.items) == 50
    assert page.older is None
    empty = library.search(Query(kind="member_upload", before=1))
    assert (empty.items, empty.older, empty.newer) == ([], None, 0)


def test_count_stops_at_the_cap(library: Library) -> None:
    counted = library.count(Query(), cap=100)
    assert (counted.count, counted.exact, str(counted)) == (100, False, "100+")
    counted = library.count(Query(), cap=N)
    assert (counted.count, counted.exact, str(counted)) == (N, True, "300")


def test_items_carry_their_files_and_read_mark(library: Library) -> None:
    page = library.search(Query(limit=500))
    by_id = {i.id: i for i in page.items}
    assert {i for i, it in by_id.items() if it.downloaded} == DOWNLOADED
    assert {i for i, it in by_id.items() if it.read} == READ
    removed = by_id["it000001"]
    assert not removed.downloaded
    assert [(f.rendition, f.state) for f in removed.files] == [("proxy", "removed")]


def test_read_marks(tmp_path: Path) -> None:
    store = Store(tmp_path / "library.sqlite3")
    lib = Library(store, PROFILE)
    upsert_items(store, PROFILE, ITEMS[:20])
    upsert_items(store, "other", ITEMS[:5])
    assert lib.unread_count() == 20
    assert lib.mark_read(["it000003", "it000004", "it000003", "nope"]) == 2
    assert lib.mark_read(["it000003"]) == 0
    assert lib.unread_count() == 18
    assert [i.id for i in lib.search(Query(unread=True, limit=3)).items] == [
        "it000020",
        "it000019",
        "it000018",
    ]
    assert lib.mark_read(["it000004"], read=False) == 1
    assert lib.unread_count() == 19
    assert lib.mark_all_read() == 19
    assert lib.unread_count() == 0
    assert Library(store, "other").unread_count() == 5
    store.close()


def test_mark_all_read_with_a_query_marks_only_its_items(tmp_path: Path) -> None:
    """A filtered view's "Mark all read": the matching items (loaded or not), no other."""
    store = Store(tmp_path / "library.sqlite3")
    lib = Library(store, PROFILE)
    upsert_items(store, PROFILE, ITEMS[:40])
    upsert_items(store, "other", ITEMS[:40])
    flash = {i.id for i in ITEMS[:40] if i.priority == "flash"}
    q = Query(priorities=("flash",), limit=1)
    assert lib.mark_all_read(q) == len(flash) == 8
    assert lib.mark_all_read(q) == 0
    assert lib.unread_count() == 40 - len(flash)
    assert {li.id for li in lib.search(Query(unread=False, limit=100)).items} == flash
    assert Library(store, "other").unread_count() == 40
    # words: the search's own matching (accents folded)
    words = lib.mark_all_read(Query(text="inondations"))
    assert words == len([i for i in ITEMS[:40] if "inondations" in i.title]) - len(
        [i for i in ITEMS[:40] if "inondations" in i.title and i.id in flash]
    )
    assert words > 0
    assert lib.mark_all_read(Query(text="!!!")) == 0  # no word: nothing matches
    assert lib.unread_count() == 40 - len(flash) - words
    store.close()
