"""The log file of a long-running ALU Desk process — the app, and `alu watch run` on a station
without a screen (it wrote none: its rule, hot-folder and claim problems went to stderr only,
where a service manager may keep nothing) — and the crash log beside it.

``alu-client.log`` in the log folder, rotated at 2 MB with five older ones kept; one engine works
on a data folder at a time, so the app and `alu watch run` never write it together.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

LOG_NAME = "alu-client.log"


class QuietFileHandler(logging.handlers.RotatingFileHandler):
    """The log file, which fails quietly: on a full disk (the data folder's, where the log is)
    every record printed "--- Logging error ---" and a traceback to stderr, two a second,
    into the session's journal. A failure is said once, in one line; then nothing until a
    record is written again."""

    #: who says that the log cannot be written (on stderr)
    program = "alu-client"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failing = False
        self._failed_now = False

    def emit(self, record: logging.LogRecord) -> None:
        # (under the handler's lock: ``Handler.handle`` holds it)
        self._failed_now = False
        super().emit(record)
        if self.failing and not self._failed_now:
            self.failing = False

    def handleError(self, record: logging.LogRecord) -> None:
        self._failed_now = True
        if self.failing or not logging.raiseExceptions:
            self.failing = True
            return
        self.failing = True
        error = sys.exc_info()[1]
        # a logging handler never raises: the error would reach whoever logged (a worker
        # thread, the progress loop) and end it. No stderr at all in the windowed builds
        # (``sys.stderr`` is None there), a closed tty, an encoding error: nothing said
        stream = sys.stderr
        if stream is None:
            return
        with contextlib.suppress(Exception):
            stream.write(
                f"{self.program}: the log file {self.baseFilename} cannot be written ({error}); "
                "nothing more is said until it can\n"
            )


def file_log(log_dir: Path, program: str = "alu-client") -> QuietFileHandler:
    """The rotating log file's handler, its folder made (the caller adds it to a logger)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = QuietFileHandler(
        log_dir / LOG_NAME, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handler.program = program
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    return handler


_crash_log: Any = None


def enable_crash_log(log_dir: Path) -> None:
    """A crash in native code (Qt, FFmpeg, a driver) kills the process with no Python
    traceback and no log line. ``faulthandler`` then writes every thread's Python stack to
    ``crash.log`` beside the log, for the report to the agency's support. It holds stacks
    (file and function names), never values."""
    import faulthandler

    global _crash_log
    if _crash_log is not None:
        return
    _crash_log = (log_dir / "crash.log").open("a", encoding="utf-8")  # (kept open)
    faulthandler.enable(file=_crash_log, all_threads=True)
