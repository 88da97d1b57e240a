"""`alu-hub` as an operator uses it, and the pieces under it: demo seed, publishing, schema."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, text

from alu_hub import cli as hub_cli_module
from alu_hub.app import build_hub, create_app
from alu_hub.db import Database, SchemaTooNew
from alu_hub.demo import DEMO_MARK, MEMBERS, NotADemoHub, claim_for_demo, ensure_member, seed_demo
from alu_hub.hub import Hub
from alu_hub.models import Item, KeyValue, Member
from alu_hub.publish import ItemFields, PublishError, publish_file
from alu_hub.server import free_port, serve_in_thread
from alu_hub.settings import Settings, SettingsError
from tests.support.livehub import hub_database_url, hub_env, hub_settings


def hub_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``alu-hub`` on the test's database (``--data`` names the hub)."""
    data = Path(args[args.index("--data") + 1]) if "--data" in args else None
    return subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=hub_env(data) if data is not None else None,
    )


def test_no_alu_hub_command_pays_for_a_password_hash_at_its_start() -> None:
    # the hash a made-up name is verified against was made as alu_hub.auth was imported: an
    # Argon2 hash (~0.15 s) at the start of every command (member list, stats, publish…),
    # and of every process of the tests that run one
    code = (
        "import argon2\n"
        "made = []\n"
        "real = argon2.PasswordHasher.hash\n"
        "argon2.PasswordHasher.hash = lambda self, *a, **k: made.append(1) or real(self, *a, **k)\n"
        "import alu_hub.auth, alu_hub.cli, alu_hub.hub\n"
        "print('HASHES', len(made))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["HASHES", "0"], r.stdout + r.stderr


def test_member_add_publish_and_stats(tmp_path: Path, clip: Path) -> None:
    data = str(tmp_path / "hub")
    r = hub_cli(
        "member",
        "add",
        "ktn",
        "--country",
        "KE",
        "--password-stdin",
        "--data",
        data,
        stdin="pa55word\n",
    )
    assert r.returncode == 0, r.stderr
    again = hub_cli(
        "member", "add", "ktn", "--country", "KE", "--password-stdin", "--data", data, stdin="x\n"
    )
    assert again.returncode != 0 and "exists already" in again.stderr
    script = tmp_path / "script.txt"
    script.write_text("أمطار غزيرة في الخرطوم", encoding="utf-8")
    r = hub_cli(
        "publish",
        str(clip),
        "--data",
        data,
        "--title",
        "أمطار في الخرطوم",
        "--language",
        "ar",
        "--priority",
        "flash",
        "--dateline",
        "الخرطوم، السودان",
        "--script-file",
        str(script),
    )
    assert r.returncode == 0, r.stderr
    assert "Published" in r.stdout

    settings = hub_settings(Path(data))
    server = serve_in_thread(create_app(settings))
    try:
        tok = requests.post(
            f"{server.url}/api/v1/session",
            json={"username": "ktn", "password": "pa55word"},
            timeout=10,
        )
        assert tok.status_code == 200
        items = requests.get(
            f"{server.url}/api/v1/items",
            headers={"Authorization": f"Bearer {tok.json()['token']}"},
            timeout=10,
        ).json()["items"]
        assert len(items) == 1
        assert items[0]["title"] == "أمطار في الخرطوم" and items[0]["priority"] == "flash"
        assert items[0]["script"] == "أمطار غزيرة في الخرطوم"
    finally:
        server.stop()

    st = hub_cli("stats", "--data", data, "--json")
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["pushes"] == 1
    human = hub_cli("stats", "--data", data)
    assert "1 push, 0 downloads, 0 uploads by 0 members" in human.stdout


def test_publish_rejects_bad_input_with_clear_errors(tmp_path: Path) -> None:
    data = str(tmp_path / "hub")
    build_hub(hub_settings(Path(data))).db.dispose()  # publish needs a hub to publish in
    not_video = tmp_path / "notes.txt"
    not_video.write_text("not a video")
    r = hub_cli("publish", str(not_video), "--data", data, "--title", "x")
    assert r.returncode != 0 and "notes.txt" in r.stderr and "Traceback" not in r.stderr
    r = hub_cli("publish", str(tmp_path / "missing.mp4"), "--data", data, "--title", "x")
    assert r.returncode != 0 and "is not a file" in r.stderr
    r = hub_cli("publish", str(not_video), "--data", data, "--title", "x", "--language", "de")
    assert r.returncode != 0 and "invalid choice" in r.stderr


def test_publish_refuses_what_it_would_have_cut(tmp_path: Path, clip: Path) -> None:
    """A text over its limit, a country that is not a two-letter code: refused in one line,
    exit 2, nothing published, as a member's upload is (they were cut without a word: a
    25,000-character script stored as 19,999, "--country Nigeria" as NI, Nicaragua)."""
    data = tmp_path / "hub"
    build_hub(hub_settings(data)).db.dispose()
    script = tmp_path / "script.txt"
    script.write_text(("Paragraph of the script. " * 1000)[:24_999] + ".", encoding="utf-8")
    for extra, said in (
        (
            ["--script-file", str(script)],
            "The script is too long (25000 characters; at most 20000).",
        ),
        (["--title", "A" * 600], "The title is too long (600 characters; at most 500)."),
        (["--slug", "S" * 201], "The slug is too long (201 characters; at most 200)."),
        # the words member add says, quoting what was typed (it said "… not 'NIGERIA'.")
        (
            ["--country", "Nigeria"],
            "--country takes a country's ISO 3166 two-letter code, e.g. KE, not 'Nigeria'.",
        ),
        (
            ["--country", "K1"],
            "--country takes a country's ISO 3166 two-letter code, e.g. KE, not 'K1'.",
        ),
    ):
        args = ["publish", str(clip), "--data", str(data), "--title", "Floods", *extra]
        r = hub_cli(*args)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == f"alu-hub: {said} Nothing was published."
    with Database(hub_settings(data).db_url).session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
    # at the limit, and a code in lower case: taken as given (upper-cased)
    script.write_text("s" * 20_000, encoding="utf-8")
    r = hub_cli(
        "publish",
        str(clip),
        "--data",
        str(data),
        "--title",
        "T" * 500,
        "--country",
        "ng",
        "--script-file",
        str(script),
    )
    assert r.returncode == 0, r.stderr
    with Database(hub_settings(data).db_url).session() as s:
        item = s.scalars(select(Item)).one()
        assert (len(item.title), len(item.script), item.country) == (500, 20_000, "NG")
    with pytest.raises(PublishError, match="two-letter"):
        ItemFields(title="x", country="Nigeria").validated()


def test_publish_takes_the_restrictions_from_a_file(tmp_path: Path, clip: Path) -> None:
    """``--restrictions-file``, as ``--script-file``: UTF-8 text taken whole (a contract's terms
    run to lines), the same limit and words; with ``--restrictions`` too, refused (which one
    would count?)."""
    data = tmp_path / "hub"
    build_hub(hub_settings(data)).db.dispose()
    terms = tmp_path / "restrictions.txt"
    publish = ["publish", str(clip), "--data", str(data), "--title", "Floods"]
    terms.write_text("r" * 20_001, encoding="utf-8")
    r = hub_cli(*publish, "--restrictions-file", str(terms))
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        "alu-hub: The restrictions is too long (20001 characters; at most 20000). "
        "Nothing was published."
    )
    terms.write_bytes("Interdit au Sénégal".encode("latin-1"))
    r = hub_cli(*publish, "--restrictions-file", str(terms))
    assert (r.returncode, r.stderr.strip()) == (  # (exit 2, as the other refusals: was 1)
        2,
        f"alu-hub: --restrictions-file {terms} is not UTF-8 text: save it as UTF-8 and publish "
        "again. Nothing was published.",
    )
    r = hub_cli(*publish, "--restrictions", "No access Kenya", "--restrictions-file", str(terms))
    assert r.returncode == 2 and "not allowed with argument" in r.stderr, r.stderr
    with Database(hub_settings(data).db_url).session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
    said = "No access Kenya.\nممنوع البث في السودان حتى 2026-12-10.\n"
    terms.write_text(said, encoding="utf-8")
    r = hub_cli(*publish, "--restrictions-file", str(terms))
    assert r.returncode == 0, r.stderr
    with Database(hub_settings(data).db_url).session() as s:
        # its lines kept; the file's last newline is not text (stripped, as a script's is)
        assert s.scalars(select(Item)).one().restrictions == said.strip()


def test_stats_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """``alu-hub stats | head -1``: the rest has nowhere to go, which is the reader's choice:
    exit 141 as a shell reports SIGPIPE, nothing on stderr (it said "alu-hub: [Errno 32]
    Broken pipe", or "Exception ignored … BrokenPipeError" with stdout buffered)."""
    data = tmp_path / "hub"
    build_hub(hub_settings(data)).db.dispose()
    code = (
        "import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
        "from alu_hub.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {k: v for k, v in hub_env(data).items() if k != "PYTHONUNBUFFERED"}
    for buffering in (["-u"], []):  # a print that fails at once, a flush that fails at exit
        r = subprocess.run(
            [sys.executable, *buffering, "-c", code, "stats", "--data", str(data)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (r.returncode, r.stderr) == (141, ""), (buffering, r.stderr)


def test_failed_publish_leaves_nothing(tmp_path: Path) -> None:
    hub = build_hub(hub_settings(tmp_path / "hub"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 5000)
    with pytest.raises(PublishError, match="Nothing was published"):
        publish_file(hub, junk, ItemFields(title="junk"))
    with hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
    assert not any((tmp_path / "hub" / "storage").rglob("*.mp4"))
    with pytest.raises(PublishError, match="language"):
        ItemFields(title="x", language="de").validated()
    with pytest.raises(PublishError, match="title"):
        ItemFields(title="  ").validated()


def test_metadata_is_stored_safely(tmp_path: Path, clip: Path) -> None:
    hub = build_hub(hub_settings(tmp_path / "hub"))
    fields = ItemFields(title="A\x00title\u202e with\ncontrols", slug="../../etc/passwd")
    item = publish_file(hub, clip, fields, filename="../../evil\x07.mp4")
    assert item.title == "Atitle with controls"
    broadcast = next(r for r in item.renditions if r.name == "broadcast")
    assert broadcast.storage_key == f"items/{item.id}/broadcast.mp4"
    assert broadcast.filename == "evil.mp4"
    assert (tmp_path / "hub" / "storage" / "items" / item.id / "broadcast.mp4").is_file()


def test_demo_seed_is_realistic_and_runs_once(tmp_path: Path) -> None:
    hub = build_hub(hub_settings(tmp_path / "hub"))
    done: list[int] = []
    n = seed_demo(
        hub, clip_seconds=0.5, clip_size=(320, 180), progress=lambda d, _t: done.append(d)
    )
    assert n >= 30 and done[-1] == n
    assert seed_demo(hub, clip_seconds=0.5, clip_size=(320, 180)) == 0
    with hub.db.session() as s:
        items = list(s.scalars(select(Item).order_by(Item.seq)))
        assert {i.language for i in items} == {"en", "fr", "ar"}
        assert {i.kind for i in items} == {"push", "member_upload"}
        assert any(i.priority == "flash" for i in items)
        published = [i.published_at for i in items]
        assert published == sorted(published)  # seq follows publish time
        assert all(len(i.renditions) == 2 for i in items)
    server = serve_in_thread(create_app(hub.settings, hub))
    try:
        for user in ("demo", "agency"):
            r = requests.post(
                f"{server.url}/api/v1/session",
                json={"username": user, "password": user},
                timeout=10,
            )
            assert r.status_code == 200, user
        assert r.json()["member"]["role"] == "agency"
    finally:
        server.stop()


def _accounts(hub: Hub) -> list[str]:
    with hub.db.session() as s:
        return list(s.scalars(select(Member.username).order_by(Member.username)))


def test_the_demo_seeds_nothing_into_a_hub_it_did_not_make(tmp_path: Path, clip: Path) -> None:
    """The demo seed on a real hub (its staff account named otherwise than ``agency``) added
    ``agency``/``agency`` with the agency role and ``demo``/``demo``, for good: refused now,
    with nothing written."""
    hub = build_hub(hub_settings(tmp_path / "hub"))
    try:
        ensure_member(hub, "ops", "ops-pw", country="", role="agency")
        ensure_member(hub, "ktn", "ktn-pw", country="KE")
        publish_file(hub, clip, ItemFields(title="Real"))
        with pytest.raises(NotADemoHub, match="2 accounts and 1 item the demo did not make"):
            seed_demo(hub, clip_seconds=0.5, clip_size=(320, 180))
        assert _accounts(hub) == ["ktn", "ops"]
        with hub.db.session() as s:
            assert s.get(KeyValue, DEMO_MARK) is None
    finally:
        hub.db.dispose()


def test_a_demo_hub_made_before_its_mark_is_still_the_demos(tmp_path: Path) -> None:
    """The app's demo hub of an earlier version (no mark) is taken up, and marked; the same
    accounts with one more (the operator's) are not the demo's."""
    hub = build_hub(hub_settings(tmp_path / "hub"))
    try:
        for user, _name, country in MEMBERS:
            ensure_member(hub, user, "demo" if user == "demo" else None, country=country)
        ensure_member(hub, "agency", "agency", country="", role="agency")
        claim_for_demo(hub)
        with hub.db.session() as s:
            mark = s.get(KeyValue, DEMO_MARK)
            assert mark is not None
            s.delete(mark)
        ensure_member(hub, "ops", "ops-pw", country="", role="agency")
        with pytest.raises(NotADemoHub, match="6 accounts and 0 items"):
            claim_for_demo(hub)
    finally:
        hub.db.dispose()


@pytest.mark.parametrize("record", [True, False], ids=["set-up recorded", "served before"])
def test_alu_hub_demo_refuses_a_real_hubs_folder_and_changes_nothing(
    tmp_path: Path, clip: Path, record: bool
) -> None:
    """``alu-hub demo --data /srv/alu-hub``: one line, exit status 2, and neither an account
    nor a file more (a folder served before ``hub-setup.json`` existed too)."""
    data = tmp_path / "real"
    for user, role in (("ops", "agency"), ("ktn", "member")):
        r = hub_cli("member", "add", user, "--role", role, "--country", "KE",
                    "--password-stdin", "--data", str(data), stdin="pa55word\n")  # fmt: skip
        assert r.returncode == 0, r.stderr
    r = hub_cli("publish", str(clip), "--title", "Real", "--data", str(data))
    assert r.returncode == 0, r.stderr
    if not record:
        (data / "hub-setup.json").unlink()

    def folder() -> dict[str, bytes]:
        return {
            str(p.relative_to(data)): p.read_bytes() if p.is_file() else b""
            for p in sorted(data.rglob("*"))
        }

    before = folder()
    demo = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", "demo", "--data", str(data), "--port",
         str(free_port("127.0.0.1"))],
        capture_output=True, text=True, timeout=60, env=hub_env(data),
    )  # fmt: skip
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert "is not a hub `alu-hub demo` made" in demo.stderr
    assert "Nothing was changed" in demo.stderr and "Traceback" not in demo.stderr
    assert demo.stderr.count("\n") == 1
    assert folder() == before
    # its database named by URL, a new folder for the files: the database is what is refused
    # (it named the new folder, which did not even exist)
    env = hub_env(data)
    env.setdefault("ALU_HUB_DATABASE_URL", f"sqlite:///{data / 'hub.sqlite3'}")
    env["XDG_DATA_HOME"] = str(tmp_path / "share")
    by_url = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", "demo", "--data", str(tmp_path / "new"),
         "--port", str(free_port("127.0.0.1"))],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert by_url.returncode == 2, by_url.stdout + by_url.stderr
    assert by_url.stderr.startswith("alu-hub: The database ")
    assert "(ALU_HUB_DATABASE_URL or --database-url) is not a hub `alu-hub demo` made" in (
        by_url.stderr
    )
    assert str(tmp_path / "new") not in by_url.stderr and folder() == before
    assert not (tmp_path / "new").exists()
    listed = hub_cli("member", "list", "--data", str(data)).stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["ktn", "ops"]


def test_alu_hub_demo_with_a_database_url_and_no_data_is_refused(tmp_path: Path) -> None:
    """``ALU_HUB_DATABASE_URL`` set, no ``--data``: the demo served that database (a demo hub's
    of another folder) with the files looked for in the user's own demo folder, new and empty:
    every item 404. Refused in one line, exit 2, nothing made (neither folder nor database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALU_HUB_")}
    env.update(
        ALU_HUB_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "share"),
    )
    demo = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", "demo", "--port", str(free_port("127.0.0.1"))],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert demo.stderr.splitlines() == [
        "alu-hub: ALU_HUB_DATABASE_URL is set, but the demo keeps its database in its own "
        f"folder ({tmp_path / 'share' / 'alu-hub' / 'demo'}): leave ALU_HUB_DATABASE_URL "
        "unset, or give --data DIR with it. Nothing was made."
    ]
    assert list(tmp_path.iterdir()) == []


def test_alu_hub_demo_keeps_out_of_the_folder_alu_hub_data_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ALU_HUB_DATA`` set for a real hub's commands (a unit, the operator's profile), then
    ``alu-hub demo``: the demo hub, with its public passwords, was made inside the real hub's
    folder (``/srv/alu-hub/demo``, in its backups). It goes to the user's own data folder, as
    README says (``~/.local/share/alu-hub/demo`` on Linux)."""
    monkeypatch.setenv("ALU_HUB_DATA", str(tmp_path / "real"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert hub_cli_module.demo_data_dir() == tmp_path / "share" / "alu-hub" / "demo"
    assert hub_cli_module.default_data_dir() == tmp_path / "real"  # (the other commands')


def test_database_newer_than_the_hub_is_refused(tmp_path: Path) -> None:
    url = hub_database_url(tmp_path)
    db = Database(url)
    db.migrate()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    with pytest.raises(SchemaTooNew, match="newer"):
        Database(url).migrate()


def test_start_up_removes_files_of_items_never_published(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alu_hub import app as app_module
    from alu_hub.app import recover

    monkeypatch.setattr(app_module, "KNOWN_MARGIN", dt.timedelta(0))
    hub = build_hub(hub_settings(tmp_path / "hub"))
    with hub.db.session() as s:  # the database is an hour old
        made = s.get(KeyValue, "created_at")
        assert made is not None
        made.value = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    kept = publish_file(hub, clip, ItemFields(title="kept"))
    orphan = tmp_path / "hub" / "storage" / "items" / ("f" * 32)
    orphan.mkdir(parents=True)
    (orphan / "broadcast.mp4").write_bytes(b"half a publish")
    (tmp_path / "hub" / "work" / "x").mkdir(parents=True)
    recover(hub)
    # newer than every item the database knows: maybe another database's, kept for now
    assert orphan.exists()
    assert not (tmp_path / "hub" / "work").exists()
    os.utime(orphan / "broadcast.mp4", (time.time() - 5, time.time() - 5))
    later = publish_file(hub, clip, ItemFields(title="later"))
    recover(hub)  # a crash's leftover, older than an item published since: it goes
    assert not orphan.exists()
    for item in (kept, later):
        assert (tmp_path / "hub" / "storage" / "items" / item.id / "broadcast.mp4").is_file()


def test_a_serve_on_another_database_removes_none_of_the_hubs_files(
    tmp_path: Path, clip: Path
) -> None:
    # `serve` with ALU_HUB_DATABASE_URL forgotten (an empty SQLite database in the folder):
    # its start-up took every item's files and every upload's bytes for a crash's leftovers
    # and deleted them all; back on the right database every download said "file_missing"
    from alu_hub.app import recover

    data = tmp_path / "hub"
    hub = build_hub(Settings(data_dir=data, database_url=f"sqlite:///{tmp_path / 'pg.sqlite3'}"))
    item = publish_file(hub, clip, ItemFields(title="Archive footage"))
    (data / "uploads" / "a-members-upload").write_bytes(b"half of a member's clip")
    past = time.time() - 3600  # older than anything, to any rule of age
    for f in [*(data / "storage").rglob("*"), data / "uploads" / "a-members-upload"]:
        os.utime(f, (past, past))
    hub.folder_lock.close()
    hub.db.engine.dispose()
    # the same folder on a new, empty database
    other = build_hub(Settings(data_dir=data, database_url=f"sqlite:///{data / 'hub.sqlite3'}"))
    recover(other)
    assert (data / "storage" / "items" / item.id / "broadcast.mp4").is_file()
    assert (data / "uploads" / "a-members-upload").is_file()
    # it published an item of its own, then started again: the footage is older than its
    # database, never its own (it went, as soon as the wrong hub had a newest item)
    publish_file(other, clip, ItemFields(title="On the wrong hub"))
    recover(other)
    assert (data / "storage" / "items" / item.id / "broadcast.mp4").is_file()
    assert (data / "uploads" / "a-members-upload").is_file()


@pytest.mark.parametrize(
    ("variable", "command"),
    [
        ("ALU_HUB_WORKERS", ["serve", "--port", "1"]),
        ("ALU_HUB_TOKEN_TTL", ["member", "list"]),
        ("ALU_HUB_MEDIA_WORKERS", ["serve", "--port", "1"]),
    ],
)
def test_a_setting_that_is_not_a_number_is_one_line(
    tmp_path: Path, variable: str, command: list[str]
) -> None:
    env = {**hub_env(tmp_path / "hub"), variable: "many"}
    r = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *command, "--data", str(tmp_path / "hub")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"alu-hub: {variable} must be a whole number, not 'many'."


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALU_HUB_TOKEN_TTL", "-5"),
        ("ALU_HUB_TOKEN_TTL", "0"),
        ("ALU_HUB_SIGNIN_WINDOW", "-1"),
        ("ALU_HUB_MAX_UPLOAD", "0"),
    ],
)
def test_a_setting_that_must_be_positive_is_refused(
    tmp_path: Path, variable: str, value: str
) -> None:
    """(Taken before: every token born expired, rate limiting off, every upload too large.)"""
    data = tmp_path / "hub"
    env = {**hub_env(data), variable: value}
    r = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", "member", "list", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"alu-hub: {variable} must be at least 1, not {value!r}."
    assert not data.exists()


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("localhost", "localhost"),
        ("garbage value", "garbage value"),
        ("127.0.0.1;10.0.0.1", "127.0.0.1;10.0.0.1"),
        ("127.0.0.1, 10.0.0.0/33", "10.0.0.0/33"),
    ],
)
# (--port 0: refused after the settings, so that a hub that took them does not serve)
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["member", "list"]])
def test_trusted_proxies_that_are_not_addresses_are_refused(
    tmp_path: Path, value: str, part: str, command: list[str]
) -> None:
    """(Taken before without a word: uvicorn trusted no proxy then, and behind nginx with TLS
    every member's upload failed on the http:// address the hub gave.)"""
    data = tmp_path / "hub"
    r = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *command, "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**hub_env(data), "ALU_HUB_TRUSTED_PROXIES": value},
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        "alu-hub: ALU_HUB_TRUSTED_PROXIES must be IP addresses or networks separated by commas "
        f"(like 127.0.0.1,10.0.0.0/8), or none; {part!r} is not one."
    )
    assert not data.exists()


def test_trusted_proxies_take_addresses_networks_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for value, trusted in (
        (None, ("127.0.0.1", "::1")),
        ("none", ()),
        ("", ()),
        (" 127.0.0.1 , ::1,10.0.0.0/8 ", ("127.0.0.1", "::1", "10.0.0.0/8")),
        ("10.1.2.3/8,fd00::/8", ("10.0.0.0/8", "fd00::/8")),  # as uvicorn matches them
        (" * ", ("*",)),  # every peer, as uvicorn reads it (a hub only its proxy reaches)
    ):
        if value is None:
            monkeypatch.delenv("ALU_HUB_TRUSTED_PROXIES", raising=False)
        else:
            monkeypatch.setenv("ALU_HUB_TRUSTED_PROXIES", value)
        assert Settings.from_env(tmp_path).trusted_proxies == trusted


def test_a_chunk_has_no_cap_unless_the_operator_sets_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALU_HUB_MAX_CHUNK: unset or 0, no cap but the upload's length (tus clients other than
    ours send the whole file in one PATCH); a number of bytes, that cap; below 0, refused."""
    for value, cap in ((None, None), ("0", None), ("8388608", 8 * 1024 * 1024)):
        if value is None:
            monkeypatch.delenv("ALU_HUB_MAX_CHUNK", raising=False)
        else:
            monkeypatch.setenv("ALU_HUB_MAX_CHUNK", value)
        assert Settings.from_env(tmp_path).max_chunk_size == cap
    monkeypatch.setenv("ALU_HUB_MAX_CHUNK", "-1")
    with pytest.raises(SettingsError, match="ALU_HUB_MAX_CHUNK must be at least 0"):
        Settings.from_env(tmp_path)


def test_the_metadata_limit_can_be_lowered_for_other_tus_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALU_HUB_MAX_METADATA: unset, 192 KiB (ALU Desk's longest texts); lower, for members
    whose tus clients cannot read such a HEAD back to resume (tuspy: 64 KiB a header line)."""
    monkeypatch.delenv("ALU_HUB_MAX_METADATA", raising=False)
    assert Settings.from_env(tmp_path).max_metadata_bytes == 196_608
    monkeypatch.setenv("ALU_HUB_MAX_METADATA", "65517")
    assert Settings.from_env(tmp_path).max_metadata_bytes == 65_517
    for value, refusal in (
        ("200000", "can lower the limit of 196608 bytes, not raise it"),
        ("100", "must be at least 1024"),
    ):
        monkeypatch.setenv("ALU_HUB_MAX_METADATA", value)
        with pytest.raises(SettingsError, match=refusal):
            Settings.from_env(tmp_path)


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_serve_refuses_workers_below_one(tmp_path: Path, workers: str) -> None:
    """As ALU_HUB_WORKERS=0 is (it served with one process without a word). --port 0: a
    serve that took the number is refused after it, and does not serve."""
    data = tmp_path / "hub"
    command = ["serve", "--workers", workers, "--port", "0", "--data", str(data)]
    r = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env=hub_env(data),
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"alu-hub: --workers must be at least 1, not {workers}."
    assert not data.exists()


def test_publish_texts_saved_with_a_bom_lose_it(tmp_path: Path, clip: Path) -> None:
    """A script, shot list or restrictions file saved by Windows Notepad (UTF-8 with a BOM, CRLF
    line ends): the BOM is no text (it went to every member as an invisible U+FEFF first
    character), as CR is not."""
    data = tmp_path / "hub"
    build_hub(hub_settings(data)).db.dispose()
    files = {}
    for option in ("script", "shotlist", "restrictions"):
        files[option] = tmp_path / f"{option}.txt"
        files[option].write_bytes("\ufeffاجتاحت الفيضانات\r\nسطر ثان\r\n".encode())
    r = hub_cli(
        "publish", str(clip), "--data", str(data), "--title", "BOM",
        *(a for option, path in files.items() for a in (f"--{option}-file", str(path))),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    with Database(hub_settings(data).db_url).session() as s:
        item = s.scalars(select(Item)).one()
        assert item.script == item.shotlist == item.restrictions == "اجتاحت الفيضانات\nسطر ثان"


def test_a_members_upload_texts_lose_a_leading_bom() -> None:
    """The same for a member's upload (its tus metadata), by the same rules: one leading BOM
    goes, text after it stays."""
    fields = ItemFields.from_metadata(
        {"title": "\ufeffFloods", "script": "\ufeffLine one\nLine\ufefftwo"},
        default_title="clip",
        country="KE",
    )
    assert (fields.title, fields.script) == ("Floods", "Line one\nLine\ufefftwo")


def test_a_text_file_that_cannot_be_read_is_one_sentence(tmp_path: Path, clip: Path) -> None:
    """A missing or unreadable --script-file (it was a raw "[Errno 2] No such file or
    directory"): a sentence that says so, as the other publish refusals, exit 2."""
    data = tmp_path / "hub"
    build_hub(hub_settings(data)).db.dispose()
    missing = tmp_path / "script.txt"
    for option, path, why in (
        ("--script-file", missing, "there is no such file"),
        ("--shotlist-file", tmp_path, "Is a directory"),
        ("--restrictions-file", missing, "there is no such file"),
    ):
        r = hub_cli("publish", str(clip), "--data", str(data), "--title", "X", option, str(path))
        assert (r.returncode, r.stderr) == (
            2,
            f"alu-hub: {option} {path} cannot be read ({why}): check the path. "
            "Nothing was published.\n",
        )
    with Database(hub_settings(data).db_url).session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
