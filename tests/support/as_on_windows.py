"""A pytest plugin (``-p tests.support.as_on_windows``) that hides what Windows lacks before the
test modules are imported: the POSIX-only modules (``fcntl``, ``resource``, …) and the names of
``os`` and ``signal`` Windows does not have. With ``--collect-only`` it shows on Linux whether
a selection of tests can be collected on Windows (an ``import fcntl`` at the top of a test
module failed every Windows run at collection). Loaded after the other plugins (pytest's own
use some of these names), and for collection only: tests would not run like this.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

MODULES = ("fcntl", "resource", "termios", "pwd", "grp", "pty", "tty")
OS_NAMES = (
    "geteuid",
    "getuid",
    "getgid",
    "getegid",
    "getpgid",
    "getpgrp",
    "setpgrp",
    "setsid",
    "killpg",
    "fork",
    "nice",
    "chown",
    "statvfs",
    "uname",
)
SIGNALS = (
    "SIGKILL",
    "SIGHUP",
    "SIGQUIT",
    "SIGUSR1",
    "SIGUSR2",
    "SIGSTOP",
    "SIGCONT",
    "SIGTSTP",
    "SIGPIPE",
    "SIGALRM",
    "SIGCHLD",
)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("collectonly"):
        raise pytest.UsageError("tests.support.as_on_windows is for --collect-only")
    for name in MODULES:
        sys.modules[name] = None  # type: ignore[assignment]  # "import fcntl" now fails
    for module, names in ((os, OS_NAMES), (signal, SIGNALS)):
        for name in names:
            if hasattr(module, name):
                delattr(module, name)
