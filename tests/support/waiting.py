"""Waiting on a condition with a deadline (never a fixed sleep standing in for a result), and
ending the server processes the tests start."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_until(
    cond: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``cond`` until it returns something truthy, and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what or cond}")
        pause.wait(interval)


def end_process(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop a server the tests started: SIGTERM, then SIGKILL after ``grace`` seconds; its
    pipes are closed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def listening_port(proc: subprocess.Popen[str], what: str) -> int:
    """The port a server we started prints first as ``LISTENING <port>``; the test fails with
    what the server printed when it died instead."""
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first line, or "" if it died
    started = re.match(r"LISTENING (\d+)$", line.strip())
    if started is None:
        proc.kill()
        rest = proc.stdout.read()
        pytest.fail(f"{what} did not start:\n{line}{rest}", pytrace=False)
    return int(started[1])


def assert_kept_nowhere(folder: Path, *secrets: bytes, but: Iterable[Path] = ()) -> None:
    """No file under ``folder`` (but those given) holds any of ``secrets``."""
    allowed = set(but)
    for f in folder.rglob("*"):
        if f.is_file() and f not in allowed:
            data = f.read_bytes()
            for secret in secrets:
                assert secret not in data, f"{secret!r} is kept in {f}"
