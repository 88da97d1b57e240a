"""``alu-hub member password|disable|enable|signout|unlock``: what an operator does for a member
who forgot a password, left, lost a workstation or locked the account by mistyping, against a
hub that is serving meanwhile (the chore is a process of its own on the same database)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.livehub import LiveHub, hub_env
from tests.support.waiting import wait_until

PASSWORD = "old-pw-1234"
NEW = "new-pw-5678"


@pytest.fixture(autouse=True)
def short_token_cache(live_hub: LiveHub) -> None:
    """The serving hub's token cache kept 1 s, not the field's 5 s (auth.TOKEN_CACHE_S): the
    sign-ins ended by a chore are refused as soon, without each test waiting out 5 s."""
    live_hub.hub.tokens.ttl_s = 1.0


def chore(live_hub: LiveHub, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    data: Path = live_hub.tmp / "hub"
    return subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", "member", *args, "--data", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=hub_env(data),
    )


def sign_in(live_hub: LiveHub, password: str) -> requests.Response:
    return requests.post(
        live_hub.api("/session"),
        json={"username": "ktn", "password": password, "device": "pytest"},
        timeout=10,
    )


def refused_soon(session: requests.Session, live_hub: LiveHub) -> None:
    """The serving hub refuses the token within its cache time (``short_token_cache``)."""
    wait_until(
        lambda: session.get(live_hub.api("/me"), timeout=10).status_code == 401,
        15,
        interval=0.25,
        what="the hub to refuse the ended sign-in",
    )


def test_a_new_password_ends_the_old_sign_ins(live_hub: LiveHub) -> None:
    workstation = live_hub.login("ktn", PASSWORD)
    assert workstation.get(live_hub.api("/me"), timeout=10).status_code == 200
    r = chore(live_hub, "password", "ktn", "--password-stdin", stdin=NEW + "\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (
        "Changed the password of ktn; 1 workstation sign-in ended (they sign in again)."
    )
    refused_soon(workstation, live_hub)
    assert sign_in(live_hub, PASSWORD).status_code == 401
    assert sign_in(live_hub, NEW).status_code == 200


def test_a_disabled_member_cannot_sign_in_until_enabled(live_hub: LiveHub) -> None:
    workstation = live_hub.login("ktn", PASSWORD)
    r = chore(live_hub, "disable", "ktn")
    assert r.returncode == 0, r.stderr
    # (it said "(they sign in again)", which a disabled account cannot)
    assert (
        r.stdout.strip() == "Disabled ktn: it can no longer sign in; 1 workstation sign-in ended."
    )
    refused_soon(workstation, live_hub)
    # the right password is told the account is disabled (told "wrong password", a member
    # tried others until the sign-in limit locked it out); a wrong one learns nothing
    refused = sign_in(live_hub, PASSWORD)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This account is disabled; ask the agency."
    assert sign_in(live_hub, "not-the-password").status_code == 401
    for _ in range(live_hub.hub.settings.signin_max_failures_per_user + 1):
        assert sign_in(live_hub, PASSWORD).status_code == 403  # never a lock-out
    listed = chore(live_hub, "list")
    assert "(disabled)" in next(line for line in listed.stdout.splitlines() if "ktn" in line)
    assert chore(live_hub, "enable", "ktn").returncode == 0
    assert sign_in(live_hub, PASSWORD).status_code == 200


def test_signout_ends_a_stolen_workstations_sign_in_and_keeps_the_password(
    live_hub: LiveHub,
) -> None:
    stolen = live_hub.login("ktn", PASSWORD)
    r = chore(live_hub, "signout", "ktn")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Signed ktn out; 1 workstation sign-in ended (they sign in again)."
    refused_soon(stolen, live_hub)
    assert sign_in(live_hub, PASSWORD).status_code == 200


def test_unlock_lifts_a_lock_out(live_hub: LiveHub) -> None:
    live_hub.member("ktn", PASSWORD)
    limit = live_hub.hub.settings.signin_max_failures_per_user
    for _ in range(limit):
        sign_in(live_hub, "wrong")
    assert sign_in(live_hub, PASSWORD).status_code == 429  # locked out, the right one too
    r = chore(live_hub, "unlock", "ktn")
    assert r.returncode == 0, r.stderr
    assert sign_in(live_hub, PASSWORD).status_code == 200


def test_a_member_who_is_not_there_is_one_line(live_hub: LiveHub) -> None:
    live_hub.member("ktn", PASSWORD)
    r = chore(live_hub, "signout", "kbc")
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == (
        "alu-hub: there is no member named 'kbc' (see alu-hub member list)."
    )
    assert "Traceback" not in r.stderr


def test_a_chore_says_nothing_but_its_own_lines(live_hub: LiveHub) -> None:
    # alembic's "Context impl SQLiteImpl." / "Will assume non-transactional DDL." at every
    # command: an operator took them for a problem
    live_hub.member("ktn", PASSWORD)
    r = chore(live_hub, "list")
    assert r.returncode == 0 and "ktn" in r.stdout
    assert r.stderr == ""


def test_only_live_sign_ins_are_counted_as_ended(live_hub: LiveHub) -> None:
    """A member's sign-ins that expired long ago are not "ended" again: the figure tells an
    operator how many workstations a stolen password still reached (it said 4 for 1)."""
    import datetime as dt

    from sqlalchemy import select, update

    from alu_hub.models import Token, utcnow

    live_hub.login("ktn", PASSWORD)
    live = live_hub.login("ktn", PASSWORD)
    assert live.get(live_hub.api("/me"), timeout=10).status_code == 200
    with live_hub.hub.db.session() as s:
        oldest = min(s.scalars(select(Token.id)))
        s.execute(
            update(Token)
            .where(Token.id == oldest)
            .values(expires_at=utcnow() - dt.timedelta(days=1))
        )
        s.commit()
    r = chore(live_hub, "signout", "ktn")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Signed ktn out; 1 workstation sign-in ended (they sign in again)."
