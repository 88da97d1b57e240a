"""The probe's problems in the user's language: every ``MediaError`` of ``core.media`` has a
template, and the upload form says them translated, naming the file once (it showed the core's
English inside French and Arabic forms, the name twice)."""

from __future__ import annotations

import ast
import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from PySide6.QtWidgets import QApplication

from alu_client.core import media
from alu_client.ui import formats, media_text
from alu_client.ui.i18n import install_translators

MEDIA = Path(__file__).resolve().parents[2] / "src" / "alu_client" / "core" / "media.py"


def media_messages() -> list[str]:
    """Every message ``core.media`` raises a MediaError with ("clip.mp4" for each detail)."""
    found = []
    for node in ast.walk(ast.parse(MEDIA.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "MediaError":
            arg = node.args[0]
            if isinstance(arg, ast.Constant):
                found.append(str(arg.value))
            elif isinstance(arg, ast.JoinedStr):
                found.append(
                    "".join(
                        str(v.value) if isinstance(v, ast.Constant) else "clip.mp4"
                        for v in arg.values
                    )
                )
    return found


def test_every_media_problem_has_a_template() -> None:
    messages = media_messages()
    assert len(messages) > 8
    missing = [m for m in messages if media_text.match(m) is None]
    assert missing == []


@pytest.fixture
def french(qapp: QApplication) -> Iterator[QApplication]:
    install_translators(qapp, "fr")
    yield qapp
    install_translators(qapp, "en")


def test_problems_are_said_in_the_users_language_naming_the_file_once(
    french: QApplication,
) -> None:
    name = formats.isolated("zero.mp4")
    assert media_text.media_problem("zero.mp4 is empty (0 bytes).") == f"{name} est vide (0 octet)."
    said = media_text.media_problem("zero.mp4 could not be opened (permission denied).")
    assert said == f"Impossible d’ouvrir {name} (Permission refusée)."
    install_translators(french, "ar")
    said = media_text.media_problem("zero.mp4 is empty (0 bytes).")
    assert said.count("zero.mp4") == 1 and name in said and "empty" not in said
    # a message no template knows is shown as it is
    assert media_text.media_problem("Something new.") == "Something new."


def test_a_file_that_cannot_be_read_is_not_called_no_video(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """FFmpeg's PermissionError is an FFmpegError too: it was "not a video file we can read
    (permission denied)" for a video the user may not read."""
    path = tmp_path / "no_read.mp4"
    path.write_bytes(b"x" * 100)

    def denied(*_args: object, **_kw: object) -> None:
        raise av.error.PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(av, "open", denied)  # media imports PyAV when it opens a file
    with pytest.raises(media.MediaError) as e:
        media.probe(path)
    assert str(e.value) == "no_read.mp4 could not be opened (permission denied)."
