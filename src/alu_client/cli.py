"""``alu``: the headless command line of ALU Desk.

Transfer verbs for any server (diagnostics and scripts): ``alu fetch`` and ``alu tus-put``. They
run the same engine as the app, in the foreground, on the data folder's persistent queue, so an
interrupted run resumes when started again. The hub verbs (login, feed, get, put, …) come with
the library and sync.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import unquote, urlsplit

from .core.lockfile import EngineBusy, EngineLock
from .core.paths import default_paths
from .core.store import SchemaTooNew, Store
from .core.store.transfers import Transfer
from .core.transfers.queue import Progress, TransferQueue
from .core.transfers.throttle import parse_rate


class CliError(Exception):
    """A one-line message for the user; exit status 1 (2 for usage)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
        raise CliError(f"--header takes 'Name: value', not {text!r}", 2)
    return name.strip(), value.strip()


def parse_size(text: str) -> int:
    units = {
        "": 1,
        "k": 1024,
        "kib": 1024,
        "m": 1024**2,
        "mib": 1024**2,
        "g": 1024**3,
        "gib": 1024**3,
    }
    t = text.strip().lower().replace(" ", "")
    num = t.rstrip("kmgib")
    try:
        value = float(num) * units[t[len(num) :]]
    except (ValueError, KeyError):
        raise CliError(f"{text!r} is not a size (e.g. 8M, 512k, 1G)", 2) from None
    if value < 1:
        raise CliError(f"{text!r} is too small", 2)
    return int(value)


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class ProgressLine:
    """One self-overwriting line on a terminal (speed, ETA); silent when not a terminal."""

    def __init__(self, tid: int, stream: object = sys.stderr) -> None:
        self.tid = tid
        self.stream = stream
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.last = ""

    def __call__(self, batch: list[Progress]) -> None:
        for p in batch:
            if p.id != self.tid or not self.enabled:
                continue
            pct = f"{100 * p.fraction:5.1f}%" if p.fraction is not None else "     "
            eta = time.strftime("%H:%M:%S", time.gmtime(p.eta)) if p.eta is not None else "--:--:--"
            state = p.state if p.state != "active" else f"{fmt_bytes(p.speed)}/s ETA {eta}"
            waiting = f"  ({p.last_error})" if p.state == "queued" and p.last_error else ""
            line = f"\r{p.label[:40]:<40} {pct} {fmt_bytes(p.bytes_done):>9}  {state}{waiting}"
            self.stream.write(line[:160].ljust(len(self.last)))  # type: ignore[attr-defined]
            self.stream.flush()  # type: ignore[attr-defined]
            self.last = line

    def end(self) -> None:
        if self.enabled and self.last:
            self.stream.write("\n")  # type: ignore[attr-defined]


def _open_engine() -> tuple[Store, EngineLock]:
    paths = default_paths().ensure()
    try:
        lock = EngineLock(paths.engine_lock).acquire()
    except EngineBusy as e:
        raise CliError(str(e)) from None
    try:
        store = Store(paths.db_path)
    except SchemaTooNew as e:
        lock.release()
        raise CliError(str(e)) from None
    return store, lock


def _run_one(
    find_or_add: Callable[[TransferQueue], int],
    headers: dict[str, str],
    limit: float | None,
    *,
    direction: str,
    results: dict[int, dict[str, object]] | None = None,
) -> Transfer:
    store, lock = _open_engine()
    queue = TransferQueue(store, max_downloads=1, max_uploads=1, headers_for=lambda _t: headers)
    if results is not None:
        queue.on_result = lambda tid, result: results.__setitem__(tid, dict(result))
    if direction == "download":
        queue.set_limits(limit, None)
    else:
        queue.set_limits(None, limit)
    interrupted = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        interrupted.set()

    old = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        tid = find_or_add(queue)
        line = ProgressLine(tid)
        queue.add_listener(line)
        queue.start()
        while not interrupted.is_set():
            t = queue.wait_for(tid, timeout=0.5)
            if t.state in ("done", "failed", "canceled", "paused"):
                break
        line.end()
        if interrupted.is_set():
            raise CliError("Interrupted; run the same command again to resume.", 130)
        return t
    finally:
        queue.stop()
        store.close()
        lock.release()
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGTERM, old_term)


def _existing(
    queue: TransferQueue, direction: str, source: str, destination: str
) -> Transfer | None:
    """An unfinished transfer of the same thing: running the command again resumes it."""
    for t in queue.transfers.all(("queued", "active", "paused", "failed"), direction):
        if t.source == source and t.destination == destination:
            return t
    return None


def cmd_fetch(args: argparse.Namespace) -> int:
    url = args.url
    if urlsplit(url).scheme not in ("http", "https"):
        raise CliError("fetch takes an http:// or https:// URL", 2)
    dest = Path(args.dest).expanduser().absolute()
    if dest.is_dir() or args.dest.endswith(("/", os.sep)):
        name = Path(unquote(urlsplit(url).path)).name or "download"
        dest = dest / name
    sha = args.sha256.lower() if args.sha256 else None
    if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise CliError("--sha256 takes 64 hexadecimal characters", 2)
    headers = dict(parse_header(h) for h in args.header)
    limit = parse_rate(args.limit) if args.limit else None

    def find_or_add(queue: TransferQueue) -> int:
        t = _existing(queue, "download", url, str(dest))
        if t is not None:
            queue.resume(t.id)
            return t.id
        if dest.exists():
            raise CliError(f"{dest} exists already; nothing was downloaded.")
        return queue.add_download(url, dest, sha256=sha, segments=args.segments, label=dest.name)

    t = _run_one(find_or_add, headers, limit, direction="download")
    if t.state != "done":
        raise CliError(f"{dest.name}: {t.last_error or t.state}")
    verified = "sha256 verified" if sha else "size checked"
    print(f"{dest} ({fmt_bytes(t.size or 0)}, {verified})")
    return 0


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def cmd_tus_put(args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser().absolute()
    if not path.is_file():
        raise CliError(f"{args.file} is not a file", 2)
    endpoint = args.endpoint
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise CliError("tus-put takes an http:// or https:// endpoint", 2)
    metadata: dict[str, str] = {}
    for item in args.metadata:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--metadata takes key=value, not {item!r}", 2)
        metadata[key] = value
    headers = dict(parse_header(h) for h in args.header)
    chunk = parse_size(args.chunk_size) if args.chunk_size else None
    limit = parse_rate(args.limit) if args.limit else None

    def find_or_add(queue: TransferQueue) -> int:
        t = _existing(queue, "upload", str(path), endpoint)
        if t is not None:
            queue.resume(t.id)
            return t.id
        meta = {"filename": path.name, **metadata}
        if "sha256" not in meta:
            meta["sha256"] = _sha256_file(path)
        return queue.add_upload(
            path, endpoint, meta, chunk_size=chunk, parallel=args.parallel, label=path.name
        )

    results: dict[int, dict[str, object]] = {}
    t = _run_one(find_or_add, headers, limit, direction="upload", results=results)
    if t.state != "done":
        raise CliError(f"{path.name}: {t.last_error or t.state}")
    # The upload URL is a secret: the queue never stores it once done; it is handed back here.
    print(results.get(t.id, {}).get("url", ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alu", description="ALU Desk on the command line.")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (no secrets)")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fetch", help="download a URL, resumable and verified")
    f.add_argument("url")
    f.add_argument("dest", help="file, or folder to put it in")
    f.add_argument("--sha256", help="expected sha256; exit 0 only when it matches")
    f.add_argument("--segments", type=int, help="parallel streams for large files (default 4)")
    f.add_argument("--limit", help="bandwidth limit, e.g. 2M (Mbit/s) or 500KB (bytes/s)")
    f.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    f.set_defaults(func=cmd_fetch)

    t = sub.add_parser("tus-put", help="upload a file to a tus 1.0 endpoint, resumable")
    t.add_argument("endpoint")
    t.add_argument("file")
    t.add_argument("--chunk-size", help="e.g. 8M (default: adaptive from 16M)")
    t.add_argument(
        "--parallel", type=int, help="parts in parallel when the server has concatenation"
    )
    t.add_argument("--metadata", action="append", default=[], help="key=value (repeatable)")
    t.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    t.add_argument("--limit", help="bandwidth limit, e.g. 2M (Mbit/s)")
    t.set_defaults(func=cmd_tus_put)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # urllib3 logs request lines at DEBUG, and upload URLs are secrets.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except CliError as e:
        print(f"alu: {e}", file=sys.stderr)
        return e.status
    except ValueError as e:  # parse_rate and friends say what is wrong
        print(f"alu: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
