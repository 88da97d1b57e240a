"""Inputs at the edges of what the hub can hold — numbers past a 64-bit column, dates past
Python's calendar, clocks centuries off, text that is not Unicode, names longer than their
column — are refused with a clear 4xx (the API's JSON error body, the page's own message, the
command's one-line error), never a 500 or a traceback; on SQLite and on PostgreSQL
(tests/hub/conftest.py runs this module on both)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from alu_hub.models import MAX_BIGINT

from .conftest import LiveHub, start_hub

TOO_BIG = MAX_BIGINT + 1  # 2**63


def refused(r: requests.Response, status: int = 422, code: str = "invalid_request") -> str:
    """The hub's JSON error body with ``status`` and ``code``; returns its message."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    error = r.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


@pytest.fixture
def ktn(live_hub: LiveHub) -> requests.Session:
    return live_hub.login("ktn")


# --- 1. numbers past a 64-bit column ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/items", "/history", "/events"])
def test_a_cursor_past_64_bits_is_refused(
    live_hub: LiveHub, ktn: requests.Session, path: str
) -> None:
    for after in (TOO_BIG, 10**30):
        r = ktn.get(live_hub.api(path), params={"after": after}, timeout=10)
        assert "after" in refused(r)


@pytest.mark.parametrize("path", ["/items", "/history"])
def test_the_largest_cursor_still_answers(
    live_hub: LiveHub, ktn: requests.Session, path: str
) -> None:
    r = ktn.get(live_hub.api(path), params={"after": MAX_BIGINT}, timeout=10)
    assert r.status_code == 200 and r.json()["next"] == MAX_BIGINT and r.json()["more"] is False


@pytest.fixture
def quick_hub(tmp_path: Path) -> Iterator[LiveHub]:
    """A hub whose event stream sends a keep-alive every 0.2 s."""
    h = start_hub(tmp_path, sse_keepalive_s=0.2)
    yield h
    h.server.stop()
    h.hub.db.dispose()


# ``²`` (0xB2 in a header, read as Latin-1) passes str.isdigit() but not int()
@pytest.mark.parametrize("last_event_id", [str(TOO_BIG), "9" * 40, "\xb2", "1\xb9\xb2\xb3"])
def test_a_last_event_id_the_hub_never_sent_starts_from_now(
    quick_hub: LiveHub, last_event_id: str
) -> None:
    s = quick_hub.login("ktn")
    headers = {"Last-Event-ID": last_event_id.encode("latin-1")}
    with s.get(quick_hub.api("/events"), headers=headers, stream=True, timeout=10) as r:
        assert r.status_code == 200
        lines = r.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 5000"
        assert ": keep-alive" in [next(lines) for _ in range(3)]
