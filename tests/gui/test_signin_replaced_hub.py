"""The sign-in dialog, signing in again at the profile's own address where the agency put a
rebuilt hub (a new database: another identity): the user is told, the app's engine stops
before the queue is made the new hub's, and an engine of another process stops it with a
message that says what to do. Against real hubs, one after the other on one loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from alu_client.core.credentials import MemorySecrets
from alu_client.core.lockfile import EngineLock
from alu_client.core.profiles import Profile, Profiles, sign_in
from alu_client.core.store import Store
from alu_client.core.store.transfers import TransferStore
from alu_client.core.sync import SyncState
from alu_client.core.transfers.base import HUB_REPLACED_DOWNLOAD
from alu_client.ui.formats import FSI, PDI, WJ
from alu_client.ui.signin import SignInDialog
from tests.client.test_replaced_hub import PW, Address
from tests.gui.test_signin import click_sign_in


@pytest.fixture
def address(tmp_path: Path) -> Iterator[Address]:
    a = Address(tmp_path / "hubs")
    yield a
    for live in list(a.hubs):
        a.stop(live)
    shutil.rmtree(tmp_path / "hubs", ignore_errors=True)


@pytest.fixture
def profiles(tmp_path: Path) -> Iterator[Profiles]:
    store = Store(tmp_path / "library.sqlite3")
    yield Profiles(store)
    store.close()


def replaced_rig(
    qtbot: Any, tmp_path: Path, address: Address, profiles: Profiles, secrets: MemorySecrets
) -> tuple[SignInDialog, Profile, int, list[str]]:
    """A profile signed in to a hub, with a queued download of its and a feed read; that hub
    replaced by a new one at the same address; the dialog filled to sign in again."""
    old_hub = address.start("old")
    old = sign_in(profiles, secrets, old_hub.url, "ktn", PW, allow_http=True)
    down = TransferStore(profiles.store).add(
        "download",
        f"{old.url}/api/v1/items/i1/renditions/broadcast",
        str(tmp_path / "a.mp4"),
        options={"profile": old.name},
    )
    SyncState(profiles.store, old.name).advance_feed(12)
    address.stop(old_hub)
    address.start("new")
    stopped: list[str] = []
    d = SignInDialog(
        profiles,
        secrets,
        profile=old,
        engine_lock=tmp_path / "engine.lock",
        before_move=lambda: stopped.append("engine stopped"),
    )
    qtbot.addWidget(d)
    d.show()
    qtbot.keyClicks(d.password, PW)
    return d, old, down, stopped


def test_another_hub_at_the_profiles_address_is_said_and_gets_none_of_its_queue(
    qtbot: Any,
    tmp_path: Path,
    address: Address,
    profiles: Profiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d, old, down, stopped = replaced_rig(qtbot, tmp_path, address, profiles, MemorySecrets())
    told: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox, "information", lambda _p, title, text, *a: told.append((title, text))
    )
    with qtbot.waitSignal(d.signed_in, timeout=15_000):
        click_sign_in(qtbot, d)
    assert stopped == ["engine stopped"]  # before the queue changed under it
    assert [p.name for p in profiles.list()] == [old.name]  # the same profile, its library
    assert len(told) == 1
    title, text = told[0]
    assert title == "Another hub at this address"
    plain = text.replace(WJ, "").replace(FSI, "").replace(PDI, "")  # (the address on one line)
    assert plain.startswith(f"The hub at {old.url} is not the one this workstation knew there")
    t = TransferStore(profiles.store).get(down)
    assert t is not None and t.state == "failed" and t.last_error == HUB_REPLACED_DOWNLOAD
    assert SyncState(profiles.store, old.name).feed_seq == 0


def test_another_engine_at_work_stops_it_and_says_what_to_do(
    qtbot: Any,
    tmp_path: Path,
    address: Address,
    profiles: Profiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d, old, down, _stopped = replaced_rig(qtbot, tmp_path, address, profiles, MemorySecrets())
    monkeypatch.setattr(QMessageBox, "information", lambda *a: pytest.fail("said done"))
    held = EngineLock(tmp_path / "engine.lock").acquire(say=False)
    try:
        click_sign_in(qtbot, d)
        qtbot.waitUntil(lambda: not d.busy, timeout=15_000)
    finally:
        held.release()
    assert d.error.text() == (
        "The hub at this address is another hub now, and this workstation's transfers must be "
        "made its own, but another ALU Desk (or alu watch run) is at work on them: close it, "
        "then sign in again."
    )
    t = TransferStore(profiles.store).get(down)
    assert t is not None and t.state == "queued"  # nothing changed
    assert SyncState(profiles.store, old.name).feed_seq == 12
