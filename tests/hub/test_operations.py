"""What a hub operator meets: the access log (no secrets in it). Against a real uvicorn on
loopback."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from alu_hub.server import REDACTED, redact_query
from tests.support.livehub import LiveHub

pytestmark = pytest.mark.timeout(60)


class Captured(logging.Handler):
    """The records logged to some loggers while it is attached (at any level)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, name: str = "") -> list[str]:
        return [r.getMessage() for r in self.records if r.name.startswith(name)]


@contextlib.contextmanager
def captured(*names: str, level: int = logging.DEBUG) -> Iterator[Captured]:
    handler = Captured()
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(level)
    try:
        yield handler
    finally:
        for lg, old in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(old)


# --- the access log ---------------------------------------------------------------------------


def test_a_signed_download_link_is_not_in_the_access_log(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(clip)
    s = live_hub.login("ktn")
    link = s.post(live_hub.api(f"/items/{item_id}/renditions/broadcast/link"), timeout=10).json()
    sig = parse_qs(urlsplit(link["url"]).query)["sig"][0]
    with captured("uvicorn.access", level=logging.INFO) as log:
        got = requests.get(link["url"], timeout=10)
        assert got.status_code == 200
    [line] = [x for x in log.lines("uvicorn.access") if "/renditions/broadcast" in x]
    assert sig not in line
    assert f"sig={REDACTED}" in line and " 200" in line
    assert f"/api/v1/items/{item_id}/renditions/broadcast?m=" in line  # the rest stays


def test_token_like_query_values_are_redacted_and_the_rest_kept() -> None:
    target = (
        "/x?after=5&token=t0k&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12&%73ig=s1&month=2026-10"
    )
    assert redact_query(target) == (
        f"/x?after=5&token={REDACTED}&X-Amz-Credential={REDACTED}&X-Amz-Signature={REDACTED}"
        f"&%73ig={REDACTED}&month=2026-10"
    )
    assert redact_query("/api/v1/items?after=3") == "/api/v1/items?after=3"
