"""`alu` on a workstation with two sign-ins (two members, or two hubs): `alu queue list` lists
every transfer and says another profile's waits for that profile's sign-in; `alu get` beside
the app signed in as another member does not follow an engine that will not run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from alu_client.core.credentials import INSECURE_FILE_NAME, FileSecrets, MemorySecrets
from alu_client.core.library import upsert_items
from alu_client.core.lockfile import holder
from alu_client.core.paths import default_paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.store.transfers import TransferStore
from tests.client.test_cli import run_alu
from tests.client.test_library import make_item

ANN, BEN = "ann@hub.alu.africa", "ben@hub.alu.africa"


def test_queue_list_names_the_profile_another_profiles_transfer_waits_for(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    assert run_alu(home, "queue").returncode == 0  # the data folder and its library
    store = Store(home / "data" / "library.sqlite3")
    try:
        profiles = Profiles(store)
        for name, user in ((ANN, "ann"), (BEN, "ben")):
            profiles.save(Profile(name, "https://hub.alu.africa", user))
        profiles.set_active(ANN)
        transfers = TransferStore(store)
        for label, options in (("anns", {"profile": ANN}), ("bens", {"profile": BEN})):
            transfers.add("download", "https://hub.alu.africa/f", str(tmp_path / label),
                          label=label, options=options)  # fmt: skip
        transfers.add("download", "http://127.0.0.1:9/x", str(tmp_path / "x"), label="fetched")
    finally:
        store.close()
    r = run_alu(home, "queue", "list")
    assert r.returncode == 0, r.stderr
    lines = {label: [ln for ln in r.stdout.splitlines() if f" {label}" in ln] for label in
             ("anns", "bens", "fetched")}  # fmt: skip
    assert lines["bens"][0].endswith(
        f" bens  (profile {BEN}: waits until it is the one signed in here)"
    )
    assert lines["anns"][0].endswith(" anns") and lines["fetched"][0].endswith(" fetched")
    listed = run_alu(home, "queue", "list", "--json")
    assert [(t["label"], t["profile"]) for t in json.loads(listed.stdout)] == [
        ("anns", ANN),
        ("bens", BEN),
        ("fetched", None),
    ]


def test_get_beside_the_app_of_another_member_waits_for_the_folder_not_for_the_app(
    tmp_path: Path,
) -> None:
    # it said "the app runs the transfers here; following it" and followed for ever: the app
    # runs its own member's transfers, not this one's
    home = tmp_path / "home"
    paths = default_paths({"ALU_CLIENT_HOME": str(home)}).ensure()
    store = Store(paths.db_path)
    try:
        profiles = Profiles(store)
        for name, user in ((ANN, "ann"), (BEN, "ben")):
            profiles.save(Profile(name, "https://hub.alu.africa", user))
        upsert_items(store, BEN, [make_item(1, id="it1")])
        # Ben signed in on this workstation (`alu get` refuses a profile with no sign-in kept)
        terminal = FileSecrets(paths.data_dir / INSECURE_FILE_NAME)
        terminal.set(Profile(BEN, "https://hub.alu.africa", "ben").secret_key, "ben-token")
    finally:
        store.close()
    app = Services(paths, MemorySecrets())  # the app, Ann signed in
    try:
        app.start_engine(sync=False, rules=False, hot_folders=False, media=False)
        Profiles(app.store).set_active(BEN)  # `alu login` as Ben in a terminal
        said = holder(paths.engine_lock)  # what the app says in its lock file
        get = subprocess.Popen(
            [sys.executable, "-m", "alu_client.cli", "get", "it1"],
            env={**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert get.stderr is not None
        first = get.stderr.readline()
        while "ALU_SECRETS" in first:  # (the plain-text file's warning)
            first = get.stderr.readline()
        get.send_signal(signal.SIGINT)
        get.communicate(timeout=30)
    finally:
        app.stop()
    assert first.startswith(
        f"alu: the app (or alu watch run, process {os.getpid()}) runs the transfers of profile "
        f"{ANN} here; this one is profile {BEN}'s and runs here once that engine stops."
    ), first
    assert said is not None and (said.only, said.profile) == (None, ANN)
    assert not said.runs(1, BEN) and said.runs(1, ANN) and said.runs(1, "")
