"""`alu queue list` on a workstation with two sign-ins (two members, or two hubs): every
transfer is listed, and another profile's says it waits for that profile's sign-in."""

from __future__ import annotations

import json
from pathlib import Path

from alu_client.core.profiles import Profile, Profiles
from alu_client.core.store import Store
from alu_client.core.store.transfers import TransferStore
from tests.client.test_cli import run_alu

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
