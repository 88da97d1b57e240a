"""Benchmark of the library (issue 4): 100,000 items with scripts of a few hundred words in
English, French and Arabic, stored through ``upsert_items`` as the feed sync does, then searched
and paged the way the UI does it.

Run on demand: ``flock /tmp/alu-bench.lock ./run bench -k library``. Prints one ``BENCH |`` line
per figure (target: each search, page and count under 100 ms, the p95 over the runs); passes
when every figure was measured, a missed target is printed, not failed.

Text: words drawn (Zipf-like) from the demo items' own EN/FR/AR vocabulary, so common words are
very common and rare ones rare, as in a newsroom's feed; a few Arabic words carry harakat.
Sizes (env): ``ALU_BENCH_LIBRARY_ITEMS`` (100000), ``ALU_BENCH_LIBRARY_RUNS`` (30 per query).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

from alu_client.core.hub import Item
from alu_client.core.library import Library, Query, record_file, upsert_items
from alu_client.core.store import Store
from tests.bench.helpers import Figure, check_measured, env_int, note, report
from tests.client.test_library import BASE, PROFILE, make_item

pytestmark = pytest.mark.bench

BATCH = 1000
RARE = "zanzibarite"  # in one item of every 10,000
CATEGORIES = ("politics", "economy", "sport", "health", "environment", "agriculture", "culture")
REGIONS = ("East Africa", "West Africa", "Southern Africa", "North Africa", "Central Africa")
COUNTRIES = ("KE", "NG", "ZA", "EG", "SN", "UG", "CI", "GH", "TZ", "MA", "CM", "ET")
DATELINES = {
    "en": ("NAIROBI, Kenya", "LAGOS, Nigeria", "JOHANNESBURG, South Africa", "ACCRA, Ghana"),
    "fr": ("DAKAR, Sénégal", "ABIDJAN, Côte d'Ivoire", "YAOUNDÉ, Cameroun", "RABAT, Maroc"),
    "ar": ("القاهرة، مصر", "الخرطوم، السودان", "تونس، تونس", "الرباط، المغرب"),
}
HARAKAT = "\u064e\u064f\u0650\u0651\u0652"


def vocabulary() -> dict[str, list[str]]:
    """Each language's words from the demo items, most frequent first."""
    text = resources.files("alu_hub").joinpath("demo_content.json").read_text(encoding="utf-8")
    counts: dict[str, dict[str, int]] = {}
    for item in json.loads(text)["items"]:
        words = counts.setdefault(item["language"], {})
        for field in ("title", "script", "shotlist"):
            for w in re.findall(r"[^\W\d_]+", item[field]):
                words[w] = words.get(w, 0) + 1
    return {lang: sorted(ws, key=lambda w: -ws[w]) for lang, ws in counts.items()}


class Writer:
    """Scripts of a few hundred words: Zipf-like draws from one language's vocabulary."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocab = vocabulary()
        self.weights = {
            lang: list(_cumulative([1 / (rank + 1) for rank in range(len(ws))]))
            for lang, ws in self.vocab.items()
        }

    def words(self, lang: str, n: int) -> list[str]:
        out = self.rng.choices(self.vocab[lang], cum_weights=self.weights[lang], k=n)
        if lang == "ar":  # a few words written with their harakat, as some agencies do
            for i in range(0, n, 17):
                w = out[i]
                out[i] = "".join(c + self.rng.choice(HARAKAT) for c in w)
        return out

    def item(self, seq: int) -> Item:
        rng = self.rng
        lang = ("en", "fr", "ar")[seq % 3]
        script = self.words(lang, rng.randint(150, 450))
        if seq % 10_000 == 7:
            script.insert(rng.randrange(len(script)), RARE)
        sentences = [" ".join(script[i : i + 18]) + "." for i in range(0, len(script), 18)]
        title = " ".join(self.words(lang, rng.randint(5, 10))).capitalize()
        shots = "\n".join(
            f"{n}. {' '.join(self.words(lang, rng.randint(3, 7)))}" for n in range(1, 7)
        )
        return make_item(
            seq,
            title=title,
            slug="-".join(w.upper() for w in self.words(lang, 3)),
            dateline=rng.choice(DATELINES[lang]),
            language=lang,
            script=" ".join(sentences),
            shotlist=shots,
            category=CATEGORIES[seq % len(CATEGORIES)],
            region=REGIONS[seq % len(REGIONS)],
            country=rng.choice(COUNTRIES),
            priority=rng.choices(("flash", "urgent", "routine"), (1, 9, 90))[0],
            kind="member_upload" if seq % 8 == 0 else "push",
            published_at=BASE + dt.timedelta(minutes=14 * seq),
        )


def _cumulative(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def timings(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm: the first run after the others' writes pays for reading pages in
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency(figures: list[Figure], what: str, fn: Callable[[], object], runs: int) -> None:
    ms = timings(fn, runs)
    p50, p95 = statistics.median(ms), percentile(ms, 95)
    for label, value in (("p50", p50), ("p95", p95)):
        figures.append(
            report(
                Figure(
                    "library",
                    f"{what} {label}",
                    max(value, 0.001),
                    "ms",
                    better="lower",
                    target=100.0,
                    target_on="value",
                    note=f"{runs} runs, max {max(ms):.1f} ms" if label == "p95" else "",
                )
            )
        )


def test_library_search_and_paging_over_100k_items(tmp_path: Path) -> None:
    n = env_int("ALU_BENCH_LIBRARY_ITEMS", 100_000)
    runs = env_int("ALU_BENCH_LIBRARY_RUNS", 30)
    db = tmp_path / "library.sqlite3"
    store = Store(db)
    writer = Writer(seed=11)
    figures: list[Figure] = []

    inserting = 0.0
    for start in range(1, n + 1, BATCH):
        batch = [writer.item(seq) for seq in range(start, min(n, start + BATCH - 1) + 1)]
        t0 = time.perf_counter()
        assert len(upsert_items(store, PROFILE, batch)) == len(batch)
        inserting += time.perf_counter() - t0
    t0 = time.perf_counter()
    assert upsert_items(store, PROFILE, batch) == []  # a page that arrives again
    again_ms = (time.perf_counter() - t0) * 1000
    figures.append(
        report(Figure("library", f"store {n:,} items (batches of {BATCH})", inserting, "s"))
    )
    figures.append(report(Figure("library", "items stored per second", n / inserting, "items/s")))
    figures.append(report(Figure("library", f"a batch of {BATCH} arriving again", again_ms, "ms")))
    store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    size_mb = db.stat().st_size / 1e6
    figures.append(report(Figure("library", "database size", size_mb, "MB")))
    text_mb = (
        store.query_one("SELECT sum(length(title) + length(script) + length(shotlist)) FROM items")[
            0
        ]
        / 1e6
    )
    note(f"{n:,} items, {text_mb:.0f} M characters of text; database {size_mb:.0f} MB")

    lib = Library(store, PROFILE)
    with store.write() as conn:  # some downloads, some read
        for seq in range(5, n + 1, 50):
            record_file(conn, PROFILE, f"it{seq:06d}", "broadcast", f"/v/{seq}.mp4", 1, "ab" * 32)
    lib.mark_read([f"it{seq:06d}" for seq in range(1, n + 1, 3)])

    common = writer.vocab["en"][0]
    arabic = "".join(c + "\u064e" for c in writer.vocab["ar"][2])  # with harakat
    french = writer.vocab["fr"][40]
    two = next(w for w in writer.vocab["fr"][10:] if len(w) >= 4)[:2]
    queries = {
        f"common word '{common}'": Query(text=common),
        f"rare word '{RARE}'": Query(text=RARE),
        "Arabic word with harakat": Query(text=arabic),
        f"French word '{french}'": Query(text=french),
        f"prefix '{writer.vocab['en'][25][:3]}'": Query(text=writer.vocab["en"][25][:3]),
        f"2-letter prefix '{two}'": Query(text=two),
        "two words + prefix": Query(text=f"{writer.vocab['en'][5]} {writer.vocab['en'][30][:3]}"),
        "word + language, priority, unread": Query(
            text=writer.vocab["en"][10], languages=["en"], priorities=["urgent"], unread=True
        ),
        "word + downloaded": Query(text=writer.vocab["fr"][3], downloaded=True),
        "filters only: category + region": Query(categories=["health"], regions=["West Africa"]),
        "filters only: flash in a week": Query(
            priorities=["flash"],
            published_from=BASE + dt.timedelta(days=300),
            published_until=BASE + dt.timedelta(days=307),
        ),
        "no match": Query(text="qwertyuiop"),
    }
    for what, q in queries.items():
        page = lib.search(q)
        note(f"{what}: {lib.count(q)} matches, first page {len(page.items)}")
        latency(figures, f"search {what}", lambda q=q: lib.search(q), runs)
    for what, q in (
        ("count, common word", queries[f"common word '{common}'"]),
        ("count, everything", Query()),
        ("count, filters", queries["filters only: category + region"]),
    ):
        latency(figures, what, lambda q=q: lib.count(q), runs)

    latency(figures, "first page (50, no filter)", lambda: lib.search(Query()), runs)
    deep = n // 10  # 90 % of the library newer than the cursor
    latency(figures, f"deep page (before={deep})", lambda: lib.search(Query(before=deep)), runs)
    latency(
        figures,
        f"deep page, common word (before={deep})",
        lambda: lib.search(Query(text=common, before=deep)),
        runs,
    )
    latency(
        figures,
        "deep page back (after cursor)",
        lambda: lib.search(Query(after=deep, limit=50)),
        runs,
    )
    latency(figures, "unread count", lib.unread_count, runs)
    arabic_hits = lib.count(Query(text=arabic))
    store.close()

    # The first start after an update to schema 6 remakes the search index from every item
    # (the Arabic article folded off): the library as schema 5 left it, opened again, timed
    # from open to ready (the backup copy the store makes before a migration included).
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    t0 = time.perf_counter()
    store = Store(db)
    migrating = time.perf_counter() - t0
    assert store.version >= 6
    assert Library(store, PROFILE).count(Query(text=arabic)) == arabic_hits
    figures.append(
        report(
            Figure("library", f"migration 6 (search index of {n:,} items remade)", migrating, "s")
        )
    )
    store.close()
    check_measured(figures)
