"""A server's words on the user's terminal: a hub's error message, an item's title, a tus
server's JSON error go to `alu` without what a terminal would obey — ESC sequences that clear
it, retitle its window or recolour it, a CR and LF that forge an "alu:" line of their own,
direction overrides — and still say what the server said, in any script."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from alu_client import cli
from alu_client.core.hub import Connection, Forbidden, HubClient
from alu_client.core.plain_text import json_text, one_line
from alu_client.core.transfers.upload.protocol import _hub_words
from tests.support.hostile import TOKEN, FakeHub

#: what a hostile server writes: retitle the window, clear the screen, forge a line
EVIL = "Refused\x1b]0;PWNED\x07\x1b[2J\r\nalu: your files were deleted"
SAID = "Refused ]0;PWNED [2J alu: your files were deleted"


def obeyed(text: str) -> list[str]:
    """What of ``text`` a terminal would obey or hide: controls, separators, bidi controls."""
    return [c for c in text if c in "\x1b\x07\r\n\x9b\u202e\u2066\u200f\u2028"]


# --- the words, one line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (EVIL, SAID),
        ("clip\u202egnp.exe", "clipgnp.exe"),  # an override: shown as "clipexe.png"
        ("\u2066evil\u2069\u200b\ufeff\u200e ok", "evil ok"),
        ("tab\there\x9b31m  and\u2028there\x7f", "tab here 31m and there"),
        ("half \ud800 a pair", "half a pair"),
        ("   ", ""),
        # a script's own words stay, bidi marks inside them go (a terminal line has no use
        # for them; the app keeps them in titles); the joiners that shape words stay
        (
            "\u0627\u0644\u0627\u0646\u062a\u062e\u0627\u0628\u0627\u062a\u200f \u0641\u064a",
            "\u0627\u0644\u0627\u0646\u062a\u062e\u0627\u0628\u0627\u062a \u0641\u064a",
        ),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
        ("Élections à Dakar\u00a0: la campagne s’achève", "Élections à Dakar\u00a0: la campagne s’achève"),
    ],
    ids=["escapes", "override", "isolates", "controls", "surrogate", "blank", "arabic",
         "persian-zwnj", "french"],
)  # fmt: skip
def test_one_line_keeps_the_words_and_drops_what_a_terminal_obeys(text: str, line: str) -> None:
    assert one_line(text) == line


def test_json_text_escapes_what_a_terminal_obeys_and_reads_back_the_same() -> None:
    data = {"title": EVIL + "\x9b\u202e\U000e0001\ud800 é ش", "n": 1}
    text = json_text(data)
    assert obeyed(text) == [] and "\U000e0001" not in text and "\ud800" not in text
    assert "é ش" in text  # the words as they are, not escaped
    assert json.loads(text) == data


# --- the hub's error message -----------------------------------------------------------------------


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub(b"hello")
    yield hub
    hub.stop()


def test_a_hub_error_message_is_one_line_without_controls(fake_hub: FakeHub) -> None:
    fake_hub.routes["/api/v1/items/x1"] = lambda h: h.send_json(
        {"error": {"code": "forbidden", "message": EVIL}}, 403
    )
    client = HubClient(Connection(fake_hub.url, allow_http=True), token=TOKEN)
    with pytest.raises(Forbidden) as refused:
        client.item("x1")
    assert str(refused.value) == SAID
    fake_hub.routes["/api/v1/items/x1"] = lambda h: h.send_json(
        {"error": {"code": "forbidden", "message": "\x1b\x07\r\n\u202e"}}, 403
    )
    with pytest.raises(Forbidden, match=r"^The hub does not allow this account to do that\.$"):
        client.item("x1")  # nothing left of it: the client's own words


# --- a tus server's error --------------------------------------------------------------------------


def answer(status: int, body: object, ctype: str = "application/json") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.url = "http://127.0.0.1:9/files/"
    r.headers["Content-Type"] = ctype
    r._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return r


@pytest.mark.parametrize(
    "body",
    [{"error": {"code": "bad", "message": EVIL}}, {"detail": EVIL}],
    ids=["hub-json", "fastapi-detail"],
)
def test_a_tus_servers_error_is_one_line_without_controls(body: object) -> None:
    assert _hub_words(answer(400, body)) == SAID


def test_a_tus_servers_plain_text_error_is_one_line_without_controls() -> None:
    assert _hub_words(answer(400, EVIL + "\x9b", "text/plain")) == SAID


# --- on the terminal: alu -----------------------------------------------------------------------


@pytest.fixture
def home(fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder signed in to the fake hub, for `alu` run in this process."""
    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path))
    monkeypatch.setenv("ALU_SECRETS", "insecure-file")
    monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
    args = ["--user", "ktn", "--password-stdin", "--allow-http", "--accept-plain-secrets"]
    assert cli.main(["login", fake_hub.url, *args]) == 0
    return tmp_path


def test_alu_feed_shows_a_title_without_what_a_terminal_obeys(
    fake_hub: FakeHub, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item = fake_hub.add_item("it1", title=EVIL)
    item["restrictions"] = "No access\x1b[8m Kenya"
    item["language"] = "e\x1b"
    capsys.readouterr()
    assert cli.main(["feed"]) == 0
    out = capsys.readouterr().out
    assert obeyed(out) == ["\n", "\n"]  # the item's line and its restrictions', nothing else
    assert out.splitlines()[0].endswith(f"  e   it1  {SAID}")
    assert out.splitlines()[1] == "      Restrictions: No access [8m Kenya"
    assert cli.main(["feed", "--offline", "--json"]) == 0
    text = capsys.readouterr().out
    assert "\x1b" not in text
    assert json.loads(text)[0]["title"] == EVIL  # the data itself, exactly


def test_alu_says_a_hub_error_on_one_line(
    fake_hub: FakeHub, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = "x1".ljust(32, "0")  # (a whole id: `alu get` refuses fewer than 4 characters)
    fake_hub.routes[f"/api/v1/items/{whole}"] = lambda h: h.send_json(
        {"error": {"code": "forbidden", "message": EVIL}}, 403
    )
    capsys.readouterr()
    assert cli.main(["get", whole]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"alu: {SAID}"  # its own line: no "alu: your files …"
    assert obeyed(err) == ["\n"] * len(err.splitlines())


def test_a_failed_download_of_an_item_says_its_title_on_one_line(
    fake_hub: FakeHub, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the transfer's label is the item's title: the error line and the queue's listing
    whole = "it1".ljust(32, "0")  # (a whole id: `alu get` refuses fewer than 4 characters)
    fake_hub.add_item(whole, title=EVIL)
    fake_hub.routes[f"/files/{whole}"] = lambda h: h.send(404, b"gone")
    capsys.readouterr()
    assert cli.main(["get", whole]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"alu: {SAID}: ")
    assert obeyed(err) == ["\n"] * len(err.splitlines())
    assert cli.main(["queue", "list", "--all"]) == 0
    out = capsys.readouterr().out
    assert SAID in out and obeyed(out) == ["\n"] * len(out.splitlines())
