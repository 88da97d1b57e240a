"""Moving a sent file (and its sidecar) to the folder's sent folder, never over a file."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ..store import Store
from .folders import WatchFile, WatchFolder, is_ignored
from .records import _Memory

log = logging.getLogger("alu_client.core.watch")  # the package's logger, as before the split


class SentMover:
    """Sent files out of the hot folder (a part of ``HotFolders``)."""

    _mem: _Memory
    store: Store

    def _move_sent(self, folder: WatchFolder, row: WatchFile) -> None:
        src = row.path
        sidecar = src.with_suffix(".json")
        # A sidecar shared by another file still waiting there (clip.mp4 and clip.mov) stays.
        try:
            others = [
                n
                for n in os.listdir(src.parent)
                if n != src.name and Path(n).stem == src.stem and not is_ignored(n)
            ]
        except OSError:
            others = []
        take_sidecar = sidecar.is_file() and not others
        late = take_sidecar and self._sidecar_came_late(row, sidecar)
        if late:
            note = (
                f"Sent without {sidecar.name}: it arrived after {src.name} was taken, and its "
                "fields were not used (the item went out with the folder's defaults and the "
                'file name); it is in the sent folder marked "not used". Write the sidecar '
                "first, or give the folder a longer settle time."
            )
            if row.error != note:  # (once: a move that fails is tried at every scan)
                log.warning("hot folder: %s", note)
                with self.store.write() as c:
                    c.execute("UPDATE watch_files SET error = ? WHERE id = ?", (note, row.id))
        try:
            dest = folder.sent_path
            dest.mkdir(parents=True, exist_ok=True)
            target = _move_unique(src, dest, src.name, companion=take_sidecar and not late)
            if late:
                # out of the hot folder all the same: left there, it was applied to the next
                # file of that name (cameras count CLIP0042 again after a card is formatted)
                _move_unique(sidecar, dest, f"{target.stem} (not used).json")
            elif take_sidecar:
                _move_unique(sidecar, dest, f"{target.stem}.json")
        except OSError as e:
            if row.id not in self._mem.move_failed:
                self._mem.move_failed.add(row.id)
                log.warning("hot folder: %s was sent but cannot be moved: %s", src, e)
            return
        self._mem.move_failed.discard(row.id)
        log.info("hot folder: %s sent, moved to %s", src.name, target)

    def _sidecar_came_late(self, row: WatchFile, sidecar: Path) -> bool:
        """Whether ``sidecar`` was written after its file was taken (queued), so its fields
        were not in the upload: it stays in the folder, said so, rather than go to sent/ as
        if it had been used (an editing tool writing the metadata after the media)."""
        if row.transfer_id is None:
            return False
        taken = self.store.query_one(
            "SELECT created_at FROM transfers WHERE id = ?", (row.transfer_id,)
        )
        try:
            written = sidecar.stat().st_mtime
        except OSError:
            return False
        return taken is not None and written > float(taken[0]) + 1.0


def _move_unique(src: Path, folder: Path, name: str, *, companion: bool = False) -> Path:
    """Move ``src`` into ``folder`` as ``name``, or ``stem (2).ext``… if that is taken: never
    over an existing file (a hard link refuses to replace one; across file systems the name is
    checked first). ``companion``: the name's ``.json`` must be free too (the sidecar follows)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 10_000):
        target = folder / (name if n == 1 else f"{stem} ({n}){suffix}")
        if target.exists() or (companion and target.with_suffix(".json").exists()):
            continue
        try:
            os.link(src, target)
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise
        except OSError:  # another file system, or one without hard links (FAT, some shares)
            if target.exists():
                continue
            shutil.move(str(src), str(target))
            return target
        os.unlink(src)
        return target
    raise FileExistsError(f"Too many files named like {name!r} in {folder}")
