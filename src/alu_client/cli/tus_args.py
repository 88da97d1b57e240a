"""What `alu tus-put` is given, checked before anything is queued or sent: each refusal is
one line (exit 2). Before, a 1-byte ``--chunk-size`` crawled for every later run of the
upload, a metadata name the tus header cannot carry failed the queued upload in words of "a
hub" whatever the server, a ``sha256=`` that was no checksum was refused by the hub only once
the whole file had gone, and an unreadable file was blamed on the data folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.oserrors import is_in_use
from ..core.transfers.upload.spec import MIN_CHOSEN_CHUNK, metadata_name_ok
from .common import CliError, parse_size

_HEX = frozenset("0123456789abcdef")


def chunk_size(text: str) -> int:
    """An argparse type: a chunk size of ``MIN_CHOSEN_CHUNK`` or more (each chunk is a
    request and a round trip: 1 byte a chunk moved ~4 KB/s on loopback)."""
    try:
        size = parse_size(text)
    except CliError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if size < MIN_CHOSEN_CHUNK:
        raise argparse.ArgumentTypeError(
            f"{text!r} is too small: the smallest chunk size accepted is "
            f"{MIN_CHOSEN_CHUNK // 1024}K (each chunk is a request of its own); without "
            "--chunk-size the chunks are sized to the link"
        )
    return size


def metadata_item(text: str) -> tuple[str, str]:
    """An argparse type: a ``key=value`` pair of tus Upload-Metadata. The key holds printable
    ASCII but no space or comma (tus 1.0); the value any text (it is sent in base64); a
    ``sha256`` is the file's checksum as 64 hexadecimal characters (read in lower case)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"takes key=value, not {text!r}")
    if not metadata_name_ok(key):
        raise argparse.ArgumentTypeError(
            f"the name {key!r} cannot be sent: a tus metadata name holds ASCII letters, digits "
            "and signs such as - _ . but no space, comma or other character"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(
            f"the value of {key} is not valid text: it holds bytes no character set here can read"
        ) from None
    if key == "sha256":
        value = value.lower()
        if len(value) != 64 or not _HEX.issuperset(value):
            raise argparse.ArgumentTypeError(
                "sha256= takes the file's sha256 as 64 hexadecimal characters; leave it out "
                "and alu sends the one it computes"
            )
    return key, value


def check_readable(path: Path, given: str) -> None:
    """A CliError unless the file at ``path`` (``given`` on the command line) can be opened
    for reading: an unreadable file was said as "Permission denied …; where that is the data
    folder, check its permissions" once the upload was under way."""
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        if is_in_use(e):  # Windows: another program holds it (an export still writing it)
            raise CliError(
                f"{given} is in use by another program (still being exported or copied?); "
                "nothing was sent: run this again once it is free."
            ) from None
        raise CliError(
            f"{given} cannot be read ({e.strerror or e}): check the file's permissions; "
            "nothing was sent.",
            2,
        ) from None
