"""Answers a retry does not mend, said for what they are: an answer with two different
Content-Length values (a framing error, RFC 9112 §6.3) was "could not be reached; trying again"
for ever; a proxy's 407 to a user name and password that were given was worded as if none had
been ("Give them with …")."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from alu_client.core.http import CONFLICTING_LENGTHS_MESSAGE, connection_failure
from tests.client.test_behind_proxy import alu, via
from tests.support.rawanswer import RawAnswer
from tests.support.squid import start_squid

pytestmark = pytest.mark.timeout(240)

TWO_LENGTHS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 1000\r\n"
    b"Content-Length: 2000\r\nConnection: close\r\n\r\n" + b"x" * 1000
)


@pytest.fixture
def two_lengths() -> object:
    server = RawAnswer(TWO_LENGTHS)
    yield server
    server.close()


def test_an_answer_with_two_lengths_is_said_and_not_tried_again(
    two_lengths: RawAnswer, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{two_lengths.port}/two.mp4"
    code, _, err = alu(tmp_path / "home", "fetch", url, str(tmp_path / "two.mp4"), env={})
    assert code == 1, err
    assert err.strip().splitlines()[-1] == (
        "alu: two.mp4: The server sent an answer that is not valid HTTP: two different lengths "
        "(Content-Length) for one answer. It is not tried again; tell whoever runs the server."
    ), err
    assert "could not be reached" not in err
    assert not (tmp_path / "two.mp4").exists()


def test_an_upload_meeting_two_lengths_fails_for_good(two_lengths: RawAnswer) -> None:
    # (uploads and downloads read a request's failure with the same words)
    url = f"http://127.0.0.1:{two_lengths.port}/uploads/"
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(requests.RequestException) as raised:
            session.post(url, data=b"")
        assert connection_failure(raised.value, session, url) == (
            CONFLICTING_LENGTHS_MESSAGE,
            True,
        )


def test_a_proxy_login_given_and_refused_is_said_refused_not_missing(tmp_path: Path) -> None:
    # the proxy takes only the desk's own login; this one is wrong. Nothing is reached behind
    # the proxy: it answers 407 first, to a plain request as to a tunnel (CONNECT)
    with start_squid(policy="desk-password") as squid:
        wrong = squid.url.replace("http://", "http://desk:not-it@")
        refused = (
            f"The network's proxy ({squid.url}) did not accept the user name and password given "
            "for it (HTTP 407) to reach"
        )
        check = (
            "Check them where they were given (the profile's proxy, in the app's settings or with"
            " alu login --proxy, or the system's proxy setting such as HTTPS_PROXY), or ask the"
            " network's administrator."
        )
        for i, hub in enumerate(("http://127.0.0.1:9", "https://127.0.0.1:9")):
            args = ("login", hub, "--user", "ktn", "--password-stdin", "--proxy", wrong)
            code, out, err = alu(
                tmp_path / f"login{i}", *args, "--allow-http", env={}, stdin="pw\n"
            )
            assert code == 1, (out, err)
            assert f"{refused} the hub at {hub}. {check}" in err, err
            assert "not-it" not in out + err
        for i, url in enumerate(("http://127.0.0.1:9/x.mp4", "https://127.0.0.1:9/x.mp4")):
            fetch = ("fetch", url, str(tmp_path / "x.mp4"))
            code, out, err = alu(tmp_path / f"fetch{i}", *fetch, env=via(wrong) | https(wrong))
            assert code == 1, err
            # (a download names the proxy it went through when it knows it, a tunnel's, by its
            # host: a transfer's messages hold no address)
            named = "" if url.startswith("http:") else f" ({squid.url.partition('//')[2]})"
            assert f"The network's proxy{named} did not accept the user name and password" in err
            assert f"given for it (HTTP 407) to reach 127.0.0.1. {check}" in err, err
            assert "not-it" not in out + err
            # none given: what is missing, and where to give it
            code, out, err = alu(
                tmp_path / f"none{i}", *fetch, env=via(squid.url) | https(squid.url)
            )
            assert code == 1, err
            assert f"The network's proxy{named} wants a user name and password" in err
            assert "Give them with the profile's proxy" in err


def https(proxy: str) -> dict[str, str]:
    return {"https_proxy": proxy, "HTTPS_PROXY": proxy}
