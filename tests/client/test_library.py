"""The library's items: stored once, updated when the hub changes them, found by words in
English, French and Arabic (with or without diacritics), never an error from what a user types.

``make_item`` here is also what the other library tests and the library benchmark build on."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.hub import Item, Rendition
from alu_client.core.library import Library, Query, fts_query, normalize, upsert_items
from alu_client.core.store import Store

BASE = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
PROFILE = "alu"


def rendition(item_id: str, name: str = "broadcast", size: int = 1000) -> Rendition:
    sha = hashlib.sha256(f"{item_id}/{name}".encode()).hexdigest()
    return Rendition(
        name=name,
        url=f"https://hub.example.org/api/v1/items/{item_id}/renditions/{name}",
        filename=f"{item_id}-{name}.mp4",
        size=size,
        sha256=sha,
        mime="video/mp4",
        width=1280,
        height=720,
    )


def make_item(seq: int, **fields: Any) -> Item:
    """An item with everything filled in; ``fields`` override."""
    item_id = fields.pop("id", f"it{seq:06d}")
    values: dict[str, Any] = {
        "id": item_id,
        "seq": seq,
        "kind": "push",
        "title": f"Item number {seq}",
        "slug": f"ITEM-{seq}",
        "dateline": "NAIROBI, Kenya",
        "recorded_at": None,
        "published_at": BASE + dt.timedelta(hours=seq),
        "category": "politics",
        "region": "East Africa",
        "country": "KE",
        "language": "en",
        "priority": "routine",
        "restrictions": "",
        "script": "",
        "shotlist": "",
        "duration": 60.0,
        "source_member": "",
        "thumbnail_url": "",
        "renditions": (rendition(item_id),),
    }
    values.update(fields)
    return Item(**values)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


@pytest.fixture
def library(store: Store) -> Library:
    return Library(store, PROFILE)


def ids(library: Library, text: str, **kw: object) -> list[str]:
    page = library.search(Query(text=text, limit=500, **kw))  # type: ignore[arg-type]
    return [i.id for i in page.items]


def fts_ok(store: Store) -> None:
    """FTS5's own consistency check of the index (raises if terms were left behind)."""
    with store.write() as conn:
        conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")


# --- stored once, updated ------------------------------------------------------------------------


def test_items_are_stored_once_whatever_arrives_twice(store: Store, library: Library) -> None:
    a, b = make_item(1, title="Floods in Kisumu"), make_item(2, title="Budget vote")
    assert upsert_items(store, PROFILE, [a, b, a]) == [a, b]
    assert upsert_items(store, PROFILE, [b, a]) == []
    assert store.query_one("SELECT count(*) FROM items")[0] == 2
    assert ids(library, "floods") == [a.id]
    # another profile (another hub) keeps its own copy
    assert upsert_items(store, "other", [a]) == [a]
    assert store.query_one("SELECT count(*) FROM items")[0] == 3
    assert ids(library, "floods") == [a.id]
    fts_ok(store)


def test_an_item_the_hub_changed_is_updated_with_its_search_terms(
    store: Store, library: Library
) -> None:
    first = make_item(5, title="Floods in Kisumu", script="Rain fell for days.")
    upsert_items(store, PROFILE, [first])
    changed = dataclasses.replace(
        first, title="Drought in Turkana", script="No rain for months.", priority="flash"
    )
    assert upsert_items(store, PROFILE, [changed]) == []
    got = library.get(first.id)
    assert got is not None
    assert (got.item.title, got.item.priority, got.item.script) == (
        "Drought in Turkana",
        "flash",
        "No rain for months.",
    )
    assert got.item == changed
    assert ids(library, "floods") == []
    assert ids(library, "kisumu") == []
    assert ids(library, "days") == []
    assert ids(library, "drought turkana") == [first.id]
    assert ids(library, "months") == [first.id]
    assert ids(library, "rain") == [first.id]
    assert store.query_one("SELECT count(*) FROM items")[0] == 1
    fts_ok(store)


def test_rules_done_marks_new_items_only(store: Store) -> None:
    a, b = make_item(1), make_item(2)
    upsert_items(store, PROFILE, [a])
    upsert_items(store, PROFILE, [a, b], rules_done=True)
    rows = store.query("SELECT id, rules_done FROM items ORDER BY seq")
    assert [(r["id"], r["rules_done"]) for r in rows] == [(a.id, 0), (b.id, 1)]


def test_get_gives_the_item_as_the_hub_sent_it(store: Store, library: Library) -> None:
    item = make_item(
        9,
        recorded_at=dt.datetime(2026, 9, 30, 8, 15, tzinfo=dt.UTC),
        published_at=dt.datetime(2026, 10, 1, 9, 0, 0, 123456, tzinfo=dt.UTC),
        priority="urgent",
        restrictions="No access Kenya",
        source_member="ktn",
        kind="member_upload",
    )
    upsert_items(store, PROFILE, [item])
    got = library.get(item.id)
    assert got is not None
    assert got.item == item
    assert (got.read, got.downloaded, got.files) == (False, False, ())
    assert library.get("nope") is None


# --- words in three languages ----------------------------------------------------------------------


def test_normalize_folds_case_accents_and_arabic_forms() -> None:
    assert normalize("Élections À l'ÉTÉ") == "elections a l'ete"
    assert normalize("Ça coûte cher") == "ca coute cher"
    assert normalize("الْفَيَضَانَاتُ") == "فيضانات"  # the article folded off too
    assert normalize("أحمد إبراهيم آمنة ٱلعلم") == "احمد ابراهيم امنه علم"
    assert normalize("مدرسة على") == "مدرسه علي"
    assert normalize("مـــدرســـة") == "مدرسه"
    for text in ("Élections", "الْفَيَضَانَاتُ", "أحمد", "Straße", "الالتزام", "وللاعب"):
        assert normalize(normalize(text)) == normalize(text)


def test_normalize_takes_the_arabic_article_and_its_proclitics_off() -> None:
    for text in ("الانتخابات", "والانتخابات", "فالانتخابات", "بالانتخابات", "كالانتخابات",
                 "للانتخابات", "وللانتخابات", "وبالانتخابات", "الانتخاباتُ", "انتخابات"):  # fmt: skip
        assert normalize(text) == "انتخابات", text
    assert normalize("انتخابات الرئاسة في النيجر") == "انتخابات رياسه في نيجر"
    # only when three letters or more remain: not a word that merely begins like the article
    for text in ("الف", "والد", "لله", "الله", "بال", "ال"):
        assert normalize(text) == text, text


def test_english_words_in_any_field_and_a_prefix_on_the_last_word(
    store: Store, library: Library
) -> None:
    a = make_item(
        1,
        title="Floods displace thousands in western Kenya",
        slug="KENYA-FLOODS",
        dateline="KISUMU, Kenya",
        script="Heavy rains have forced families from their homes.",
        shotlist="1. Wide of flooded road\n2. SOUNDBITE (English) resident",
    )
    b = make_item(2, title="Parliament passes budget", dateline="NAIROBI, Kenya")
    upsert_items(store, PROFILE, [a, b])
    assert ids(library, "floods") == [a.id]
    assert ids(library, "FLOODS kenya") == [a.id]
    assert ids(library, "flo") == [a.id]  # still typing
    assert ids(library, "kisumu") == [a.id]  # dateline
    assert ids(library, "soundbite") == [a.id]  # shotlist
    assert ids(library, "rains families") == [a.id]  # script
    assert ids(library, "kenya") == [b.id, a.id]  # newest first
    assert ids(library, "budget floods") == []  # every word must be there
    assert ids(library, "fl kenya") == []  # only the last word is a prefix


def test_french_with_or_without_accents(store: Store, library: Library) -> None:
    fr = make_item(
        1,
        language="fr",
        title="Élections générales : la Côte d'Ivoire vote",
        script="Les électeurs ivoiriens se rendent aux urnes ce dimanche. L'économie domine.",
    )
    upsert_items(store, PROFILE, [fr, make_item(2, title="Elephants return")])
    for text in (
        "élections",
        "elections",
        "ELECTIONS",
        "Élections générales",
        "generales",
        "cote ivoire",
        "économie",
        "economie",
        "electeurs",
        "électeu",
    ):
        assert ids(library, text) == [fr.id], text


def test_arabic_with_or_without_diacritics_and_alef_forms(store: Store, library: Library) -> None:
    ar = make_item(
        1,
        language="ar",
        title="الفَيَضَاناتُ تَجْتاحُ شَمالَ أُوغَنْدا",
        dateline="كَمْبالا، أوغندا",
        script="قالَ مَسْؤولٌ في إدارةِ الكَوارِثِ إنَّ الأمطارَ الغزيرةَ أجبرتْ آلافَ الأُسَرِ على "
        "مغادرةِ منازلِهم في القريةِ. وأكّد أنّ المدرسةَ مُغلقة",
    )
    other = make_item(2, language="ar", title="البرلمان يقر الميزانية")
    upsert_items(store, PROFILE, [ar, other])
    for text in (
        "الفيضانات",  # without diacritics
        "الفَيَضَاناتُ",  # with
        "أوغندا",  # alef with hamza
        "اوغندا",  # bare alef
        "إدارة",  # hamza below, ta marbuta
        "اداره",  # folded spelling
        "الأمطار الغزيرة",
        "الامطار الغزيره",
        "على",  # alef maqsura
        "علي",
        "المدرســة",  # tatweel
        "آلاف",
        "الاف",
        "مغلق",  # prefix of مغلقة
        "كمبالا",
    ):
        assert ids(library, text) == [ar.id], text
    assert ids(library, "الميزانيه") == [other.id]


def test_arabic_with_or_without_the_article_and_its_proclitics(
    store: Store, library: Library
) -> None:
    """The README's promise: `انتخابات` finds *الانتخاباتُ* (it found nothing: the article
    stayed in the index)."""
    titles = ["الانتخاباتُ الرئاسية في مالي", "والانتخابات المقبلة", "استعدادات للانتخابات",
              "انتخابات الرئاسة في النيجر", "البرلمان يقر الميزانية"]  # fmt: skip
    items = [make_item(n, language="ar", title=t) for n, t in enumerate(titles, 1)]
    upsert_items(store, PROFILE, items)
    elections = [i.id for i in reversed(items[:4])]  # newest first
    for text in ("انتخابات", "الانتخابات", "للانتخابات", "والانتخابات", "الانتخاباتُ", "انتخ"):
        assert ids(library, text) == elections, text
    assert ids(library, "الانتخابات الرئاسية") == [items[0].id]
    assert ids(library, "انتخابات رئاسية") == [items[0].id]
    assert ids(library, "برلمان") == [items[4].id]
    # typed letter by letter: the word keeps its article until three letters follow it, and
    # the index holds it without (البر… found nothing, then البرلمان did)
    for typed in ("البر", "البرل", "البرلم", "البرلمان", "والبرلم"):
        assert ids(library, typed) == [items[4].id], typed
    fts_ok(store)


def test_a_library_indexed_before_the_article_was_folded_is_indexed_again(
    tmp_path: Path,
) -> None:
    """Migration 6: an index made by the earlier folding (the article kept) is made again from
    the items when the library is opened; searching and updating then agree with it."""
    import sqlite3

    from alu_client.core.store.schema import MIGRATIONS

    path = tmp_path / "library.sqlite3"
    s = Store(path)
    upsert_items(s, PROFILE, [make_item(1, language="ar", title="الانتخاباتُ الرئاسية")])
    s.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO items_fts (items_fts) VALUES ('delete-all')")
    old_terms = ("الانتخابات الرياسيه", "item-1", "nairobi, kenya", "", "")  # as indexed before
    conn.execute(
        "INSERT INTO items_fts (rowid, title, slug, dateline, script, shotlist)"
        " SELECT pk, ?, ?, ?, ?, ? FROM items",
        old_terms,
    )
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    s = Store(path)
    try:
        assert s.version == len(MIGRATIONS) >= 6
        library = Library(s, PROFILE)
        assert ids(library, "انتخابات") == ["it000001"]
        assert ids(library, "nairobi") == ["it000001"]
        # the hub changes the item: the old terms, recomputed, are the ones the index holds
        upsert_items(s, PROFILE, [make_item(1, language="ar", title="الانتخابات البرلمانية")])
        assert ids(library, "برلمانيه") == ["it000001"]
        assert ids(library, "رياسيه") == []
        fts_ok(s)
    finally:
        s.close()


HOSTILE = [
    '"',
    '""',
    '"floods',
    'floods"',
    "*",
    "flo*",
    "*flo",
    "NEAR",
    "NEAR(floods kisumu)",
    "floods NEAR kisumu",
    "floods AND",
    "OR floods",
    "NOT",
    "floods NOT kisumu",
    "(",
    ")",
    "(floods",
    "floods)",
    "title:floods",
    "{title slug}: floods",
    "^floods",
    "floods + kisumu",
    "-",
    "floods -kisumu",
    "'; DROP TABLE items; --",
    "\\",
    "\x00floods",
    "\u200bfloods",
    "floods" * 200,
    " ".join(["floods"] * 300),
    "؟،؛",
    "🙂",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_whatever_the_user_types_never_raises(store: Store, library: Library, text: str) -> None:
    a = make_item(1, title="Floods in Kisumu", dateline="KISUMU, Kenya")
    upsert_items(store, PROFILE, [a])
    page = library.search(Query(text=text))
    assert all(i.id == a.id for i in page.items)
    counted = library.count(Query(text=text))
    assert counted.count == len(page.items)
    expected = fts_query(text)
    if expected is None:
        assert page.items == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('"floods"', True),
        ("NEAR(floods kisumu)", False),  # "near" is a word to find, and it is not there
        ("floods)", True),
        ("(kisumu", True),
        ("title:floods", False),  # "title" is a word too
        ("floods*", True),
        ("*", False),
        ("'; DROP TABLE items; --", False),
        # U+19B0 is a letter to Python but splits words for SQLite: split there too
        ("floods\u19b0kisumu", True),
        ("k", False),  # one letter is a word, not a prefix of every word starting with it
        ("ki", True),
    ],
)
def test_fts_syntax_in_user_text_is_only_text(
    store: Store, library: Library, text: str, found: bool
) -> None:
    a = make_item(1, title="Floods in Kisumu")
    upsert_items(store, PROFILE, [a])
    assert ids(library, text) == ([a.id] if found else [])
    assert store.query_one("SELECT count(*) FROM items")[0] == 1
