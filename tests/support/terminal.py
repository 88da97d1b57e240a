"""Run a command with its stdout and stderr on a terminal (a pty), as a user at a shell sees
it: what it wrote there, the terminal's CR LF made LF again."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Sequence


def run_on_terminal(
    argv: Sequence[str], env: dict[str, str], *, timeout: float = 120
) -> tuple[int, str]:
    """``argv`` run to its end on a new pty; (exit status, all it wrote there)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            list(argv), env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
        )
    finally:
        os.close(slave)
    out = bytearray()
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed its end
                break
            if not chunk:
                break
            out += chunk
        status = proc.wait(timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return status, out.decode("utf-8", "replace").replace("\r\n", "\n")
