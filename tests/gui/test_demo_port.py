"""The demo hub on another port (its own taken by another demo): the same profile, moved."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from alu_client.core.credentials import MemorySecrets
from alu_client.core.profiles import Profiles
from alu_client.core.store import Store
from alu_client.ui.demo import DemoHub, SeedSize, demo_client_paths, sign_in_demo


def test_the_demo_on_another_port_moves_its_profile_and_keeps_its_library(
    tmp_path: Path,
) -> None:
    # the tester's demo found port 8750 taken by another demo: it served on another port,
    # signed in as a new profile, and the Library showed none of the clips it had downloaded
    paths = demo_client_paths(tmp_path)
    first = DemoHub(tmp_path, SeedSize(0.2, (64, 64)))
    first.prepare()
    try:
        profile = sign_in_demo(paths, first.serve(), MemorySecrets())
        old_port = int((first.data_dir / "port").read_text())
    finally:
        first.stop()
    taken = socket.socket()  # another demo holds the port meanwhile
    with contextlib.suppress(OSError):  # (or something else already does)
        taken.bind(("127.0.0.1", old_port))
        taken.listen()
    second = DemoHub(tmp_path, SeedSize(0.2, (64, 64)))
    try:
        second.prepare()
        new_url = second.serve()
        moved = sign_in_demo(paths, new_url, MemorySecrets())
    finally:
        second.stop()
        taken.close()
    assert moved.url != profile.url
    assert moved.name == profile.name and moved.url == new_url.rstrip("/")
    store = Store(paths.db_path)
    try:
        profiles = Profiles(store)
        assert [p.name for p in profiles.list()] == [profile.name]
        active = profiles.active()
        assert active is not None and active.url == moved.url
    finally:
        store.close()
