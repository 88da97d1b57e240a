"""`alu get` and `alu sync` and the agency's withdrawals, end to end with a real hub (behind a
fault proxy that holds a download's body back while the agency withdraws its item):

- the hub had sent the whole file when the item was withdrawn: `alu get` verifies and keeps
  it, but learns of the withdrawal (the changes feed) before it reports: a warning with the
  reason, no path on stdout, exit status 3; `alu feed` shows it withdrawn;
- the download was cut and the hub refuses the rest (410 ``item_withdrawn``): `alu get` says
  the agency's reason, exit 1, and `alu feed --offline` shows the item withdrawn;
- `alu sync` names the library's items withdrawn (and the downloads that ended) or corrected.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.cli.withdrawn_notes import changes_lines
from alu_client.core.sync import ChangesRead
from tests.client import test_cli_hub as cli
from tests.client.test_withdrawn import make_item
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub, sha256_of

REASON = "Wrong footage: the clip shows another town"
#: the body is held back this far in (past the response's head)
HELD_AT = 4000


@pytest.fixture
def proxied(live_hub: LiveHub) -> Iterator[tuple[LiveHub, FaultProxy]]:
    live_hub.member("ktn", cli.PASSWORD)
    live_hub.member("desk-chief", role="agency")
    with FaultProxy(("127.0.0.1", live_hub.server.port)) as proxy:
        yield live_hub, proxy


def start_get(home: Path, item_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alu_client.cli", "get", item_id],
        env={**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"alu get did not end in {timeout} s: {out!r} {err!r}") from None
    return proc.returncode, out, err


def signed_in_through(proxy: FaultProxy, home: Path) -> None:
    out = cli.ok(cli.alu(home, "login", proxy.url, "--user", "ktn", "--password-stdin",
                         "--allow-http", stdin=cli.PASSWORD + "\n"))  # fmt: skip
    assert f"Signed in to {proxy.url}" in out


def withdraw(hub: LiveHub, item_id: str) -> None:
    agency = hub.login("desk-chief")
    r = agency.post(hub.api(f"/items/{item_id}/withdraw"), json={"reason": REASON})
    assert r.status_code == 200, r.text


def test_get_of_an_item_withdrawn_once_the_hub_had_sent_it_keeps_the_file_and_says_so(
    proxied: tuple[LiveHub, FaultProxy], clip: Path, tmp_path: Path
) -> None:
    hub, proxy = proxied
    item_id = hub.publish(clip, "Floods in Kisumu")
    home = tmp_path / "desk"
    signed_in_through(proxy, home)
    assert [i["id"] for i in cli.feed(home)] == [item_id]  # (known: get asks the hub nothing)

    proxy.stall_after(HELD_AT)  # the download's body, held back on the way
    get = start_get(home, item_id)
    proxy.wait_for_event("stall_after", timeout=60)
    withdraw(hub, item_id)  # (the hub had sent the whole file: it is small)
    proxy.release_stalls()
    status, out, err = finish(get)

    assert status == 3, err
    assert out == ""  # no path for a script to use
    lines = err.splitlines()
    assert any("sha256 verified, kept at" in line for line in lines), err
    warning = [line for line in lines if "warning" in line]
    assert len(warning) == 1 and REASON in warning[0] and "Do not use it" in warning[0], err
    path = Path(next(line for line in lines if "kept at" in line).split("kept at ", 1)[1])
    assert path.parent == home / "downloads"
    assert path.is_file() and sha256_of(path) == sha256_of(clip)

    listed = cli.ok(cli.alu(home, "feed", "--offline"))
    assert f"do not use: {REASON}" in listed
    item = json.loads(cli.ok(cli.alu(home, "feed", "--offline", "--json")))[0]
    assert item["withdrawn_reason"] == REASON
    assert item["files"] and item["files"][0]["state"] == "present"


def test_get_cut_then_refused_410_says_the_reason_and_feed_shows_it(
    proxied: tuple[LiveHub, FaultProxy], clip: Path, tmp_path: Path
) -> None:
    hub, proxy = proxied
    item_id = hub.publish(clip, "Floods in Kisumu")
    home = tmp_path / "desk"
    signed_in_through(proxy, home)
    cli.feed(home)

    proxy.stall_after(HELD_AT)
    get = start_get(home, item_id)
    proxy.wait_for_event("stall_after", timeout=60)
    withdraw(hub, item_id)
    proxy.reset_all()  # the body cut: the rest is asked for, and the hub answers 410
    status, out, err = finish(get)

    assert status == 1, err
    assert out == ""
    assert f"canceled: The agency withdrew this item: {REASON}" in err
    assert not list((home / "downloads").glob("*.mp4"))
    listed = cli.ok(cli.alu(home, "feed", "--offline"))
    assert "WITHDRAWN by the agency" in listed and f"do not use: {REASON}" in listed


def test_sync_names_the_items_withdrawn_and_corrected_and_the_downloads_canceled(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    live_hub.member("ktn", cli.PASSWORD)
    live_hub.member("desk-chief", role="agency")
    agency = live_hub.login("desk-chief")
    gone = live_hub.publish(clip, "Floods in Kisumu")
    fixed = live_hub.publish(clip, "Market fire", dateline="NAIROBI")
    home = tmp_path / "desk"
    cli.login(home, live_hub)
    cli.ok(cli.alu(home, "rules", "add", "everything", "--all"))
    out = cli.ok(cli.alu(home, "sync"))  # its rule queues both (no engine runs them)
    assert "queued 2 download(s)" in out
    assert "withdrawn" not in out and "corrected" not in out

    withdraw(live_hub, gone)
    note = "Dateline corrected: KISUMU"
    r = agency.patch(live_hub.api(f"/items/{fixed}"), json={"dateline": "KISUMU", "note": note})
    assert r.status_code == 200, r.text

    out = cli.ok(cli.alu(home, "sync"))
    lines = out.splitlines()
    said = f"1 item withdrawn by the agency: Floods in Kisumu ({REASON}); 1 download canceled."
    assert said in lines, out
    assert f"1 item corrected: Market fire ({note})." in lines, out
    queue = json.loads(cli.ok(cli.alu(home, "queue", "list", "--all", "--json")))
    states = {t["item_id"]: t["state"] for t in queue if t["direction"] == "download"}
    assert states[gone] == "canceled"
    # said once: the next sync has nothing new to say
    again = cli.ok(cli.alu(home, "sync"))
    assert "withdrawn" not in again and "corrected" not in again


def test_sync_lines_count_and_name_several_and_say_nothing_without_changes() -> None:
    when = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)
    gone = [
        make_item(1, title="Floods", withdrawn_at=when, withdrawn_reason="Legal\nproblem"),
        make_item(2, title="", withdrawn_at=when, withdrawn_reason=""),
    ]
    fixed = [make_item(3, title="Fire", corrected_at=when, correction_note="Slug")]
    assert changes_lines(ChangesRead()) == []
    assert changes_lines(ChangesRead(gone, fixed, 3)) == [
        f"2 items withdrawn by the agency: Floods (Legal problem), {gone[1].id} (-); "
        "3 downloads canceled.",
        "1 item corrected: Fire (Slug).",
    ]
    assert changes_lines(ChangesRead(gone[:1])) == [
        "1 item withdrawn by the agency: Floods (Legal problem)."
    ]


def test_a_day_of_corrections_is_one_short_line() -> None:
    # 150 corrections were one line of 12,000 characters, every title and note
    when = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)
    fixed = [
        make_item(n, title=f"Title {n}", corrected_at=when, correction_note="Slug")
        for n in range(150)
    ]
    (line,) = changes_lines(ChangesRead([], fixed))
    assert line == (
        "150 items corrected: Title 0 (Slug), Title 1 (Slug), Title 2 (Slug), Title 3 (Slug), "
        "Title 4 (Slug) and 145 more (`alu feed` lists them)."
    )
    six = [make_item(n, title=f"T{n}", withdrawn_at=when, withdrawn_reason="R") for n in range(6)]
    assert changes_lines(ChangesRead(six)) == [
        "6 items withdrawn by the agency: T0 (R), T1 (R), T2 (R), T3 (R), T4 (R) and 1 more "
        "(`alu feed` lists them)."
    ]


def test_watch_run_logs_each_item_withdrawn_or_corrected(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # the headless station said nothing, in its log or on stderr, and consumed the change: the
    # `alu sync` after it had nothing to say either, so no one was told
    live_hub.member("ktn", cli.PASSWORD)
    live_hub.member("desk-chief", role="agency")
    gone = live_hub.publish(clip, "Floods in Kisumu")
    fixed = live_hub.publish(clip, "Market fire", dateline="NAIROBI")
    home = tmp_path / "desk"
    cli.login(home, live_hub)
    cli.ok(cli.alu(home, "sync"))
    withdraw(live_hub, gone)
    note = "Dateline corrected: KISUMU"
    agency = live_hub.login("desk-chief")
    r = agency.patch(live_hub.api(f"/items/{fixed}"), json={"dateline": "KISUMU", "note": note})
    assert r.status_code == 200, r.text

    r = cli.alu(home, "watch", "run", "--seconds", "3")
    assert r.returncode == 0, r.stderr
    said = [
        f"item withdrawn by the agency, do not use it: Floods in Kisumu ({REASON}), id {gone}",
        f"item corrected by the agency: Market fire ({note}), id {fixed}",
    ]
    log_text = (home / "logs" / "alu-client.log").read_text(encoding="utf-8")
    for words in said:
        assert f"alu: WARNING: {words}" in r.stderr.splitlines(), r.stderr
        assert f"WARNING sync-feed alu_client.core.withdrawn: {words}" in log_text, log_text
    # said once, by the engine: the sync after has nothing new
    again = cli.ok(cli.alu(home, "sync"))
    assert "withdrawn" not in again and "corrected" not in again
