"""Names from a hub never escape the download folder nor replace a file (issues 4 and 6)."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest

from alu_client.core.safe_names import (
    MAX_NAME_BYTES,
    NameNotText,
    check_text_path,
    inside,
    safe_filename,
    shown,
    unique_path,
)

HOSTILE = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\system.ini", "system.ini"),
    ("/absolute/clip.mp4", "clip.mp4"),
    ("C:\\Users\\x\\clip.mp4", "clip.mp4"),
    ("\\\\server\\share\\clip.mp4", "clip.mp4"),
    ("clip\x00.mp4", "clip_.mp4"),
    ("cl\nip\t.mp4", "cl_ip_.mp4"),
    # C1 controls: U+009B is the one-byte CSI an 8-bit terminal reads as ESC [
    ("clip\x9b2J\x90\x9d0;x\x9c.mp4", "clip_2J__0;x_.mp4"),
    ("clip\x85\x7f.mp4", "clip__.mp4"),
    # the extension cut to 16 characters ended in a space, which Windows drops
    ("a." + "b" * 15 + " c", "a." + "b" * 15),
    ("clip\u202egpj.exe", "clipgpj.exe"),
    ("a\u200bb.mp4", "ab.mp4"),
    ("CON", "_CON"),
    ("nul.mp4", "_nul.mp4"),
    ("COM1.txt", "_COM1.txt"),
    ("lpt9.tar.gz", "_lpt9.tar.gz"),
    ("clip.mp4. . ", "clip.mp4"),
    ("   ", "download"),
    ("..", "download"),
    ("", "download"),
    ('what?<is>:"this"|*.mp4', "what__is___this___.mp4"),
    ("Élection à Dakar.mp4", "Élection à Dakar.mp4"),
    ("انتخابات السنغال.mp4", "انتخابات السنغال.mp4"),
]


@pytest.mark.parametrize(("name", "expected"), HOSTILE)
def test_hostile_names_become_one_safe_component(name: str, expected: str, tmp_path: Path) -> None:
    out = safe_filename(name)
    assert out == expected
    assert "/" not in out and "\\" not in out
    p = tmp_path / out
    assert inside(tmp_path, p)
    p.write_bytes(b"x")  # the file system accepts it
    assert p.read_bytes() == b"x"


def test_overlong_names_keep_their_extension_within_the_byte_budget() -> None:
    out = safe_filename("é" * 400 + ".mp4")
    assert out.endswith(".mp4")
    assert len(out.encode()) <= MAX_NAME_BYTES
    arabic = safe_filename("ن" * 300 + ".mov")
    assert arabic.endswith(".mov") and len(arabic.encode()) <= MAX_NAME_BYTES


def test_unique_path_never_overwrites(tmp_path: Path) -> None:
    first = unique_path(tmp_path, "clip.mp4")
    assert first == tmp_path / "clip.mp4"
    first.write_bytes(b"1")
    second = unique_path(tmp_path, "clip.mp4")
    assert second == tmp_path / "clip (2).mp4"
    (tmp_path / "clip (2).mp4.part").write_bytes(b"")  # a download in progress holds the name
    assert unique_path(tmp_path, "clip.mp4") == tmp_path / "clip (3).mp4"
    assert unique_path(tmp_path, "clip.mp4", taken={"clip (3).mp4"}) == tmp_path / "clip (4).mp4"


def test_a_name_taken_in_another_case_or_form_is_taken(tmp_path: Path) -> None:
    # "Nairobi.mp4" and "NAIROBI.mp4" queued together into a folder on a disk that ignores
    # case (Windows, macOS, FAT/exFAT) are one file: both downloads wrote into one part file
    assert unique_path(tmp_path, "NAIROBI.mp4", taken={"Nairobi.mp4"}) == (
        tmp_path / "NAIROBI (2).mp4"
    )
    taken = {"clip0001.mp4", "CLIP0001 (2).MP4"}
    assert unique_path(tmp_path, "CLIP0001.MP4", taken=taken) == tmp_path / "CLIP0001 (3).MP4"
    # macOS keeps "é" decomposed: the same name as the hub's composed one
    decomposed = unicodedata.normalize("NFD", "Café Ouagadougou.mp4")
    assert unique_path(tmp_path, "CAFÉ OUAGADOUGOU.mp4", taken={decomposed}) == (
        tmp_path / "CAFÉ OUAGADOUGOU (2).mp4"
    )
    # names no file system takes for one are left as they are
    assert unique_path(tmp_path, "Nairobi 2.mp4", taken={"Nairobi.mp4"}) == (
        tmp_path / "Nairobi 2.mp4"
    )


def test_a_name_that_is_another_downloads_part_file_is_taken(tmp_path: Path) -> None:
    # a hub's file named "clip.mp4.part" and another's "clip.mp4" queued together (a rule):
    # the second wrote its part file where the first one's whole file was to be, and failed
    assert unique_path(tmp_path, "clip.mp4", taken={"clip.mp4.part"}) == tmp_path / "clip (2).mp4"
    assert unique_path(tmp_path, "clip.mp4.part", taken={"clip.mp4"}) == (
        tmp_path / "clip.mp4 (2).part"
    )
    assert unique_path(tmp_path, "CLIP.MP4.PART", taken={"clip.mp4"}) == (
        tmp_path / "CLIP.MP4 (2).PART"
    )
    # names no download writes to stay free
    assert unique_path(tmp_path, "clip.mp4.partial", taken={"clip.mp4"}) == (
        tmp_path / "clip.mp4.partial"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need a privilege there")
def test_a_dangling_link_holds_its_name(tmp_path: Path) -> None:
    # a link left behind by a moved library or a share away: the download failed with
    # "choose another name", which neither `alu get` nor a rule can do
    (tmp_path / "clip.mp4").symlink_to(tmp_path / "gone" / "moved.mp4")
    assert unique_path(tmp_path, "clip.mp4") == tmp_path / "clip (2).mp4"
    (tmp_path / "clip (2).mp4.part").symlink_to(tmp_path / "gone" / "elsewhere.part")
    assert unique_path(tmp_path, "clip.mp4") == tmp_path / "clip (3).mp4"


def test_inside_follows_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "link").symlink_to(outside)
    assert not inside(folder, folder / "link" / "x.mp4")
    assert inside(folder, folder / "x.mp4")


def test_a_path_that_is_not_text_is_named_readably() -> None:
    odd = "/media/card/" + b"r\xe9union.mp4".decode("utf-8", "surrogateescape")
    assert shown(odd) == "/media/card/r\ufffdunion.mp4"
    with pytest.raises(NameNotText) as refused:
        check_text_path(odd)
    assert "“r\ufffdunion.mp4” in /media/card is not valid text" in str(refused.value)
    assert check_text_path("/media/card/réunion مقابلة.mp4") == "/media/card/réunion مقابلة.mp4"


def test_a_marker_survives_a_long_name() -> None:
    # " (proxy)" was added before the cut to MAX_NAME_BYTES: a long Arabic name lost it, and
    # the preview took the clean name the broadcast file was to have
    from alu_client.core.safe_names import MAX_NAME_BYTES

    long = "انتخابات-" * 30 + ".mp4"
    proxy = safe_filename(long, marker=" (proxy)")
    assert proxy.endswith(" (proxy).mp4") and len(proxy.encode()) <= MAX_NAME_BYTES
    assert proxy != safe_filename(long)
    assert safe_filename("clip.mp4", marker=" (proxy)") == "clip (proxy).mp4"
    assert safe_filename("clip", marker=" (proxy)") == "clip (proxy)"
    assert safe_filename(proxy) == proxy  # (unique_path reads it again: unchanged)
