"""What the hub keeps between requests to answer them cheaply — checked tokens, the feed's
wake-ups — and that it never answers wrongly for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import requests
from sqlalchemy import update

from alu_hub.auth import TokenCache
from alu_hub.events import FeedBroker
from alu_hub.models import Member, Token
from tests.support.waiting import wait_until

from .conftest import LiveHub


def _member(name: str) -> Member:
    return Member(id=1, username=name, display_name=name, country="KE", role="member")


def test_token_cache_never_outlives_the_token() -> None:
    cache = TokenCache(ttl_s=60)
    now = dt.datetime.now(dt.UTC)
    cache.keep("a", _member("a"), now + dt.timedelta(seconds=30), cache.epoch)
    cache.keep("b", _member("b"), now + dt.timedelta(seconds=0.2), cache.epoch)
    assert cache.member("a") is not None
    time.sleep(0.3)  # the token's own expiry passing is the point
    assert cache.member("b") is None, "a token past its expiry must be read from the database"
    assert cache.member("a") is not None


def test_token_cache_forgets_and_keeps_its_size() -> None:
    cache = TokenCache(ttl_s=60, size=3)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    for name in "abcd":
        cache.keep(name, _member(name), later, cache.epoch)
    assert cache.member("a") is None  # the least recently used went first
    assert [cache.member(n).username for n in "bcd"] == ["b", "c", "d"]  # type: ignore[union-attr]
    cache.forget("c")
    assert cache.member("c") is None
    off = TokenCache(ttl_s=0)
    off.keep("a", _member("a"), later, off.epoch)
    assert off.member("a") is None


def test_a_row_read_before_a_sign_out_is_not_cached_after_it() -> None:
    cache = TokenCache(ttl_s=60)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    epoch = cache.epoch  # a request starts reading the token's row
    cache.forget("a")  # meanwhile another request signs the token out
    cache.keep("a", _member("a"), later, epoch)  # the first one's read was from before
    assert cache.member("a") is None


def test_a_token_revoked_elsewhere_stops_working_within_the_cache_time(
    live_hub: LiveHub,
) -> None:
    """Another replica's sign-out (or the agency's) changes only the database: this process
    must stop taking the token once its cache time is over."""
    s = live_hub.login("ktn")
    live_hub.hub.tokens.ttl_s = 0.5
    assert s.get(live_hub.api("/items"), timeout=10).status_code == 200  # checked, cached
    revoked = time.monotonic()
    with live_hub.hub.db.session() as db:
        db.execute(update(Token).values(revoked_at=dt.datetime.now(dt.UTC)))

    def refused() -> list[requests.Response]:
        r = s.get(live_hub.api("/history"), timeout=10)
        return [r] if r.status_code != 200 else []

    [r] = wait_until(refused, timeout=5, interval=0.05, what="the revoked token refused")
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_token"
    assert time.monotonic() - revoked < 0.5 + 1.0


def test_signing_out_ends_the_token_at_once_on_every_route(live_hub: LiveHub) -> None:
    s = live_hub.login("ktn")
    for path in ("/items", "/history", "/me"):  # each one checks it (and caches it)
        assert s.get(live_hub.api(path), timeout=10).status_code == 200
    assert s.delete(live_hub.api("/session"), timeout=10).status_code == 204
    for path in ("/items", "/history", "/me", "/events"):
        r = s.get(live_hub.api(path), timeout=10)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "bad_token", path


def test_a_wake_up_while_a_stream_reads_its_page_is_not_lost() -> None:
    """A stream notes the broker's generation, reads its page, then waits: an item published
    between its read and its wait must end the wait at once, not after the keep-alive."""

    async def scenario() -> tuple[bool, float, bool]:
        broker = FeedBroker()
        broker.bind(asyncio.get_running_loop())
        seen = broker.generation
        broker.notify()  # published while the stream was reading
        await asyncio.sleep(0.01)  # the wake-up has run: nobody was waiting yet
        began = time.monotonic()
        woke = await broker.wait(30, since=seen)
        took = time.monotonic() - began
        quiet = await broker.wait(0.05, since=broker.generation)
        return woke, took, quiet

    woke, took, quiet = asyncio.run(scenario())
    assert woke and took < 1.0
    assert quiet is False  # nothing new since: it waits the whole timeout
