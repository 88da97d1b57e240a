"""What the libraries we use may log, kept free of secrets.

urllib3 names the request it retries in a WARNING ("Retrying (…) after connection broken by
'RemoteDisconnected(…)': /files/3f9c…?X-Amz-Signature=…"): a tus upload URL's path or a signed
link's query, both secrets. Its own WARNINGs are of no use to a newsroom user either (the
engine says what went wrong in its words), so urllib3 speaks only from ERROR up, and every
record of a library that reaches a handler passes ``LibraryScrub``: URLs cut to their host,
absolute paths of requests and query strings taken out, credentials hidden. ALU's own records
(``alu_client.*``) are worded without secrets where they are made, and pass as they are.
"""

from __future__ import annotations

import logging
import re

from .transfers.retry import scrub

__all__ = ["LibraryScrub", "quiet_libraries"]

#: libraries whose debug and info lines would carry URLs, headers or bodies
CHATTY = ("urllib3", "requests", "uvicorn.access", "watchdog")
#: a request's path as urllib3 and http.client name it (": /files/3f9c…", "GET /x?y HTTP/1.1")
_REQUEST_PATH_RE = re.compile(r"(?<![\w.~%-])/[^\s'\"<>]+")


class LibraryScrub(logging.Filter):
    """Takes secrets out of library records (see the module's note); ours pass as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "alu_client" or record.name.startswith(("alu_client.", "alu_hub")):
            return True
        try:
            text = record.getMessage()
        except Exception:  # a library's bad format string: say so, not its arguments
            text = f"{record.msg!s} (a log line that could not be formatted)"
        record.msg = _REQUEST_PATH_RE.sub("[path]", scrub(text))
        record.args = None
        return True


def quiet_libraries(*handlers: logging.Handler) -> None:
    """Chatty libraries to WARNING (urllib3 to ERROR); ``handlers`` scrub library records."""
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    for handler in handlers:
        if not any(isinstance(f, LibraryScrub) for f in handler.filters):
            handler.addFilter(LibraryScrub())
