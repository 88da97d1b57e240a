"""The audit trail (``alu_hub.audit``, ``alu-hub audit``): the operator's commands and the
agency's API calls that change the hub are recorded with who did them, in the action's own
transaction; a refused action leaves no record, and no record holds a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from alu_hub import audit, changes
from alu_hub.db import Database
from alu_hub.models import AuditRecord, Base, Item, Member
from tests.support.livehub import hub_database_url, hub_env

from .conftest import LiveHub

pytestmark = pytest.mark.timeout(240)


def hub_cli(live: LiveHub, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    data = live.hub.settings.data_dir
    return subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *args, "--data", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env=hub_env(data),
    )


def trail(live: LiveHub, *args: str) -> list[dict[str, Any]]:
    """``alu-hub audit --json ARGS``: the records, newest first."""
    r = hub_cli(live, "audit", "--json", *args)
    assert r.returncode == 0, r.stderr
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


def rows_text(live: LiveHub) -> str:
    """Every column of every audit record, as text."""
    with live.hub.db.session() as s:
        rows = s.scalars(select(AuditRecord)).all()
        return "\n".join(
            f"{r.id}|{r.at}|{r.via}|{r.actor}|{r.action}|{r.target}|{r.detail}" for r in rows
        )


def test_a_withdraw_through_the_cli_and_one_through_the_api_are_recorded_with_their_actor(
    live_hub: LiveHub, clip: Path
) -> None:
    first = live_hub.publish(clip, title="Floods")
    second = live_hub.publish(clip, title="Fire")
    live_hub.member("desk", role="agency")
    agency = live_hub.login("desk")

    r = hub_cli(live_hub, "items", "withdraw", "1", "--reason", "Embargo broken")
    assert r.returncode == 0, r.stderr
    got = agency.post(
        live_hub.api(f"/items/{second}/withdraw"), json={"reason": "Wrong footage"}, timeout=10
    )
    assert got.status_code == 200, got.text
    got = agency.patch(
        live_hub.api(f"/items/{first}"), json={"title": "X", "note": "x"}, timeout=10
    )  # withdrawn: refused, not recorded
    assert got.status_code == 409

    records = trail(live_hub)
    me = audit.cli_actor()
    assert [(x["via"], x["actor"], x["action"], x["target"], x["detail"]) for x in records] == [
        ("api", "desk", "item_withdraw", second, {"reason": "Wrong footage", "seq": 2}),
        ("cli", me.name, "item_withdraw", first, {"reason": "Embargo broken", "seq": 1}),
    ]
    assert "@" in me.name and me.via == "cli"

    # the table, newest first; a seq names its item; filters; one line when nothing is found
    r = hub_cli(live_hub, "audit")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Audit records from ") and lines[0].endswith(", newest first:")
    assert lines[1].split() == ["time", "(UTC)", "via", "actor", "action", "target", "detail"]
    assert lines[2].split()[2:6] == ["api", "desk", "item_withdraw", second]
    assert lines[3].split()[2:6] == ["cli", me.name, "item_withdraw", first]
    assert len(lines) == 4
    assert [x["target"] for x in trail(live_hub, "--target", "2")] == [second]
    assert trail(live_hub, "--action", "publish") == []
    r = hub_cli(live_hub, "audit", "--action", "publish", "--target", "ktn")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1
    assert r.stdout.startswith("No publish audit records of ktn from ")
    r = hub_cli(live_hub, "audit", "--from", "2020-01-01", "--to", "2020-01-31")
    assert r.stdout == "No audit records from 2020-01-01 to 2020-01-31.\n"
    r = hub_cli(live_hub, "audit", "--from", "2020-13-01")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr


def test_member_commands_and_a_correction_are_recorded_and_a_password_change_holds_no_secret(
    live_hub: LiveHub, clip: Path
) -> None:
    item_id = live_hub.publish(clip, title="Floods")
    live_hub.login("ktn")  # one live sign-in, ended by the new password
    secret = "N3w-Secret-Pa55"
    r = hub_cli(live_hub, "member", "password", "ktn", "--password-stdin", stdin=secret + "\n")
    assert r.returncode == 0, r.stderr
    for action in ("disable", "enable", "signout", "unlock"):
        r = hub_cli(live_hub, "member", action, "ktn")
        assert r.returncode == 0, r.stderr
    r = hub_cli(
        live_hub, "member", "add", "nbs", "--country", "UG", "--password-stdin", stdin=secret
    )
    assert r.returncode == 0, r.stderr
    r = hub_cli(
        live_hub, "items", "correct", item_id, "--title", "Floods in Kisumu", "--note", "Place"
    )
    assert r.returncode == 0, r.stderr
    r = hub_cli(live_hub, "member", "edit", "nbs", "--display-name", "NBS Uganda")
    assert r.returncode == 0, r.stderr
    assert hub_cli(live_hub, "member", "remove", "nbs").returncode == 0

    records = trail(live_hub)
    assert [(x["action"], x["target"], x["detail"]) for x in reversed(records)] == [
        (
            "member_password",
            "ktn",
            {"workstation_signins_ended": 1, "stats_page_sessions_ended": 0},
        ),
        ("member_disable", "ktn", {"workstation_signins_ended": 0, "stats_page_sessions_ended": 0}),
        ("member_enable", "ktn", {"workstation_signins_ended": 0, "stats_page_sessions_ended": 0}),
        ("member_signout", "ktn", {"workstation_signins_ended": 0, "stats_page_sessions_ended": 0}),
        ("member_unlock", "ktn", {"workstation_signins_ended": 0, "stats_page_sessions_ended": 0}),
        ("member_add", "nbs", {"role": "member"}),
        (
            "item_correct",
            item_id,
            {"fields": ["title"], "note": "Place", "revision": 2, "seq": 1},
        ),
        ("member_edit", "nbs", {"display_name": "NBS Uganda"}),
        ("member_remove", "nbs", {"role": "member", "workstation_signins_ended": 0}),
    ]
    assert {x["via"] for x in records} == {"cli"}
    with live_hub.hub.db.session() as s:
        hashes = list(s.scalars(select(Member.password_hash)))
    text = rows_text(live_hub) + hub_cli(live_hub, "audit").stdout
    assert secret not in text
    assert not [h for h in hashes if h in text]
    # and a record naming a secret is refused outright
    with live_hub.hub.db.session() as s, pytest.raises(ValueError, match="secret"):
        audit.record(s, audit.cli_actor(), "member_password", "ktn", {"password": secret})


def test_a_refused_action_leaves_no_record(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(clip, title="Floods")
    member = live_hub.login("ktn")
    live_hub.member("desk", role="agency")
    agency = live_hub.login("desk")

    assert hub_cli(live_hub, "items", "withdraw", "99", "--reason", "x").returncode == 2
    assert (
        hub_cli(live_hub, "items", "correct", "1", "--title", "Floods", "--note", "x").returncode
        == 2
    )
    assert hub_cli(live_hub, "member", "disable", "nobody").returncode == 2
    r = hub_cli(live_hub, "member", "password", "nobody", "--password-stdin", stdin="abcd1234\n")
    assert r.returncode == 2
    assert (
        hub_cli(live_hub, "member", "add", "ktn", "--country", "KE", "--password-stdin").returncode
        != 0
    )
    # a push of bytes already published is refused; with --force it is published
    again = hub_cli(live_hub, "publish", str(clip), "--title", "Clip")
    assert again.returncode == 1 and "Use --force" in again.stderr, again.stderr
    forced = hub_cli(live_hub, "publish", str(clip), "--title", "Clip again", "--force")
    assert forced.returncode == 0, forced.stderr
    url = live_hub.api(f"/items/{item_id}/withdraw")
    assert member.post(url, json={"reason": "mine"}, timeout=10).status_code == 403
    assert (
        agency.post(
            live_hub.api("/items/nope/withdraw"), json={"reason": "x"}, timeout=10
        ).status_code
        == 404
    )
    assert agency.post(url, json={"reason": " "}, timeout=10).status_code == 422
    patch = agency.patch(live_hub.api(f"/items/{item_id}"), json={"note": "n"}, timeout=10)
    assert patch.status_code == 422

    records = trail(live_hub)
    assert [(x["action"], x["detail"]["title"]) for x in records] == [("publish", "Clip again")]
    assert records[0]["detail"]["force"] is True and records[0]["detail"]["seq"] == 2


def test_the_record_is_in_the_actions_transaction(
    live_hub: LiveHub, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record that cannot be written undoes its action: no withdrawal without its record."""
    item_id = live_hub.publish(clip, title="Floods")

    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr(changes.audit, "record", broken)
    with pytest.raises(RuntimeError):
        changes.withdraw(live_hub.hub, item_id, "Legal", audit.Actor("api", "desk"))
    with live_hub.hub.db.session() as s:
        item = s.get(Item, item_id)
        assert item is not None and item.withdrawn_at is None and item.revision == 1


def test_migration_0009_goes_down_and_up(tmp_path: Path, hub_db: str) -> None:
    db = Database(hub_database_url(tmp_path))
    cfg = db.alembic_config()
    try:
        db.migrate()
        with db.session() as s:
            audit.record(s, audit.Actor("cli", "ops@hub"), "member_unlock", "ktn")
        command.downgrade(cfg, "0008")
        with db.engine.connect() as conn:
            assert not inspect(conn).has_table("audit")
        command.upgrade(cfg, "head")
        with db.session() as s:
            assert s.scalars(select(AuditRecord)).all() == []
            audit.record(s, audit.Actor("cli", "ops@hub"), "member_unlock", "ktn")
        with db.session() as s:
            assert [r.target for r in s.scalars(select(AuditRecord))] == ["ktn"]
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()
