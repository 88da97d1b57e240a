"""`alu --data DIR`: an empty or wrong DIR is refused before any data folder is opened."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _alu(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALU_CLIENT_HOME": str(home), "HOME": str(cwd / "fakehome")}
    env.pop("XDG_DATA_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("args", [["--data", ""], ["--data="]])
def test_an_empty_data_folder_is_refused_before_anything_is_opened(
    tmp_path: Path, args: list[str]
) -> None:
    # a script's `alu --data "$DIR" put …` with DIR unset used the default data folder (and
    # updated its library, and published under its signed-in profile)
    r = _alu(tmp_path, tmp_path / "home", *args, "history")
    assert r.returncode == 2
    assert r.stderr == (
        "alu: --data needs a folder (it was given empty): alu --data DIR VERB; see alu --help\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no home, no fakehome made


@pytest.mark.parametrize("under", ["", "sub"])
def test_a_file_given_as_data_folder_is_named_as_such(tmp_path: Path, under: str) -> None:
    # it said "Not a directory (…/clip.mp4/data) … choose another with ALU_CLIENT_HOME"
    (tmp_path / "clip.mp4").write_bytes(b"x")
    r = _alu(tmp_path, tmp_path / "home", "--data", str(Path("clip.mp4", under)), "history")
    assert r.returncode == 2
    assert r.stderr == (
        f"alu: --data names a file, not a folder ({tmp_path / 'clip.mp4'}): give a folder "
        "(made if missing); see alu --help\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
