"""``./run COMMAND`` (README's way to run ``alu`` and ``alu-hub`` from a clone) runs the command
in the folder it was called from: it ran it in the clone's folder, so ``~/alu/run alu put
clip.mp4`` from ``~/Videos`` looked for the clip in ``~/alu``, and ``--data rel`` or ``--dest
d1`` made their folders there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="./run is a bash script")
def test_a_command_runs_where_run_was_called_from(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    env = {**os.environ, "ALU_VENV": os.path.relpath(venv, ROOT)}  # (relative to the clone)
    said = subprocess.run(
        [str(ROOT / "run"), "python", "-c", "import os, sys; print(os.getcwd()); print(sys.prefix)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert said.stdout.splitlines() == [str(tmp_path), str(venv)]
