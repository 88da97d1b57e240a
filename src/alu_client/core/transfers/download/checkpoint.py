"""Where a download stands: the checkpoint, adopted on resume and saved after an fsync."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .connection import _JobBase, link_digest
from .partfile import _Segment, probe_digest, probe_spans
from .protocol import _CHECKPOINT_VERSION, _disk_error, _is_strong


class _CheckpointJob(_JobBase):
    # -- checkpoint --------------------------------------------------------------------

    def _load(self) -> bool:
        """Adopt the checkpoint if it describes the part file; False to start afresh."""
        data = self.ctx.checkpoint.load()
        compressed = data.get("compressed", 0)
        self.compressed = compressed if isinstance(compressed, int) else 0
        self.one_stream = data.get("one_stream") is True
        self.etag_unreliable = data.get("etag_unreliable") is True
        tags = data.get("tags_seen")
        self.tags_seen = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
        cap = data.get("streams")
        if isinstance(cap, int) and not isinstance(cap, bool) and cap >= 1:
            self._cap_streams(cap)
        self.restarted = data.get("restarted") is True  # data was thrown away in an earlier run
        wrong = data.get("wrong_sha256")
        self.wrong_sha256 = wrong if isinstance(wrong, str) else None
        needs = data.get("decode_needs")
        self.decode_needs = needs if isinstance(needs, int) else 0
        self.link_served = data.get("served_by") == link_digest(self.spec.url)
        if not self.part_existed:
            return False
        etag, lm, size = data.get("etag"), data.get("last_modified"), data.get("size")
        raw = data.get("segments")
        if data.get("v") != _CHECKPOINT_VERSION or not isinstance(size, int) or size < 0:
            return False
        if not isinstance(raw, list) or not raw:
            return False
        coding = data.get("coding")
        if coding is None and self.spec.size is not None and size != self.spec.size:
            return False  # (coded bytes have a size of their own)
        etag = etag if isinstance(etag, str) and _is_strong(etag) else None
        if self.etag_unreliable:
            etag = None
        lm = lm if isinstance(lm, str) and lm else None
        if etag is None and lm is None:
            return False
        if coding is not None and (coding not in ("gzip", "deflate") or etag is None):
            return False  # coded bytes resume on a strong ETag only (see _adopt_coding)
        segments: list[_Segment] = []
        expect = 0
        for item in raw:
            if (
                not isinstance(item, list)
                or len(item) != 3
                or not all(isinstance(v, int) for v in item)
            ):
                return False
            start, end, done = item
            if start != expect or end <= start or not 0 <= done <= end - start:
                return False
            segments.append(_Segment(start, end, done))
            expect = end
        if expect != size:
            return False
        if len(segments) > 1 and etag is None:
            return False  # segments need a strong validator: each range is its own request
        on_disk = os.fstat(self.fd).st_size
        for seg in segments:  # never trust more than the file holds
            seg.done = max(0, min(seg.done, on_disk - seg.start))
        self.etag, self.last_modified, self.size, self.segments = etag, lm, size, segments
        self.coding = coding
        return True

    def _snapshot(self) -> dict[str, Any]:
        """The checkpoint as it stands (call with the lock held)."""
        rows: list[list[int]] = []
        for seg in sorted(self.segments, key=lambda s: s.start):
            assert seg.end is not None
            if rows and rows[-1][2] == rows[-1][1] - rows[-1][0] and seg.complete:
                rows[-1][1] = seg.end  # merge complete neighbours: the list stays short
                rows[-1][2] = seg.end - rows[-1][0]
            else:
                rows.append([seg.start, seg.end, seg.done])
        data: dict[str, Any] = {
            "v": _CHECKPOINT_VERSION,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "size": self.size,
            "segments": rows,
        }
        if self.coding is not None:
            data["coding"] = self.coding
        if any(row[2] for row in rows):
            data["served_by"] = link_digest(self.spec.url)
        data.update(self._carry())
        return data

    def _carry(self) -> dict[str, Any]:
        """What outlives a start over: compressed answers seen, data already thrown away, the
        digest of a whole file that did not match, how many streams the server takes."""
        carry: dict[str, Any] = {}
        if self.part_id is not None:
            carry["part"] = self.part_id
        if self.compressed:
            carry["compressed"] = self.compressed
        if self.one_stream:
            carry["one_stream"] = True
        if self.etag_unreliable:
            carry["etag_unreliable"] = True
        if self.tags_seen:
            carry["tags_seen"] = list(self.tags_seen)
        if self.stream_cap is not None:
            carry["streams"] = self.stream_cap
        if self.restarted:
            carry["restarted"] = True
        if self.wrong_sha256:
            carry["wrong_sha256"] = self.wrong_sha256
        if self.decode_needs:
            carry["decode_needs"] = self.decode_needs
        return carry

    def _cap_streams(self, cap: int) -> None:
        """At most ``cap`` streams for this transfer from now on (a server that refused more)."""
        self.stream_cap = cap if self.stream_cap is None else min(cap, self.stream_cap)
        self.max_streams = min(self.max_streams, self.stream_cap)

    def _resumable(self) -> bool:
        return (
            self.size is not None
            and bool(self.segments)
            and all(s.end is not None for s in self.segments)
            and (self.etag is not None or self.last_modified is not None)
            and (self.coding is None or self.etag is not None)
        )

    def _save(self) -> None:
        """Fsync the part file, then save the progress counted before the fsync, with a probe
        of the bytes it counts."""
        with self.save_lock:
            if self.save_failed is not None:
                # an fsync that failed once may succeed next time with the bytes lost (Linux
                # marks the pages clean): nothing written since the last good save is claimed
                raise self.save_failed
            with self.lock:
                if not self._resumable() or self.fd < 0:
                    return
                data = self._snapshot()
                spans = probe_spans(self.segments)
                self.unsaved = 0
                self.saved_at = time.monotonic()
            try:
                os.fsync(self.fd)
            except OSError as e:
                self.save_failed = _disk_error(e)
                raise self.save_failed from e
            # what knows the part file as this download's when its device or inode number
            # changed (see ``part_is_ours``): the bytes counted, read back (the page cache)
            digest = probe_digest(self.fd, spans, self.io_lock) if spans else None
            if digest is not None:
                data["probe"] = {"spans": spans, "sha256": digest}
            self.ctx.checkpoint.save(data)

    def _start_saver(
        self, on_error: Callable[[BaseException], None]
    ) -> tuple[threading.Thread, threading.Event]:
        """Save the checkpoint on a thread of its own each time a stream finds one due
        (``save_due``), until ``_stop_saver``. The fsync waits for the disk: done by the stream
        that found it due, that stream read nothing meanwhile (on loopback a single stream
        spent a third of its time in fsync); the page cache takes the next blocks while the
        saver waits. A failed save (the disk's fault) goes to ``on_error`` and ends the saver;
        after a failed fsync no save is made by this job again (``save_failed``): the attempt
        ends with it, and the next one resumes from the last good checkpoint."""
        stop = threading.Event()
        due = self.save_due
        due.clear()

        def save_when_due() -> None:
            while True:
                due.wait()
                due.clear()  # (before looking at stop: a stop's wake-up is never cleared unseen)
                if stop.is_set():
                    return
                try:
                    self._save()
                except OSError as e:
                    on_error(_disk_error(e))
                    return
                except BaseException as e:  # (the fsync's, said as the disk's: save_failed)
                    on_error(e)
                    return

        thread = threading.Thread(target=save_when_due, name="download-save", daemon=True)
        thread.start()
        return thread, stop

    def _stop_saver(self, saving: tuple[threading.Thread, threading.Event]) -> None:
        """End the saver after the save it is doing, if any (the caller saves last itself)."""
        thread, stop = saving
        stop.set()
        self.save_due.set()
        thread.join()

    def _reset_checkpoint(self) -> None:
        """Forget all progress; done before the part file is truncated, never after."""
        self.ctx.checkpoint.save(self._carry())
