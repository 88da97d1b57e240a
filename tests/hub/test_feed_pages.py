"""Feed pages made from cached item JSON (``alu_hub.feed``) and media work in worker processes
(``alu_hub.mediapool``): the same answers as before, faster, with the heavy work elsewhere."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from alu_hub.api import member_out
from alu_hub.media import MediaError, MediaInfo, probe
from alu_hub.mediapool import MediaPool, MediaPoolClosed
from alu_hub.models import Item, Member
from alu_hub.publish import ItemFields, publish_file
from alu_hub.schemas import ItemOut, ItemPage
from tests.support.livehub import LiveHub, start_hub
from tests.support.waiting import wait_until


def item_out(item: Item, base: str) -> ItemOut:
    """The item as the API made it before ``feed`` (the ORM and the model): the reference."""
    prefix = f"{base}/api/v1/items/{item.id}"
    return ItemOut(
        id=item.id,
        seq=item.seq,
        kind=item.kind,  # type: ignore[arg-type]
        title=item.title,
        slug=item.slug,
        dateline=item.dateline,
        recorded_at=item.recorded_at,
        published_at=item.published_at,
        category=item.category,
        region=item.region,
        country=item.country,
        language=item.language,
        priority=item.priority,  # type: ignore[arg-type]
        restrictions=item.restrictions,
        script=item.script,
        shotlist=item.shotlist,
        duration=item.duration,
        source_member=member_out(item.source_member) if item.source_member else None,
        thumbnail_url=f"{prefix}/thumbnail",
        renditions=[
            {  # type: ignore[misc]
                "name": r.name,
                "url": f"{prefix}/renditions/{r.name}",
                "filename": r.filename,
                "size": r.size,
                "sha256": r.sha256,
                "mime": r.mime,
                "width": r.width,
                "height": r.height,
            }
            for r in item.renditions
        ],
    )


def _orm_page(live: LiveHub, base: str, after: int, limit: int) -> str:
    """The page as the ORM + ``ItemPage`` model made it before the cache existed."""
    with live.hub.db.session() as s:
        rows = list(
            s.scalars(select(Item).where(Item.seq > after).order_by(Item.seq).limit(limit + 1))
        )
        items = [item_out(i, base) for i in rows[:limit]]
        last = None if items else max((i.seq for i in s.scalars(select(Item))), default=0)
        return ItemPage(
            items=items, next=items[-1].seq if items else after, more=len(rows) > limit, last=last
        ).model_dump_json()


def _publish_both_kinds(live: LiveHub, clip: Path) -> None:
    live.member("ktn", country="KE")
    live.publish(clip, "Élections : الانتخابات", language="fr", script="Ligne 1\nLigne 2")
    with live.hub.db.session() as s:
        member = s.execute(select(Member).where(Member.username == "ktn")).scalar_one()
        s.expunge(member)
    publish_file(
        live.hub,
        clip,
        ItemFields(title="Nairobi floods"),
        kind="member_upload",
        source_member=member,
    )
    live.publish(clip, "Third", priority="flash")
    zoned = dt.datetime(2026, 1, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    publish_file(live.hub, clip, ItemFields(title="Recorded in Nairobi time", recorded_at=zoned))


def test_pages_are_byte_for_byte_what_the_model_gives(live_hub: LiveHub, clip: Path) -> None:
    _publish_both_kinds(live_hub, clip)
    s = live_hub.login("rts")
    for after, limit in ((0, 100), (0, 1), (1, 1), (1, 5), (3, 10), (99, 10)):
        for _ in range(2):  # the second time from the cache
            r = s.get(live_hub.api("/items"), params={"after": after, "limit": limit}, timeout=10)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json"
            assert r.text == _orm_page(live_hub, live_hub.url, after, limit), (after, limit)
    page = s.get(live_hub.api("/items"), timeout=10).json()
    assert [i["source_member"] and i["source_member"]["username"] for i in page["items"]] == [
        None,
        "ktn",
        None,
        None,
    ]
    assert page["items"][3]["recorded_at"] == "2026-01-01T11:30:00Z"
    assert len(live_hub.hub.feed_cache) == 0  # each one's JSON was made when published


def test_items_from_before_the_stored_json_are_served_alike(live_hub: LiveHub, clip: Path) -> None:
    """Items published before migration 0004 have no ``feed_json``: made when first served."""
    _publish_both_kinds(live_hub, clip)
    s = live_hub.login("rts")
    stored = s.get(live_hub.api("/items"), timeout=10).text
    with live_hub.hub.db.session() as db:
        db.execute(update(Item).where(Item.seq <= 2).values(feed_json=None))
    for _ in range(2):  # made, then from the cache
        assert s.get(live_hub.api("/items"), timeout=10).text == stored
        assert stored == _orm_page(live_hub, live_hub.url, 0, 100)
    assert len(live_hub.hub.feed_cache) == 2


def test_item_urls_follow_the_address_the_client_used(live_hub: LiveHub, clip: Path) -> None:
    live_hub.publish(clip, "One")
    s = live_hub.login("rts")
    port = live_hub.url.rsplit(":", 1)[1]
    by_ip = s.get(live_hub.api("/items"), timeout=10).json()["items"][0]
    by_name = s.get(f"http://localhost:{port}/api/v1/items", timeout=10).json()["items"][0]
    assert by_ip["thumbnail_url"].startswith(f"http://127.0.0.1:{port}/")
    assert by_name["thumbnail_url"].startswith(f"http://localhost:{port}/")
    assert by_name["renditions"][0]["url"].startswith(f"http://localhost:{port}/")


def test_the_page_needs_a_valid_token(live_hub: LiveHub) -> None:
    r = requests.get(live_hub.api("/items"), timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "no_token"
    r = requests.get(live_hub.api("/items"), headers={"Authorization": "Bearer nope"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_token"
    s = live_hub.login("ktn")
    assert s.get(live_hub.api("/items"), params={"limit": 0}, timeout=10).status_code == 422


@pytest.mark.one_database
def test_cache_keeps_the_most_recently_used() -> None:
    from alu_hub.feed import ItemJsonCache

    cache = ItemJsonCache(size=2)
    cache.put_many({"1": b"one", "2": b"two"})
    assert cache.get_many(["1"]) == {"1": b"one"}  # 1 is now the most recent
    cache.put_many({"3": b"three"})
    assert cache.get_many(["1", "2", "3"]) == {"1": b"one", "3": b"three"}


# --- media in worker processes -------------------------------------------------------------


def _die() -> None:  # run in a worker: as a decoder crashing on a hostile file would
    os._exit(1)


def _worker_pid(_path: Path) -> int:
    return os.getpid()


@pytest.fixture
def pool() -> Iterator[MediaPool]:
    p = MediaPool(1, nice=5)
    yield p
    p.close()


@pytest.mark.one_database
def test_pool_runs_in_another_process_at_lower_priority(pool: MediaPool, clip: Path) -> None:
    info = pool.run(probe, clip)
    assert isinstance(info, MediaInfo) and info.video_codec == "h264"
    assert pool.run(_worker_pid, clip) != os.getpid()
    assert pool.run(os.getpriority, os.PRIO_PROCESS, 0) == os.getpriority(os.PRIO_PROCESS, 0) + 5


@pytest.mark.one_database
def test_errors_come_back_as_themselves(pool: MediaPool, tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError, match=r"notes\.mp4"):
        pool.run(probe, bad)


@pytest.mark.one_database
def test_a_crashed_worker_fails_its_job_and_the_next_job_runs(pool: MediaPool, clip: Path) -> None:
    with pytest.raises(MediaError, match="could not be processed"):
        pool.run(_die)
    assert pool.run(probe, clip).video_codec == "h264"


@pytest.mark.one_database
def test_in_place_when_no_workers(clip: Path) -> None:
    p = MediaPool(0)
    assert p.run(_worker_pid, clip) == os.getpid()
    p.close()


def test_a_hub_with_media_workers_publishes_an_upload(tmp_path: Path, clip: Path) -> None:
    live = start_hub(tmp_path, media_workers=1)
    try:
        item_id = live.publish(clip, "Through the worker")
        s = live.login("ktn")
        item = s.get(live.api(f"/items/{item_id}"), timeout=10).json()
        assert {r["name"] for r in item["renditions"]} == {"broadcast", "proxy"}
        assert s.get(item["thumbnail_url"], timeout=10).content[:2] == b"\xff\xd8"
        assert live.hub.media._pool is not None  # the work went to the pool
    finally:
        live.server.stop()
        live.hub.media.close()
        live.hub.db.dispose()
        shutil.rmtree(tmp_path / "hub", ignore_errors=True)


@pytest.mark.one_database
def test_the_base_url_is_put_in_as_json_text() -> None:
    from alu_hub.feed import with_base

    text = b'{"thumbnail_url":"/api/v1/items/x/thumbnail","title":"\\"url\\":\\"/api/v1/items/"}'
    out = json.loads(with_base(text, 'http://h"b\\'))
    assert out["thumbnail_url"] == 'http://h"b\\/api/v1/items/x/thumbnail'
    assert out["title"] == '"url":"/api/v1/items/'  # text inside a string is never touched


@pytest.mark.one_database
def test_jobs_broken_by_another_jobs_crash_are_tried_again(pool: MediaPool, clip: Path) -> None:
    results: list[object] = []

    def other() -> None:
        results.append(pool.run(probe, clip).video_codec)

    threads = [threading.Thread(target=other) for _ in range(3)]
    for t in threads:
        t.start()
    with pytest.raises(MediaError):
        pool.run(_die)
    for t in threads:
        t.join(120)
    assert results == ["h264"] * 3


@pytest.mark.one_database
def test_a_worker_outlives_a_stop_signal_to_its_group(pool: MediaPool, clip: Path) -> None:
    pid = pool.run(_worker_pid, clip)
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGINT)
    assert pool.run(probe, clip).video_codec == "h264"
    assert pool.run(_worker_pid, clip) == pid


@pytest.mark.one_database
def test_after_close_jobs_are_refused_as_a_stop(pool: MediaPool, clip: Path) -> None:
    assert pool.run(probe, clip).video_codec == "h264"
    pool.close()
    with pytest.raises(MediaPoolClosed):
        pool.run(probe, clip)


@pytest.mark.one_database
def test_workers_end_when_the_process_that_started_them_dies(tmp_path: Path) -> None:
    """A hub process killed (or ended without closing its pool) must not leave its media
    workers behind: they ignore stop signals, so nothing else would end them."""
    script = (
        "import os, sys\n"
        "from alu_hub.mediapool import MediaPool\n"
        "pool = MediaPool(1, nice=0)\n"
        "print(pool.run(os.getpid), flush=True)\n"
        "os._exit(0)\n"  # no close(), no interpreter shutdown: as a SIGKILL would end it
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    worker = int(out.stdout.split()[0])
    wait_until(lambda: not _alive(worker), timeout=10, what="the media worker gone")
    assert not _alive(worker), f"media worker {worker} outlived its parent"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (already ended, not yet reaped by init) counts as gone
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True
