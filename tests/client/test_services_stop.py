"""Stopping the engine beside a hub that accepts connections and never answers (a hung hub, a
proxy that swallows requests): it takes a second, not the hub's read timeout, and what was
waiting on the hub then ends by itself without touching the closed library."""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from pathlib import Path

import pytest

from alu_client.core import services as services_module
from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles, client_for
from alu_client.core.services import Services
from alu_client.core.store import Store
from tests.support.waiting import wait_until


def test_stopping_beside_a_hub_that_never_answers_takes_a_second_and_keeps_nothing_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the app's Quit (and Sign out) froze the window ~30 s: the sync threads were waited for
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(50)
    held: list[socket.socket] = []
    accepting = threading.Thread(
        target=lambda: [held.append(hung.accept()[0]) for _ in iter(int, 1)], daemon=True
    )
    accepting.start()
    paths = Paths(
        tmp_path / "data", tmp_path / "cache", tmp_path / "logs", tmp_path / "downloads"
    ).ensure()
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    url = f"http://127.0.0.1:{hung.getsockname()[1]}"
    profile = Profiles(store).save(Profile("ktn@hung", url, "ktn", allow_http=True))
    secrets.set(profile.secret_key, "a-token")
    store.close()
    # (a read timeout shorter than the app's 30 s: the test sees the requests end)
    monkeypatch.setattr(
        services_module, "client_for", functools.partial(client_for, read_timeout=4.0)
    )
    services = Services(paths, secrets)
    services.start_engine(rules=False, hot_folders=False, media=False)
    sync = services.sync
    assert sync is not None
    wait_until(lambda: len(held) >= 2, what="the feed and the history waiting on the hub")
    caplog.set_level(logging.INFO)
    began = time.monotonic()
    services.stop()
    took = time.monotonic() - began
    assert took < 2.5, f"stopping took {took:.1f} s"
    wait_until(lambda: not sync.running, timeout=15, what="the sync's requests ended")
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == [], [r.getMessage() for r in said]
    for c in held:
        c.close()
    hung.close()
