"""Claims: one workstation takes a file of a hot folder that several watch (one shared folder
on a NAS, each newsroom workstation with its own data folder): the others leave it alone.

A claim is a small JSON file in the hidden folder ``.alu-claims`` of the hot folder (the scan
ignores dot-names and sub-folders), named from a hash of the file's name
(``claim_name``). It holds the workstation's id (a random UUID made once per data folder,
``workstation_id``), its host name (for the messages), the file's name, size and time, and a
counter that changes at every refresh.

- **Taken** just before a file is queued (or recorded as content sent already, then moved):
  created with ``O_CREAT | O_EXCL``. Another workstation's live claim: the file is not taken
  ("being sent by HOST", ``HotFolders.elsewhere``); this workstation's own (after a restart or
  a crash): it goes on as it would have.
- **Refreshed** every ``CLAIM_REFRESH`` seconds while the holder has a row for the file
  (queued, uploading, sent and not moved yet, or in error: an error on one workstation, the
  hub refusing the file, must not make every other one try and fail again).
- **Stale** is judged without comparing the clocks of two machines: an observer remembers the
  claim's content as it last saw it and when that changed on its own monotonic clock; a claim
  unchanged for ``claim_stale`` seconds (``CLAIM_STALE``) is stale. After an observer's restart
  the wait starts again. A stale claim is taken over: ours written under a temporary name,
  ``os.replace``-d over it, read back; the file is queued only if it is ours.
- **Taken over** while held (the holder was asleep or off the network for longer): at its next
  refresh the holder finds the claim is not its own any more, cancels its upload of the file
  (``cancel_upload``) and its row's state is ``taken_over`` (no error: nothing to retry; a
  note says who took it); a sent file is then not moved (the new holder is sending it). Such
  a file is left to the new holder while its claim lives, and taken again as any file when
  that claim is stale or gone with the file still there (the new holder went away in turn).
- **Shown**: the files another workstation is sending (a live claim), as the last scan found
  them, are kept in the store (``watch_elsewhere``, written when they change): Settings and
  ``alu watch list`` list them (``sent_elsewhere``), a file taken over from this one with
  that note.
- **Released** when the holder moves the file to the sent folder or finds it gone; a claim
  whose file is no longer in the hot folder is removed by any workstation once it has not
  changed for ``claim_stale`` seconds.
- **Cannot claim** (a hot folder this workstation cannot write, ``.alu-claims`` no folder):
  the file is taken as it was without claims, logged once per folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..store import Store
from ..store.transfers import TransferStore
from ..workstation import workstation_id
from .folders import TAKEN_OVER, WatchFile, WatchFolder
from .messages import MSG_SENT_ELSEWHERE, MSG_TAKEN_OVER

log = logging.getLogger("alu_client.core.watch")  # the package's logger, as before the split

#: the hidden folder of a hot folder where the claims are
CLAIMS_DIR = ".alu-claims"
#: seconds between two refreshes of a claim held (at most; a quarter of the stale time when
#: that is shorter)
CLAIM_REFRESH = 60.0
#: seconds a claim may stay unchanged, as another workstation sees it, before it is stale
CLAIM_STALE = 600.0
_CLAIM_SUFFIX = ".claim"
_MAX_CLAIM = 64 * 1024
_BINARY = getattr(os, "O_BINARY", 0)


def claim_name(name: str) -> str:
    """The claim file's name for the hot folder's file ``name`` (any length, any script)."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:32] + _CLAIM_SUFFIX


@dataclass(frozen=True)
class Claim:
    """A claim as read; ``raw``: its bytes (what an observer watches change)."""

    raw: bytes
    workstation: str = ""
    host: str = ""
    name: str = ""
    seq: int = 0

    @classmethod
    def parse(cls, raw: bytes) -> Claim:
        """``raw`` as a claim; one that is no claim (being written, damaged) has no owner."""
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:
            return cls(raw)
        if not isinstance(data, dict):
            return cls(raw)
        seq = data.get("seq")
        return cls(
            raw,
            workstation=str(data.get("workstation") or ""),
            host=str(data.get("host") or ""),
            name=str(data.get("name") or ""),
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else 0,
        )


@dataclass(frozen=True)
class SentElsewhere:
    """A file of a hot folder that another workstation watching it is sending (its live
    claim), as this workstation's last scan found it."""

    folder_id: int
    path: Path
    #: the other workstation's host name
    host: str
    #: when this workstation first found it so (epoch seconds)
    since: float
    #: a sentence of ``messages`` saying so (the app translates it): taken over from this
    #: workstation (``MSG_TAKEN_OVER``), or sent there (``MSG_SENT_ELSEWHERE``)
    note: str


@dataclass
class _ClaimMemory:
    #: claim file → its content when last seen, and since when (this machine's clock) it is so
    seen: dict[Path, tuple[bytes, float]] = field(default_factory=dict)
    #: (folder id, path) → the host of the workstation sending it (its live claim)
    elsewhere: dict[tuple[int, str], str] = field(default_factory=dict)
    #: folder id → when its claims are refreshed next (this machine's clock)
    refresh_at: dict[int, float] = field(default_factory=dict)
    #: folders where no claim can be made (said once while it lasts)
    off: set[int] = field(default_factory=set)
    #: sent rows not moved because another workstation holds the file now (said once)
    not_moved: set[int] = field(default_factory=set)
    #: folder id → the folder and its files' names as its last scan listed them
    listed: dict[int, tuple[WatchFolder, set[str]]] = field(default_factory=dict)


class ClaimKeeper:
    """The claims of this workstation's hot folders (a part of ``HotFolders``)."""

    store: Store
    profile: str
    clock: Callable[[], float]
    claim_stale: float
    cancel_upload: Callable[[int], None] | None
    _claims: _ClaimMemory
    _workstation: str | None

    @property
    def workstation(self) -> str:
        """This data folder's workstation id (made once, kept in the store)."""
        if self._workstation is None:
            self._workstation = workstation_id(self.store)
        return self._workstation

    @property
    def elsewhere(self) -> dict[tuple[int, str], str]:
        """Files another workstation is sending ((folder id, path) → a sentence of
        ``messages`` saying which), as the last scan found them: not taken here."""
        return {
            key: MSG_SENT_ELSEWHERE.format(name=Path(key[1]).name, host=host)
            for key, host in self._claims.elsewhere.items()
        }

    def sent_elsewhere(self, folder_id: int) -> list[SentElsewhere]:
        """The files of the folder another workstation is sending, as the last scan of the
        engine watching it found them (kept in the store: the app's Settings and `alu watch
        list` read them without that engine). A file taken over from this workstation says so
        (its row's state is ``taken_over``) and comes first: it is the one a user here asks
        about ("was my clip sent?"); then the latest first, as a newsroom reads a list."""
        rows = self.store.query(
            "SELECT e.path, e.host, e.since, (SELECT wf.state FROM watch_files wf"
            " WHERE wf.folder_id = e.folder_id AND wf.path = e.path ORDER BY wf.id DESC LIMIT 1)"
            " AS state FROM watch_elsewhere e WHERE e.folder_id = ?"
            " ORDER BY state IS 'taken_over' DESC, e.since DESC, e.path",
            (folder_id,),
        )
        found = []
        for r in rows:
            path, host = Path(str(r["path"])), str(r["host"])
            said = MSG_TAKEN_OVER if r["state"] == TAKEN_OVER else MSG_SENT_ELSEWHERE
            note = said.format(name=path.name, host=host)
            found.append(SentElsewhere(folder_id, path, host, float(r["since"] or 0.0), note))
        return found

    def _publish_elsewhere(self, folder_id: int) -> None:
        """Write the folder's files another workstation sends to the store when they differ
        from what it has (Settings and `alu watch list` show them). Compared with the store
        each time, not with what this engine last wrote: a folder removed takes its rows with
        it, and the same folder added again (Settings, `alu watch`, in one go or not) gets the
        same id, so a memory of them would say "written" of rows that are gone."""
        now = {
            path: host for (fid, path), host in self._claims.elsewhere.items() if fid == folder_id
        }
        try:
            rows = self.store.query(
                "SELECT path, host FROM watch_elsewhere WHERE folder_id = ?", (folder_id,)
            )
            before = {str(r["path"]): str(r["host"]) for r in rows}
            if now == before:
                return
            at = time.time()  # (one time for the files found in one scan: listed by name)
            with self.store.write() as c:
                for path, host in before.items():
                    if now.get(path) != host:
                        c.execute(
                            "DELETE FROM watch_elsewhere WHERE folder_id = ? AND path = ?",
                            (folder_id, path),
                        )
                for path, host in now.items():
                    if before.get(path) != host:
                        c.execute(
                            "INSERT OR REPLACE INTO watch_elsewhere (folder_id, path, host, since)"
                            " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM watch_folders"
                            " WHERE id = ?)",
                            (folder_id, path, host, at, folder_id),
                        )
        except sqlite3.Error as e:  # (the store busy: written at a later scan)
            log.debug("hot folder: the files sent elsewhere cannot be written now: %s", e)

    def _forget_elsewhere(self, folder_id: int) -> None:
        """The folder was not listed (not there, unreadable, not watched): what it held is not
        known now, nor said."""
        for key in [k for k in self._claims.elsewhere if k[0] == folder_id]:
            del self._claims.elsewhere[key]
        self._publish_elsewhere(folder_id)

    def _forget_claims_of_removed(self, known: set[int]) -> None:
        """The claims' memory of folders not in ``known`` (removed): their listing is no longer
        kept alive (``_keep_claims_alive``), their files no longer said sent elsewhere."""
        memory = self._claims
        for fid in [fid for fid in memory.listed if fid not in known]:
            del memory.listed[fid]
        for key in [k for k in memory.elsewhere if k[0] not in known]:
            del memory.elsewhere[key]
        for fid in [fid for fid in memory.refresh_at if fid not in known]:
            del memory.refresh_at[fid]
        memory.off &= known

    # --- taking ---------------------------------------------------------------------------

    def _claim_elsewhere(self, folder: WatchFolder, path: Path) -> str | None:
        """Who sends ``path`` (a live claim of another workstation's: its host), else None;
        only reads (the claim is taken by ``_take_claim``, when the file is queued)."""
        key = (folder.id, str(path))
        cpath = _claim_path(folder, path.name)
        claim = _read(cpath)
        if claim is None:
            host = self._claims.elsewhere.get(key)
            seen = self._claims.seen.get(cpath)
            if host is not None and seen is not None and self._live(cpath, seen[0]):
                # the claim went while its file stays (deleted by hand, a NAS tool): its holder
                # makes it again at its next refresh; taken now, the file would be sent twice
                return host
        if claim is None or claim.workstation == self.workstation:
            self._claims.elsewhere.pop(key, None)
            return None
        return self._foreign(folder, path, claim)

    def _take_claim(self, folder: WatchFolder, path: Path, size: int, mtime: int) -> str | None:
        """Take the claim on ``path`` before it is queued: None when this workstation may
        send it (its claim now, or no claim can be made here); else the host sending it."""
        key = (folder.id, str(path))
        cdir = folder.path / CLAIMS_DIR
        target = cdir / claim_name(path.name)
        try:
            _make_dir(cdir)  # (a file there instead: the open below says so)
            _create(target, self._content(path.name, size, mtime, 1))
        except FileExistsError:
            pass
        except OSError as e:
            return self._cannot_claim(folder, path, e)
        else:
            self._claimed(folder, key)
            return None
        claim = _read(target)
        if claim is not None and claim.workstation != self.workstation:
            host = self._foreign(folder, path, claim)
            if host is not None:
                return host
            log.info("hot folder: the claim of %s on %s is stale; taken over", claim.host, path)
            self._claims.refresh_at[folder.id] = self.clock()  # checked again at the next scan
        seq = claim.seq + 1 if claim is not None else 1
        try:
            _replace(target, self._content(path.name, size, mtime, seq), self.workstation)
            back = _read(target)
        except OSError as e:
            return self._cannot_claim(folder, path, e)
        if back is not None and back.workstation != self.workstation:
            return self._foreign(folder, path, back) or back.host or "?"
        self._claimed(folder, key)
        return None

    def _foreign(self, folder: WatchFolder, path: Path, claim: Claim) -> str | None:
        """Another workstation's ``claim`` on ``path``: its host when live, None when stale."""
        key = (folder.id, str(path))
        if not self._live(_claim_path(folder, path.name), claim.raw):
            self._claims.elsewhere.pop(key, None)
            return None
        host = claim.host or "?"
        if self._claims.elsewhere.get(key) != host:
            log.info("hot folder: %s is being sent by %s; not taken here", path, host)
        self._claims.elsewhere[key] = host
        return host

    def _live(self, claim: Path, raw: bytes) -> bool:
        """Whether a claim that reads ``raw`` has changed within ``claim_stale`` seconds, on
        this machine's clock (first seen now: it has)."""
        now = self.clock()
        seen = self._claims.seen.get(claim)
        if seen is None or seen[0] != raw:
            seen = self._claims.seen[claim] = (raw, now)
        return now - seen[1] < self.claim_stale

    def _claimed(self, folder: WatchFolder, key: tuple[int, str]) -> None:
        self._claims.elsewhere.pop(key, None)
        if folder.id in self._claims.off:
            self._claims.off.discard(folder.id)
            log.info("hot folder %s: claims can be made again", folder.path)

    def _cannot_claim(self, folder: WatchFolder, path: Path, error: OSError) -> str | None:
        """No claim can be made (the folder read-only for us, ``.alu-claims`` no folder): a
        live claim of another workstation is still respected; else the file is taken as it
        was before claims, said once per folder."""
        claim = _read(_claim_path(folder, path.name))
        if claim is not None and claim.workstation != self.workstation:
            host = self._foreign(folder, path, claim)
            if host is not None:
                return host
        if folder.id not in self._claims.off:
            self._claims.off.add(folder.id)
            log.warning(
                "hot folder %s: no claim can be made in %s (%s); its files are taken without"
                " one (another workstation watching the folder may send them too)",
                folder.path,
                CLAIMS_DIR,
                error.strerror or type(error).__name__,
            )
        return None

    def _content(self, name: str, size: int, mtime: int, seq: int) -> bytes:
        data = {
            "workstation": self.workstation,
            "host": _host(),
            "name": name,
            "size": size,
            "mtime_ns": mtime,
            "seq": seq,
            "at": time.time(),  # (for a person reading it: never compared across machines)
        }
        return json.dumps(data, ensure_ascii=False).encode("utf-8")

    # --- holding, releasing -----------------------------------------------------------------

    def _moving_ours(self, folder: WatchFolder, row: WatchFile) -> bool:
        """Whether the sent file of ``row`` may be moved to the sent folder: no other
        workstation took it over meanwhile (it would be sending it now, from here)."""
        claim = _read(_claim_path(folder, row.path.name))
        if claim is None or claim.workstation == self.workstation:
            self._claims.not_moved.discard(row.id)
            return True
        if row.id not in self._claims.not_moved:
            self._claims.not_moved.add(row.id)
            log.warning(
                "hot folder: %s was sent from here, but %s holds its claim (it took it over, or"
                " it claimed it while no claim could be made from here); moved by it, not here",
                row.path,
                claim.host or "?",
            )
        return False

    def _release_claim(self, folder: WatchFolder, name: str) -> None:
        """The file ``name`` left the hot folder (moved to the sent folder): its claim goes,
        when it is ours."""
        target = _claim_path(folder, name)
        claim = _read(target)
        if claim is not None and claim.workstation == self.workstation:
            with contextlib.suppress(OSError):
                os.unlink(target)
        self._claims.seen.pop(target, None)

    def _keep_claims_alive(self) -> None:
        """The claims' pass of every folder, as its last scan listed it, when it is due: called
        while the scan thread is held by a long read (a big file hashed off a slow share: 20
        GB at 10 MB/s is half an hour). Only once a scan ends did it refresh them, and the
        others took over (and this one then canceled) the files it was uploading meanwhile."""
        for folder, names in list(self._claims.listed.values()):
            self._claims_pass(folder, names)

    def _claims_pass(self, folder: WatchFolder, names: set[str]) -> None:
        """Every ``CLAIM_REFRESH`` seconds: the claims held refreshed (a file with a row here),
        lost ones found (taken over), ours whose file is gone removed, and others' whose file
        is gone removed once they are stale. ``names``: the hot folder's listing."""
        self._claims.listed[folder.id] = (folder, names)
        now = self.clock()
        if now < self._claims.refresh_at.get(folder.id, -math.inf):
            return
        self._claims.refresh_at[folder.id] = now + min(CLAIM_REFRESH, self.claim_stale / 4)
        cdir = folder.path / CLAIMS_DIR
        try:
            entries = os.listdir(cdir)
        except FileNotFoundError:
            entries = []
        except OSError:
            return  # (no folder, unreadable): nothing claimed there
        handled: set[str] = set()
        for name, row in self._held_rows(folder, names).items():
            cname = claim_name(name)
            handled.add(cname)
            target = cdir / cname
            claim = _read(target)
            try:
                if claim is None:
                    # (an error recorded without a claim stays so; a file taken over is the
                    # other workstation's, which makes its claim again)
                    if row.state not in ("error", TAKEN_OVER):
                        with contextlib.suppress(FileExistsError):
                            _make_dir(cdir)
                            _create(target, self._content(name, row.size, row.mtime_ns, 1))
                elif claim.workstation == self.workstation:
                    content = self._content(name, row.size, row.mtime_ns, claim.seq + 1)
                    _replace(target, content, self.workstation)
                else:
                    self._lost(folder, row, claim)
            except OSError as e:
                log.debug("hot folder: the claim on %s cannot be refreshed: %s", name, e)
        for entry in entries:
            if entry in handled:
                continue
            target = cdir / entry
            claim = _read(target)
            if claim is None:
                continue
            if entry.endswith(_CLAIM_SUFFIX) and claim.workstation == self.workstation:
                if claim.name not in names:  # released: its file is gone
                    _unlink(target)
                    self._claims.seen.pop(target, None)
                continue  # (in the folder without a row: taken again here, or stale)
            if entry.endswith(_CLAIM_SUFFIX) and claim.name in names:
                continue  # another workstation's, for a file still there
            # another's whose file is gone, or a leftover (a temporary file, no claim)
            if not self._live(target, claim.raw):
                log.info("hot folder: a stale claim in %s removed (%s)", cdir, claim.host or "?")
                _unlink(target)
                self._claims.seen.pop(target, None)
        # (what was seen of a claim gone whose file another workstation was sending is kept:
        # see ``_claim_elsewhere``)
        sending = {claim_name(Path(k[1]).name) for k in self._claims.elsewhere if k[0] == folder.id}
        for p in [p for p in self._claims.seen if p.parent == cdir and p.name not in entries]:
            if p.name not in sending:
                del self._claims.seen[p]

    def _held_rows(self, folder: WatchFolder, names: set[str]) -> dict[str, WatchFile]:
        """This workstation's rows of files still in the hot folder (by name; the one that
        matters most when there are several: uploading, then sent, then the latest)."""
        rows = self.store.query(
            "SELECT * FROM watch_files WHERE folder_id = ? AND path LIKE ? ESCAPE '\\'"
            " ORDER BY state = 'uploading', state = 'sent', id",
            (folder.id, _like_prefix(str(folder.path) + os.sep)),
        )
        held: dict[str, WatchFile] = {}
        for r in rows:
            row = WatchFile.from_row(r)
            if row.path.parent == folder.path and row.path.name in names:
                held[row.path.name] = row  # (the last one wins: see the order)
        return held

    def _lost(self, folder: WatchFolder, row: WatchFile, claim: Claim) -> None:
        """Another workstation took over the claim on the file of ``row`` (this one was asleep
        or off the network for longer than the stale time): its upload here is canceled, and
        its row says so — taken over, no error (the other sends it: nothing to retry). A sent
        row stays (the move checks the claim first)."""
        if row.state != "uploading":
            return
        host = claim.host or "?"
        note = MSG_TAKEN_OVER.format(name=row.path.name, host=host)
        with self.store.write() as c:
            # the transfer is no longer the row's: its end (canceled) must not overwrite this
            cur = c.execute(
                "UPDATE watch_files SET state = ?, error = ?, transfer_id = NULL, at = ?,"
                " retry = 0 WHERE id = ? AND state = 'uploading'",
                (TAKEN_OVER, note, time.time(), row.id),
            )
        if cur.rowcount == 0:
            return
        log.warning("hot folder: %s", note)
        # sent by the other now: said so where the folder's files are shown (``_foreign``
        # keeps it while the claim lives)
        self._live(_claim_path(folder, row.path.name), claim.raw)
        self._claims.elsewhere[(folder.id, str(row.path))] = host
        if row.transfer_id is not None:
            try:
                self._cancel(row.transfer_id)
            except (OSError, sqlite3.Error) as e:
                log.warning("hot folder: the upload of %s cannot be canceled: %s", row.path, e)

    def _cancel(self, tid: int) -> None:
        if self.cancel_upload is not None:
            self.cancel_upload(tid)
            return
        # no queue given (the CLI's scan): canceled in the store, or asked of the engine
        transfers = TransferStore(self.store)
        if not transfers.set_state(tid, "canceled", only_from=("queued", "paused", "failed")):
            transfers.request(tid, "cancel")


def _claim_path(folder: WatchFolder, name: str) -> Path:
    return folder.path / CLAIMS_DIR / claim_name(name)


def _make_dir(cdir: Path) -> None:
    """The claims' folder, made when missing (and hidden, on Windows)."""
    try:
        cdir.mkdir()
    except FileExistsError:
        return
    _hidden_on_windows(cdir)


def _hidden_on_windows(path: Path) -> None:  # pragma: no cover - exercised on Windows
    """Windows shows a dot-name: the claims' folder is marked hidden, as Explorer then hides
    it (a newsroom user would see, move or delete it in the hot folder)."""
    if os.name != "nt":
        return
    import ctypes

    hidden = 0x2  # FILE_ATTRIBUTE_HIDDEN
    if not ctypes.windll.kernel32.SetFileAttributesW(str(path), hidden):  # type: ignore[attr-defined]
        log.debug("hot folder: %s could not be marked hidden", path)


def _host() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return ""


def _read(path: Path) -> Claim | None:
    """The claim at ``path``; None when there is none (or it cannot be read now)."""
    try:
        with open(path, "rb") as f:
            return Claim.parse(f.read(_MAX_CLAIM))
    except OSError:
        return None


def _create(path: Path, content: bytes) -> None:
    """Write a new claim; FileExistsError when there is one."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _BINARY, 0o666)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)


def _replace(path: Path, content: bytes, workstation: str) -> None:
    """Put ``content`` at ``path`` whole (written beside it, then renamed over it)."""
    temp = path.with_name(f".{path.stem}.{workstation[:12]}.tmp")
    fd = os.open(temp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | _BINARY, 0o666)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    try:
        os.replace(temp, path)
    except OSError:
        _unlink(temp)
        raise


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
