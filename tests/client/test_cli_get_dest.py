"""`alu get ID --dest DIR` of an item the library has already: a checked copy in DIR."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from alu_client.cli.common import CliError
from alu_client.cli.dest_copy import copy_into
from tests.client.test_cli_hub import PASSWORD, alu, login, ok
from tests.support.livehub import LiveHub


def _said(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ALU_SECRETS" not in line]


def test_get_dest_of_a_downloaded_item_copies_the_librarys_file_there(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # `f=$(alu get ID --dest /srv/playout)` printed the library's path, outside the folder
    # asked for, and left the folder empty (exit status 0)
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Lagos port")
    library = Path(ok(alu(home, "get", item_id)).removesuffix("\n"))
    playout = tmp_path / "playout"

    got = alu(home, "get", item_id, "--dest", str(playout))
    copy = playout / library.name
    assert got.returncode == 0, got.stderr
    assert got.stdout == f"{copy}\n"
    assert copy.read_bytes() == clip.read_bytes() and library.is_file()
    assert [p.name for p in playout.iterdir()] == [library.name]  # no temporary file left
    assert _said(got.stderr) == [
        f"alu: {copy.name}: copied from the library ({library}); nothing was downloaded"
    ]
    again = alu(home, "get", item_id, "--dest", str(playout))
    assert again.stdout == f"{copy}\n", again.stderr
    assert _said(again.stderr) == [f"alu: {copy.name}: already there; nothing was downloaded"]

    # another file of that name in the folder is not overwritten
    copy.write_bytes(b"the playout server's own file")
    refused = alu(home, "get", item_id, "--dest", str(playout))
    assert refused.returncode == 1 and refused.stdout == ""
    assert _said(refused.stderr) == [
        f"alu: {copy} is already there and is another file; nothing was copied. Move it "
        "away, or choose another --dest."
    ]
    assert copy.read_bytes() == b"the playout server's own file"

    # without --dest: as before, the library's path
    plain = alu(home, "get", item_id)
    assert plain.stdout == f"{library}\n", plain.stderr


def test_a_library_file_that_is_no_longer_the_items_is_not_copied(tmp_path: Path) -> None:
    library = tmp_path / "downloads" / "lagos.mp4"
    library.parent.mkdir()
    library.write_bytes(b"the item's bytes")
    playout = tmp_path / "playout"
    playout.mkdir()
    item_sha = hashlib.sha256(b"the item's bytes").hexdigest()
    library.write_bytes(b"changed on disk!")  # (same size: the library's check missed it)
    with pytest.raises(CliError, match=r"is no longer the item's \(changed on the disk\)"):
        copy_into(library, playout, item_sha)
    assert list(playout.iterdir()) == []  # no temporary file left either
    library.write_bytes(b"the item's bytes")
    assert copy_into(library, playout, item_sha) == (playout / "lagos.mp4", True)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_copy_has_the_mode_a_download_gets(tmp_path: Path) -> None:
    # the copy was 0600 (a temporary file's), a download 0644 under the usual umask: a copy
    # into a shared playout folder could not be read by the colleagues and the playout server
    library = tmp_path / "downloads" / "lagos.mp4"
    library.parent.mkdir()
    library.write_bytes(b"the item's bytes")
    playout = tmp_path / "playout"
    playout.mkdir()
    old = os.umask(0o022)
    try:
        copy, copied = copy_into(library, playout, None)
        os.umask(0o027)  # another umask, another mode: the umask's, not a fixed one
        other = tmp_path / "other"
        other.mkdir()
        second, _ = copy_into(library, other, None)
    finally:
        os.umask(old)
    assert copied and stat.S_IMODE(copy.stat().st_mode) == 0o644
    assert stat.S_IMODE(second.stat().st_mode) == 0o640
