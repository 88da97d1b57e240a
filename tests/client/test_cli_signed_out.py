"""`alu get` and `alu put` after `alu logout`: refused before anything is queued or sent."""

from __future__ import annotations

import json
from pathlib import Path

from alu_client.cli.sign_in_check import sign_in_words
from alu_client.core.profiles import Profile
from alu_client.core.transfers.base import MSG_ACCESS_REFUSED, MSG_SIGN_IN_REFUSED
from alu_hub.media import generate_clip
from tests.client.test_cli_hub import PASSWORD, alu, login, ok
from tests.support.livehub import LiveHub


def test_get_and_put_signed_out_queue_nothing_and_name_the_login(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # `alu get` after `alu logout` asked the hub anyway, was refused (401), said "… or ask the
    # agency whether your newsroom may download this item", left a failed transfer in the queue
    # and reported a failed download the agency's report then showed as the member's
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Drought in Somalia")
    ok(alu(home, "feed"))  # the library knows the item
    ok(alu(home, "logout"))
    own = tmp_path / "nairobi.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=5)
    for args, not_done in (
        (["get", item_id], "nothing was downloaded"),
        (["get", item_id[:6], "--proxy"], "nothing was downloaded"),
        (["put", str(own), "--title", "Nairobi"], "nothing was sent"),
    ):
        got = alu(home, *args)
        assert got.returncode == 1, got.stderr
        said = [line for line in got.stderr.splitlines() if "ALU_SECRETS" not in line]
        assert said == [
            f"alu: Not signed in to {live_hub.url} on this workstation (signed out); "
            f"{not_done}. Sign in first: alu login {live_hub.url} --user ktn --allow-http"
        ], said
        assert got.stdout == ""
    assert json.loads(ok(alu(home, "queue", "list", "--all", "--json"))) == []
    assert json.loads(ok(alu(home, "history", "--offline", "--json"))) == []
    # signed in again: no failed download (nor upload) to report to the agency
    login(home, live_hub)
    assert "0 history events sent" in ok(alu(home, "sync"))


def test_a_download_refused_for_want_of_a_sign_in_is_said_as_such() -> None:
    # signed out while the download ran: no sign-in sent, the hub's 401 said in a 403's words
    profile = Profile(name="ktn@hub", url="https://hub.example.org", username="ktn")
    said = sign_in_words(MSG_ACCESS_REFUSED.format(code=401), profile)
    assert said == (
        "The hub asked for a sign-in (HTTP 401) and none was sent: this workstation was signed "
        "out. Sign in again (alu login https://hub.example.org --user ktn), then run this again."
    )
    assert sign_in_words(MSG_ACCESS_REFUSED.format(code=403), profile) is None  # the agency's
    # the session ended (a 401 to the sign-in sent): the same words, with the command to run
    assert sign_in_words(MSG_SIGN_IN_REFUSED, profile) == (
        "The hub did not accept this sign-in; sign in again, then retry "
        "(alu login https://hub.example.org --user ktn)."
    )
