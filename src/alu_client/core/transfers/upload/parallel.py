"""Parallel parts: partial uploads on their own streams, then the final upload that joins them
(tus concatenation)."""

from __future__ import annotations

import contextlib
import itertools
import queue
from concurrent.futures import ThreadPoolExecutor, as_completed
from urllib.parse import urljoin

from ...http import same_origin
from ..base import PermanentError, RetryableError
from .protocol import _backoff, _metadata_header, _raise_for, _Resume, _too_large
from .services import _JobServices
from .spec import LOST_TRACK, MAX_WAIT_IN_RUN, MIN_PART, PARALLEL_THRESHOLD, QUICK_RESUMES
from .storage import StoreUrlStorage
from .uploader import _TusUpload


class _PartsJob(_JobServices):
    def _upload_parts(self, ranges: list[tuple[int, int]], streams: int) -> str:
        """Upload the parts ``ranges`` on ``streams`` connections, each taking the next part
        from a shared queue when it has finished one, then join them (``_finish_parts``).

        One more connection creates the parts' uploads (POST) ahead of the streams, so that a
        stream moving to its next part sends bytes at once instead of idling a round trip."""
        self.storage.plan_parts(self.fp, ranges)
        if self.storage.finalizing():
            # an earlier run sent the final POST and may not have heard the answer
            first = self.storage.get_item(StoreUrlStorage.part_key(self.fp, *ranges[0]))
            final = self._joined_into(first) if isinstance(first, str) and first else None
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

        failures: list[BaseException] = []
        with ThreadPoolExecutor(n + 1, thread_name_prefix="alu-upload-part") as pool:
            futures = [pool.submit(stream, k) for k in range(n)]
            creator = pool.submit(create_ahead) if len(parts) > n else None
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

    def _finish_parts(self, parts: list[_TusUpload]) -> str:
        urls = [p.url for p in parts if p.url]
        assert len(urls) == len(parts)
        if self.storage.finalizing() and not self._parts_open(parts[0]):
            return self._found_final(parts[0])
        headers = self.tus_headers()
        headers["Upload-Concat"] = "final;" + " ".join(urls)
        if self.spec.metadata:
            headers["Upload-Metadata"] = _metadata_header(self.spec.metadata)
        self.storage.mark_finalizing()
        tries = 0
        while True:
            self.check()
            try:
                r = self.request("POST", self.endpoint, 0, headers)
                if r.status_code == 413:
                    raise _too_large(self.size, None)
                _raise_for(r, creating=True)
            except _Resume as e:
                tries += 1
                wait = e.retry_after if e.retry_after is not None else _backoff(tries)
                if tries > QUICK_RESUMES or wait > MAX_WAIT_IN_RUN:
                    raise RetryableError(e.message, retry_after=e.retry_after) from None
                if not self._parts_open(parts[0]):
                    return self._found_final(parts[0])
                self.wait(wait)
                continue
            location = r.headers.get("Location")
            if not location:
                raise PermanentError("The hub did not say where the joined file is.")
            url = urljoin(self.endpoint, location)
            self.storage.mark_complete(url)
            return url

    def _found_final(self, part: _TusUpload) -> str:
        """The final upload the hub joined the parts into (our final POST went through and
        its answer was lost), or LOST_TRACK when the hub does not say."""
        assert part.url is not None
        final = self._joined_into(part.url)
        if final is None:
            raise PermanentError(LOST_TRACK)
        self.log.info("upload %s: the hub had joined the parts already", self.name)
        self.storage.mark_complete(final)
        return final

    def _joined_into(self, part_url: str) -> str | None:
        """What the ALU hub says (``Alu-Final-Upload`` on a HEAD of a part, also with its 410)
        about the final upload that took ``part_url``; None from other servers or on error."""
        try:
            r = self.request("HEAD", part_url, 0, self.tus_headers(part_url))
        except _Resume:
            return None
        final = r.headers.get("Alu-Final-Upload")
        if not final:
            return None
        url = urljoin(part_url, final)
        return url if same_origin(url, self.endpoint) else None

    def _parts_open(self, part: _TusUpload) -> bool:
        """Whether the hub still has the parts to join (False: it took them, or lost them)."""
        assert part.url is not None
        try:
            r = self.request("HEAD", part.url, 0, self.tus_headers(part.url))
        except _Resume:
            return True  # unknown: the next attempt will tell
        if r.status_code in (404, 410):
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
