"""A sign-in the hub does not answer at once (a link's outage of some seconds, a connection a
NAT dropped) is asked again for a while before it fails, and then says what to do; a refused
password or an address where nothing listens is said at once. Loopback: the hub behind the
fault proxy, whose stalls hold the hub's answers as a dead link does."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core import hub as hub_module
from alu_client.core.credentials import MemorySecrets
from alu_client.core.hub import AuthError, Connection, HubClient, HubError
from alu_client.core.profiles import Profiles, sign_in
from alu_client.core.store.db import Store
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub

PW = "pw-ktn-123"
ADVICE = (
    "did not answer in time. Check the workstation's connection (or the proxy), then try again."
)


@pytest.fixture
def proxy(live_hub: LiveHub) -> Iterator[FaultProxy]:
    live_hub.member("ktn", PW)
    with FaultProxy(("127.0.0.1", live_hub.server.port)) as p:
        yield p


def client(url: str) -> HubClient:
    # each try waits 1 s for its answer here (10 s in the field)
    return HubClient(Connection(url, allow_http=True, device="desk-1", read_timeout=1.0))


def test_a_sign_in_whose_first_try_gets_no_answer_goes_through_on_the_next(
    proxy: FaultProxy,
) -> None:
    # the first try's answer is held for good (sent into a link's outage); the next one, a
    # moment later, is answered: signed in, the user told in the meantime
    proxy.stall_after(0, "down", times=1)
    retried: list[int] = []
    began = time.monotonic()
    answer = client(proxy.url).sign_in("ktn", PW, patience=6.0, on_retry=retried.append)
    assert answer.member.username == "ktn"
    assert retried == [2]
    assert time.monotonic() - began < 4.0


def test_a_hub_that_never_answers_fails_after_the_patience_with_advice(
    proxy: FaultProxy,
) -> None:
    proxy.stall_after(0, "down", times=100)
    retried: list[int] = []
    began = time.monotonic()
    with pytest.raises(hub_module.NoAnswer) as caught:
        client(proxy.url).sign_in("ktn", PW, patience=4.0, on_retry=retried.append)
    took = time.monotonic() - began
    assert str(caught.value) == f"The hub at {proxy.url.rstrip('/')} {ADVICE}"
    assert retried == [2]  # tried twice in the 4 s, not more
    assert 2.0 < took < 5.0, took


def test_a_sign_in_the_hub_may_have_counted_is_sent_again_once_at_most(
    proxy: FaultProxy,
) -> None:
    # the hub counts a try against the account's sign-in limit before it checks the password:
    # a mistyped one whose answers were lost counted three times (locked after four typos)
    proxy.stall_after(0, "down", times=100)
    retried: list[int] = []
    with pytest.raises(hub_module.NoAnswer):
        client(proxy.url).sign_in("ktn", "typo", patience=12.0, on_retry=retried.append)
    assert retried == [2]
    assert proxy.connections == 2


def test_a_refused_password_or_a_closed_port_is_said_at_once(proxy: FaultProxy) -> None:
    retried: list[int] = []
    began = time.monotonic()
    with pytest.raises(AuthError):
        client(proxy.url).sign_in("ktn", "wrong", on_retry=retried.append)
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(HubError, match="cannot be reached") as caught:
        client(closed).sign_in("ktn", PW, on_retry=retried.append)
    assert not isinstance(caught.value, hub_module.NoAnswer)
    assert retried == []
    assert time.monotonic() - began < 2.0


def test_alu_login_tries_again_then_says_what_to_do(
    proxy: FaultProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `alu login` in a 10 s outage: "alu: The hub at … did not answer in time." after 10.5 s,
    # exit 1, nothing about what to do
    from alu_client import cli

    monkeypatch.setattr(hub_module, "SIGN_IN_PATIENCE_S", 4.0, raising=False)
    monkeypatch.setattr(hub_module, "SIGN_IN_TRY_READ_S", 1.0, raising=False)
    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "desk"))
    monkeypatch.setenv("ALU_SECRETS", "insecure-file")
    proxy.stall_after(0, "down", times=100)
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    args = ["login", proxy.url, "--user", "ktn", "--password-stdin", "--allow-http"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    hub_url = proxy.url.rstrip("/")
    assert f"alu: the hub at {hub_url} has not answered yet; trying again…" in err
    assert f"alu: The hub at {hub_url} {ADVICE}" in err

    # the link back: the same command signs in
    proxy.clear_faults()
    proxy.release_stalls()
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert cli.main(args) == 0
    assert "Signed in to" in capsys.readouterr().out


def test_the_sign_in_in_the_profile_goes_through_a_short_outage(
    proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "SIGN_IN_TRY_READ_S", 1.0, raising=False)
    proxy.stall_after(0, "down", times=1)
    store = Store(tmp_path / "library.sqlite3")
    try:
        retried: list[int] = []
        profile = sign_in(
            Profiles(store),
            MemorySecrets(),
            proxy.url,
            "ktn",
            PW,
            allow_http=True,
            on_retry=retried.append,
        )
        assert profile.username == "ktn" and retried == [2]
    finally:
        store.close()
