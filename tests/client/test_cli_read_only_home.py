"""A data folder that cannot be written to (a disk mounted read-only) is said as such by every
verb: they said "the library … cannot be used now (unable to open database file)", the cause
only `alu doctor` named."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from alu_client.cli import main
from alu_client.core.paths import default_paths


class _ReadOnly:
    def __init__(self, real: Any) -> None:
        self._real = real
        self.f_flag = real.f_flag | os.ST_RDONLY

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "desk"
    monkeypatch.setenv("ALU_CLIENT_HOME", str(home))
    monkeypatch.setenv("ALU_SECRETS", "memory")
    data = default_paths().ensure().data_dir
    # SQLite's own failure on it, made here without a mount: its file cannot be opened
    default_paths().db_path.mkdir()
    assert data.is_dir()
    return data


@pytest.mark.skipif(not hasattr(os, "statvfs"), reason="statvfs: POSIX")
@pytest.mark.parametrize("verb", [["queue"], ["history"], ["whoami"]])
def test_a_read_only_data_folder_is_said_read_only(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], verb: list[str]
) -> None:
    real = os.statvfs

    def statvfs(path: Any) -> Any:
        st = real(path)
        return _ReadOnly(st) if Path(path) == home else st

    monkeypatch.setattr(os, "statvfs", statvfs)
    assert main(verb) == 1
    said = capsys.readouterr().err.strip()
    assert said == (
        f"alu: the data folder {home} is read-only (a disk or share mounted read-only, or no "
        "permission to write): ALU Desk writes its library there. Make it writable, or choose "
        "another data folder with --data or ALU_CLIENT_HOME."
    )


def test_a_writable_folder_whose_library_cannot_be_opened_is_not_called_read_only(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue"]) == 1
    said = capsys.readouterr().err
    assert "cannot be used now" in said and "read-only" not in said
