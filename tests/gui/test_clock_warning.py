"""This computer's clock off from the hub's is said in the window (the status bar), in words a
newsroom user acts on — it was only in the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from alu_client.core.hub import HubClient
from alu_client.core.store import Store
from alu_client.core.sync import SyncState
from alu_client.ui.clock_warning import ClockWarning
from tests.gui.test_app_shell import SimplePanels, build_window, signed_in_services
from tests.support.livehub import LiveHub


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("offset", "text", "sentence"),
    [
        (-2 * 3600.0, "⚠ Clock 2 hours ahead", "This computer's clock is 2 hours ahead of the hub's: "
         "set it right in the system's date and time settings"),
        (2 * 86400.0, "⚠ Clock 2 days behind", "This computer's clock is 2 days behind the hub's: "
         "set it right in the system's date and time settings"),
        (-10 * 60.0, "⚠ Clock 10 minutes ahead", "is 10 minutes ahead of the hub's"),
    ],
)  # fmt: skip
def test_a_clock_off_is_said_with_what_to_do(
    qtbot: Any, store: Store, offset: float, text: str, sentence: str
) -> None:
    warning = ClockWarning(store, "desk")
    qtbot.addWidget(warning)
    said: list[str] = []
    warning.first_said.connect(said.append)
    warning.check()
    assert warning.isHidden()  # never measured
    SyncState(store, "desk").set_clock_offset(offset)
    warning.check()
    warning.check()
    assert not warning.isHidden()
    assert warning.text() == text and warning.accessibleName() == text
    assert sentence in warning.toolTip()
    assert said == [warning.toolTip()]  # once
    SyncState(store, "desk").set_clock_offset(90.0)  # set right
    warning.check()
    assert warning.isHidden()


def test_the_window_says_the_clock_the_sync_measured(
    qtbot: Any, live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = HubClient._note_clock

    def two_hours_fast(self: HubClient, resp: requests.Response) -> None:
        real(self, resp)
        if self.clock_offset is not None:
            self.clock_offset -= 2 * 3600.0

    monkeypatch.setattr(HubClient, "_note_clock", two_hours_fast)
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    window = build_window(qtbot, services, SimplePanels())
    try:
        clock = window.clock
        assert clock is not None
        qtbot.waitUntil(lambda: clock.isVisible(), timeout=20_000)
        assert clock.text() == "⚠ Clock 2 hours ahead"
        assert window.status.said.startswith("This computer's clock is 2 hours ahead of the hub's")
    finally:
        window.shutdown()
