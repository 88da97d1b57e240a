"""The hub thumbnails the Feed fetches are a cache: kept while they are shown, not for good.

About 11 KB an item, 60 items a day: a quarter of a gigabyte a year stayed on the
workstation's system disk (the soak tester's finding)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.services import HUB_THUMBNAILS_KEPT_S, Services, prune_hub_thumbnails
from tests.reliability.test_hostile_servers import PAYLOAD, signed_in, start
from tests.support.hostile import FakeHub
from tests.support.waiting import wait_until

DAY = 86400.0


def put(folder: Path, name: str, age_days: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\xff\xd8\xff\xe0thumb")
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


def test_thumbnails_not_shown_for_months_go_and_the_others_stay(tmp_path: Path) -> None:
    folder = tmp_path / "hub"
    old = put(folder, "it000001.jpg", 200)
    cut = put(folder, "it000002.jpg.part", 200)  # a fetch a stop cut short
    recent = put(folder, "it000003.jpg", 3)
    other = put(folder, "notes.txt", 400)  # not a thumbnail: not the cache's to delete
    assert prune_hub_thumbnails(folder) == 2
    assert not old.exists() and not cut.exists()
    assert recent.exists() and other.exists()
    assert prune_hub_thumbnails(tmp_path / "none-yet") == 0


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub(PAYLOAD)
    yield hub
    hub.stop()


@pytest.fixture
def desk(fake_hub: FakeHub, tmp_path: Path) -> Iterator[Services]:
    services = signed_in(tmp_path / "desk", fake_hub.url, allow_http=True)
    yield services
    services.stop()


def test_a_thumbnail_shown_is_kept_and_the_engine_start_clears_the_rest(desk: Services) -> None:
    folder = desk.paths.thumbnails_dir / "hub"
    shown = put(folder, "it000001.jpg", HUB_THUMBNAILS_KEPT_S / DAY + 10)
    forgotten = put(folder, "it000002.jpg", HUB_THUMBNAILS_KEPT_S / DAY + 10)
    assert desk.fetch_hub_thumbnail("it000001") == shown  # from the cache: no request
    assert time.time() - shown.stat().st_mtime < 60
    start(desk)
    wait_until(lambda: not forgotten.exists(), timeout=10)
    assert shown.exists()
