"""Parallel parts: partial uploads on their own streams, then the final upload that joins them
(tus concatenation)."""

from __future__ import annotations

import contextlib
import itertools
import queue
from concurrent.futures import ThreadPoolExecutor, as_completed

import requests

from ..base import PermanentError, RetryableError, Stopped
from .protocol import (
    BAD_LOCATION,
    _Aborted,
    _backoff,
    _BadChecksum,
    _Locked,
    _metadata_header,
    _raise_for,
    _Resume,
    _too_large,
    upload_url,
)
from .services import _JobServices
from .spec import LOST_TRACK, MAX_WAIT_IN_RUN, MIN_PART, PARALLEL_THRESHOLD, QUICK_RESUMES
from .storage import StoreUrlStorage
from .uploader import _TusUpload


def _joined_whole(r: requests.Response) -> bool:
    """A HEAD of a final upload says the hub has joined every part (whatever came after)."""
    offset, length = r.headers.get("Upload-Offset"), r.headers.get("Upload-Length")
    return (
        offset is not None
        and offset == length
        and r.headers.get("Alu-Upload-State")
        in (
            "processing",
            "published",
            "failed",
        )
    )


class _PartsJob(_JobServices):
    def _upload_parts(self, ranges: list[tuple[int, int]], streams: int) -> str:
        """Upload the parts ``ranges`` on ``streams`` connections, each taking the next part
        from a shared queue when it has finished one, then join them (``_finish_parts``).

        One more connection creates the parts' uploads (POST) ahead of the streams, so that a
        stream moving to its next part sends bytes at once instead of idling a round trip."""
        self.joined = True
        self.sharing = max(1, min(streams, len(ranges)))  # (see ``_JobServices.link_measured``)
        self.storage.plan_parts(self.fp, ranges)
        if self.storage.finalizing():
            # an earlier run sent the final POST and may not have heard the answer
            first = self.storage.get_item(StoreUrlStorage.part_key(self.fp, *ranges[0]))
            final = self.joined_into(first) if isinstance(first, str) and first else None
            if final is not None:
                self.storage.mark_complete(final)
                return final
        parts = [
            _TusUpload(
                self,
                start=s,
                end=e,
                key=StoreUrlStorage.part_key(self.fp, s, e),
                partial=True,
                stream=0,
                sizer=self._sizer(),
            )
            for s, e in ranges
        ]
        confirmed = self.storage.parts_done()
        if confirmed is not None and any(self.storage.get_item(p.key) for p in parts):
            # resumed: where the parts stand by what the server confirmed, not by the progress
            # saved (which a kill mid-chunk leaves counting bytes it never confirmed); each
            # part's HEAD then goes on from its offset, the bytes sent counting from here. (A
            # checkpoint that kept no such count, an older version's, keeps its progress.)
            for part in parts:
                part.counted = confirmed.get((part.start, part.end), 0)
            self.ctx.progress(sum(part.counted for part in parts), self.size)
        todo: queue.SimpleQueue[_TusUpload] = queue.SimpleQueue()
        for part in parts:
            todo.put(part)
        n = max(1, min(streams, len(parts)))

        def stream(k: int) -> None:
            sizer = self._sizer()  # one per connection: what it learnt carries to its next part
            while not self._aborted.is_set():
                try:
                    part = todo.get_nowait()
                except queue.Empty:
                    return
                part.take(k, sizer)
                part.upload()

        def create_ahead() -> None:
            for part in parts[n:]:
                if self.stopping():
                    return
                try:
                    part.create_ahead(n)
                except Exception as e:  # the stream that takes it creates it (and says why)
                    self.log.debug("upload %s: creating ahead: %s", self.name, type(e).__name__)
                    return
            if self.join_early:
                try:
                    self._final_early(parts, n)
                except (Stopped, _Aborted):
                    return

        failures: list[BaseException] = []
        with ThreadPoolExecutor(n + 1, thread_name_prefix="alu-upload-part") as pool:
            futures = [pool.submit(stream, k) for k in range(n)]
            creator = pool.submit(create_ahead) if len(parts) > n or self.join_early else None
            for future in as_completed(futures):
                failure = future.exception()
                if failure is not None:
                    failures.append(failure)
                    self._abort()
            if creator is not None:
                creator.result()
        if failures:
            raise self._worst(failures)
        return self._finish_parts(parts)

    def _final_early(self, parts: list[_TusUpload], stream: int) -> None:
        """``concatenation-unfinished``: ask for the final upload as soon as every part exists
        (the streams create their first ones), so that the server joins each part when it is
        complete rather than all of them after the last byte. That join copies the whole file:
        8 s of a 1 GiB upload's 484 s over linkem on the test machine's disk, after the link had
        gone quiet. Any refusal leaves the join to the end, as without the extension."""
        if self.storage.early_final() is not None:
            return  # asked for in an earlier run
        while any(p.url is None for p in parts):
            self.wait(0.05)
        urls = [str(p.url) for p in parts]
        headers = self.tus_headers()
        headers["Upload-Concat"] = "final;" + " ".join(urls)
        if self.spec.metadata:
            headers["Upload-Metadata"] = _metadata_header(self.spec.metadata)
        with self.early_lock:
            if [p.url for p in parts] != urls:
                return  # a part is being made again: the parts are joined at the end
            self.storage.set_early_final("")  # under way: a lost answer may still have made it
        try:
            r = self.request("POST", self.endpoint, stream, headers)
        except _Resume:
            return  # the end asks a part where it went
        location = r.headers.get("Location") if r.status_code == 201 else None
        url = upload_url(self.endpoint, location) if location else None
        if url is None:
            self.log.info(
                "upload %s: the hub did not join the parts early (HTTP %d): at the end instead",
                self.name,
                r.status_code,
            )
            if r.status_code < 500 and r.status_code != 429:  # else it may have made it
                with self.early_lock:
                    if self.storage.early_final() == "":
                        self.storage.set_early_final(None)
            return
        with self.early_lock:
            # a part made again meanwhile (its restart dropped the "" above): not these parts
            ours = [p.url for p in parts] == urls and self.storage.early_final() == ""
            if ours:
                self.storage.set_early_final(url)
        if not ours:
            self._terminate([url])
            return
        self.log.info("upload %s: the hub joins the parts as they complete", self.name)

    def _early_final_alive(self, parts: list[_TusUpload]) -> str | None:
        """The final upload asked for early, if the server still has it joining these parts."""
        early = self.storage.early_final()
        if early == "":  # its POST's answer was lost: a part says where it went, if anywhere
            assert parts[0].url is not None
            early = self.joined_into(parts[0].url)
        if not early:
            self.storage.set_early_final(None)
            return None
        try:
            r = self.request("HEAD", early, 0, self.tus_headers(early))
        except _Resume:
            return early  # unknown: the HEAD after the last byte will tell
        if r.status_code in (404, 410) or (
            r.headers.get("Alu-Upload-State") == "failed" and not _joined_whole(r)
        ):  # a final upload joined whole whose publishing failed is this file: its verdict stands
            self.log.info("upload %s: the early join did not go through; joining now", self.name)
            if r.status_code not in (404, 410):
                self._terminate([early])  # frees the parts at once, and the bytes it joined
            self.storage.set_early_final(None)
            return None
        return early

    def _finish_parts(self, parts: list[_TusUpload]) -> str:
        urls = [p.url for p in parts if p.url]
        assert len(urls) == len(parts)
        early = self._early_final_alive(parts) if self.storage.early_final() is not None else None
        if early is not None:
            self.storage.mark_complete(early)
            return early
        if self.storage.finalizing() and not self._parts_open(parts[0]):
            return self._found_final(parts[0])
        headers = self.tus_headers()
        headers["Upload-Concat"] = "final;" + " ".join(urls)
        if self.spec.metadata:
            headers["Upload-Metadata"] = _metadata_header(self.spec.metadata)
        self.storage.mark_finalizing()
        tries = 0
        freed = False
        while True:
            self.check()
            r: requests.Response | None = None
            try:
                r = self.request("POST", self.endpoint, 0, headers)
                if r.status_code == 413:
                    raise _too_large(self.size, None)
                _raise_for(r, creating=True)
            except PermanentError:
                if freed or r is None or r.status_code != 400 or not self.join_early:
                    raise
                # the parts may still be held by an early final upload this run forgot (its
                # POST's answer was lost, then a part was made again): free them, or use it
                freed = True
                held = self._held_by_forgotten_final(parts)
                if held is not None:
                    self.storage.mark_complete(held)
                    return held
                continue
            except (_Resume, _Locked, _BadChecksum) as e:
                # a 423 (a part still locked: tuspyserver holds a lock for a whole PATCH) or a
                # 460 to the joining POST: waited out like a failed request, never a bug
                tries += 1
                message, hinted = "The hub could not join the parts yet; it will try again.", None
                if isinstance(e, _Resume):
                    message, hinted = e.message, e.retry_after
                elif isinstance(e, _Locked):
                    hinted = e.wait
                wait = hinted if hinted is not None else _backoff(tries)
                if tries > QUICK_RESUMES or wait > MAX_WAIT_IN_RUN:
                    raise RetryableError(message, retry_after=hinted) from None
                if not self._parts_open(parts[0]):
                    return self._found_final(parts[0])
                self.wait(wait)
                continue
            location = r.headers.get("Location")
            if not location:
                raise PermanentError("The hub did not say where the joined file is.")
            url = upload_url(self.endpoint, location)
            if url is None:
                raise PermanentError(BAD_LOCATION)
            self.storage.mark_complete(url)
            return url

    def _held_by_forgotten_final(self, parts: list[_TusUpload]) -> str | None:
        """The final upload holding these parts that this run lost track of: returned if the
        hub has joined it whole (it is this file), else DELETEd so the parts are free."""
        finals = {f for p in parts if p.url and (f := self.joined_into(p.url))}
        for final in finals:
            try:
                r = self.request("HEAD", final, 0, self.tus_headers(final))
            except _Resume:
                continue
            if r.ok and _joined_whole(r):
                return final
            self._terminate([final])
        return None

    def _found_final(self, part: _TusUpload) -> str:
        """The final upload the hub joined the parts into (our final POST went through and
        its answer was lost), or LOST_TRACK when the hub does not say."""
        assert part.url is not None
        final = self.joined_into(part.url)
        if final is None:
            raise PermanentError(LOST_TRACK)
        self.log.info("upload %s: the hub had joined the parts already", self.name)
        self.storage.mark_complete(final)
        return final

    def _parts_open(self, part: _TusUpload) -> bool:
        """Whether the hub still has the parts to join (False: it took them, or lost them)."""
        assert part.url is not None
        try:
            r = self.request("HEAD", part.url, 0, self.tus_headers(part.url))
        except _Resume:
            return True  # unknown: the next attempt will tell
        if r.status_code in (404, 410) or r.headers.get("Alu-Final-Upload"):
            return False
        return r.headers.get("Alu-Upload-State", "receiving") == "receiving"

    def _planned_ranges(self) -> list[tuple[int, int]]:
        ranges = self.storage.part_ranges()
        if not ranges:
            return []
        contiguous = ranges[0][0] == 0 and ranges[-1][1] == self.size
        contiguous = contiguous and all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        if not contiguous:  # not a plan for this file: drop it
            self._terminate(self.storage.urls())
            self.storage.forget_urls()
            return []
        return ranges

    def _stream_count(self, concat: bool, *, resuming: bool) -> int:
        """Connections for the parts (1: no parts). Left to us (``spec.parallel`` None): the
        tuning's ``max_parallel_uploads`` for a large file on a long path, one stream for a
        small file or a short path (see ``Tuning.parallel_upload_min_rtt``). An upload already
        under way keeps its plan (its parts, or its single upload) whatever the path."""
        if not concat:
            return 1
        wanted = self.spec.parallel
        if wanted is None:
            tuning = self.ctx.tuning
            if resuming:
                wanted = tuning.max_parallel_uploads  # the parts stored decide how many
            elif self.size >= PARALLEL_THRESHOLD and self._long_path():
                wanted = tuning.max_parallel_uploads
            else:
                wanted = 1
        return max(1, min(wanted, self.size // MIN_PART))

    def _long_path(self) -> bool:
        """Whether the round trip to the server reaches ``tuning.parallel_upload_min_rtt``.
        The OPTIONS discovery measured one (with the connection's handshake when it was new);
        a second OPTIONS on the kept-alive connection confirms a long one, so that a slow
        first answer or handshake on a LAN does not count as distance."""
        limit = self.ctx.tuning.parallel_upload_min_rtt
        if self.rtt is not None and self.rtt >= limit:
            with contextlib.suppress(_Resume):  # if it fails, the first figure stands
                self.timed_request("OPTIONS", self.endpoint, 0, self.tus_headers())
        long = self.rtt is None or self.rtt >= limit
        self.log.info(
            "upload %s: round trip %s: %s",
            self.name,
            "unknown" if self.rtt is None else f"{self.rtt * 1000:.1f} ms",
            "parallel parts" if long else "one stream (a short path gains nothing from parts)",
        )
        return long
