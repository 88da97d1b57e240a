"""`alu whoami` when the hub answers but fails: JSON for a script whatever the hub does (a 500,
a 503, an answer that is no ALU data printed nothing on stdout with --json; only a dropped
link gave the documented ``"online": false``), and who is signed in, in plain text too."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.test_cli_hub import PASSWORD, alu
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub


@pytest.fixture
def through_proxy(live_hub: LiveHub, tmp_path: Path) -> Iterator[tuple[Path, FaultProxy]]:
    """A workstation signed in to the hub through a proxy that can answer for it."""
    live_hub.member("ktn", PASSWORD)
    host, port = live_hub.url.removeprefix("http://").split(":")
    with FaultProxy((host, int(port))) as proxy:
        home = tmp_path / "desk"
        r = alu(home, "login", proxy.url, "--user", "ktn", "--password-stdin", "--allow-http",
                stdin=PASSWORD + "\n")  # fmt: skip
        assert r.returncode == 0, r.stderr
        yield home, proxy


FAILURES = {
    "500 page": (500, {"Content-Type": "text/html"}, b"<html><body>Internal error</body></html>"),
    "503 retry in an hour": (503, {"Retry-After": "3600"}, b""),
    "200 of garbage": (200, {"Content-Type": "application/json"}, b"{not json"),
}


def _whoami(
    home: Path, proxy: FaultProxy, failure: str, *args: str
) -> subprocess.CompletedProcess[str]:
    status, headers, body = FAILURES[failure]
    proxy.inject_http_response(status, headers, body, times=20)
    return alu(home, "whoami", *args)


@pytest.mark.parametrize("failure", list(FAILURES))
def test_whoami_json_is_json_when_the_hub_fails(
    through_proxy: tuple[Path, FaultProxy], failure: str
) -> None:
    home, proxy = through_proxy
    r = _whoami(home, proxy, failure, "--json")
    said = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert said["signed_in"] is True and said["online"] is False
    assert said["username"] == "ktn" and said["hub"] == proxy.url
    assert said["error"] and "trying again later" not in said["error"]


@pytest.mark.parametrize("failure", list(FAILURES))
def test_whoami_says_who_is_signed_in_when_the_hub_fails(
    through_proxy: tuple[Path, FaultProxy], failure: str
) -> None:
    home, proxy = through_proxy
    r = _whoami(home, proxy, failure)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith(f"ktn on {proxy.url} (profile ") and "; offline: " in line, line
    assert "trying again later" not in line and "Traceback" not in r.stderr


def test_whoami_json_says_a_refused_sign_in_is_no_sign_in(
    through_proxy: tuple[Path, FaultProxy],
) -> None:
    home, proxy = through_proxy
    proxy.inject_http_response(
        401, {"Content-Type": "application/json"}, b'{"detail": "token revoked"}', times=20
    )
    r = alu(home, "whoami", "--json")
    said = json.loads(r.stdout)
    assert r.returncode == 1
    assert said["signed_in"] is False and said["username"] == "ktn" and said["error"]
