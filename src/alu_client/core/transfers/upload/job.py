"""The upload job: what the server offers (OPTIONS), the run (one stream or parts), and the
HEAD after the last byte."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests

from ...http import is_number
from ...uploads import file_sha256
from ..base import PermanentError, RetryableError, redact_url
from .checksums import fastest_checksum
from .parallel import _PartsJob
from .protocol import (
    _FileChanged,
    _int_header,
    _outcome,
    _plan,
    _raise_for,
    _Resume,
    _retry_after,
    _too_large,
)
from .spec import MIN_PART, MSG_TOUCHED, TUS_VERSION, UploadResult
from .storage import _fingerprint
from .uploader import _TusUpload

# --- the job -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Caps:
    extensions: frozenset[str]
    max_size: int | None
    checksum: str | None
    #: a HEAD of a partial upload names the final upload that took it (the ALU hub)
    names_final: bool = False
    #: the server answered OPTIONS as a tus server (else what it offers is not known)
    answered: bool = True


#: ``_final_head``: the server holds less than the whole file after the last byte
SHORT = "short"
MSG_SHORT = "The server kept less of the file than it had confirmed; sending the rest."
MSG_SHORT_JOINED = (
    "The server joined the parts into a file shorter than this one; add the file again."
)


class _Job(_PartsJob):
    # the run

    def run(self) -> UploadResult:
        self.ctx.control.check()
        try:
            url = self._run()
        except _FileChanged:
            if not self._touched_only():
                self._changed()
            # a backup tool, an indexer or `touch` set its time: the next run goes on from the
            # server's offset under the new time (``_run``), not from the first byte
            raise RetryableError(MSG_TOUCHED) from None
        state, item_id, error = self._final_head(url)
        if state == SHORT:
            # every PATCH was answered with the offset sent, yet the server holds less: it
            # lost bytes after confirming them (or misreports); a run that ended here left a
            # torn file there, and said it was done
            if self.joined:
                raise PermanentError(MSG_SHORT_JOINED)
            self.storage.reopen(url)
            raise RetryableError(MSG_SHORT)
        self.log.info(
            "upload %s: done (%d bytes sent in this run%s)%s",
            self.name,
            self.sent,
            ", restarted" if self.restarted else "",
            f", the server says {state!r}" if state else "",  # the ALU hub's Alu-Upload-State
        )
        return UploadResult(
            url=url,
            size=self.size,
            bytes_sent=self.sent,
            restarted=self.restarted,
            state=state,
            item_id=item_id,
            error=error,
        )

    def _run(self) -> str:
        st = self._stat()
        saved = self.storage.snapshot()
        touched = "fingerprint" in saved and saved.get("mtime_ns") != st.st_mtime_ns
        if "fingerprint" in saved and saved.get("size") != st.st_size:
            self._changed()
        if touched and self._content_matches() is not True:
            self._changed()
        self.size, self.mtime_ns = st.st_size, st.st_mtime_ns
        try:
            # the caller's sha256 (the ALU hub checks it at the end) keys the content; no
            # whole-file pass here (see ``fingerprint``)
            self.fp = _fingerprint(
                self.path, self.ctx.control.check, self.spec.metadata.get("sha256")
            )
        except FileNotFoundError:
            self._gone()
        if touched:
            # the whole content is the caller's sha256: the same file under a new time
            self.log.info("upload %s: the file's time changed, its content did not", self.name)
            self.storage.rekey(self.fp, self.mtime_ns, st.st_ctime_ns)
        elif saved.get("fingerprint") not in (None, self.fp):
            self._changed()  # same size and mtime, other bytes (or another path)
        elif (
            saved.get("ctime_ns") not in (None, st.st_ctime_ns) and self._content_matches() is False
        ):
            self._changed()  # rewritten under its old mtime
        self.check_source()
        self.storage.bind(self.fp, self.size, self.mtime_ns, st.st_ctime_ns)

        caps = self._discover()
        if caps.max_size is not None and self.size > caps.max_size:
            raise _too_large(self.size, caps.max_size)
        self.checksum = caps.checksum
        url = saved.get("url")
        if saved.get("complete") and isinstance(url, str) and url:
            return url  # every byte arrived in an earlier run
        concat = "concatenation" in caps.extensions
        # only where a lost answer to the early final POST can be found again: the ALU hub
        # names, on a HEAD of a part, the final upload that took it (else two final uploads
        # of the same parts could be made)
        self.join_early = (
            concat and "concatenation-unfinished" in caps.extensions and caps.names_final
        )
        ranges = self._planned_ranges()
        if ranges and not caps.answered:
            # parts made in an earlier run were joinable then; no answer now (a proxy's 404,
            # an OPTIONS the server stopped routing) is no reason to throw them away
            self.log.info("upload %s: no tus OPTIONS answer; the parts go on", self.name)
            concat = True
        if ranges and not concat:
            self.log.info("upload %s: the hub no longer joins parts: one stream", self.name)
            self._terminate(self.storage.urls())
            self.storage.forget_urls()
            ranges = []
        streams = self._stream_count(concat, resuming=bool(ranges or url))
        if not ranges and not url and streams > 1:
            ranges = _plan(self.size, streams, MIN_PART)
        self.log.info(
            "upload %s: %d bytes to %s, %s%s",
            self.name,
            self.size,
            redact_url(self.endpoint),
            f"{len(ranges)} parts on {min(streams, len(ranges))} streams"
            if ranges
            else "one stream",
            f", checksum {self.checksum}" if self.checksum else "",
        )
        return self._upload_parts(ranges, streams) if ranges else self._upload_single()

    def _content_matches(self) -> bool | None:
        """Whether the whole file still is the caller's sha256; None when there is none.

        Asked when the file's inode changed since the upload began while its size and mtime
        did not (its ctime: a rewrite, a copy over it; also a chmod): a tool that puts the old
        mtime back (``touch -r``, ``cp -p``, ``rsync -t``) on bytes rewritten outside the
        fingerprint's sample would resume into a torn file — without a sha256 the sample has
        to do. And when only the mtime changed (a backup tool, an indexer, ``touch``): the same
        content goes on from the server's offset — without a sha256 it starts over. Seconds
        per GB, only then."""
        expected = self._caller_sha256()
        if not expected:
            return None
        try:
            digest = file_sha256(self.path, progress=lambda _n: self.ctx.control.check())
        except FileNotFoundError:
            self._gone()
        return digest == expected

    def _touched_only(self) -> bool:
        """The change seen during the run may be the file's time only: the same size, and a
        sha256 to tell its content by — which the next run reads the whole file against
        before it sends a byte (``_run``; once, not here too: seconds per GB)."""
        try:
            st = self.path.stat()
        except OSError:
            return False
        return st.st_size == self.size and bool(self._caller_sha256())

    def _caller_sha256(self) -> str:
        """The whole file's sha256 the caller sent with it (metadata ``sha256``), or ''."""
        return (self.spec.metadata.get("sha256") or "").strip().lower()

    def _upload_single(self) -> str:
        up = _TusUpload(
            self, start=0, end=self.size, key=self.fp, partial=False, stream=0, sizer=self._sizer()
        )
        up.upload()
        assert up.url is not None
        self.storage.mark_complete(up.url)
        return up.url

    def _discover(self) -> _Caps:
        """OPTIONS; a server that does not answer it properly is tus 1.0 core + creation."""
        plain = _Caps(frozenset({"creation"}), None, None, answered=False)
        r = self._options(self.endpoint)
        if r.status_code in (404, 405) and (slashed := _with_slash(self.endpoint)):
            # tuspyserver (FastAPI) answers OPTIONS only at ".../files/" and 405 at the
            # ".../files" it takes creations at: ask there before taking the server as plain
            r = self._options(slashed)
        if r.status_code == 401:
            _raise_for(r)
        if r.status_code in (408, 429) or (r.status_code >= 500 and r.status_code != 501):
            # a server error says nothing of the extensions (501: the method is not there)
            raise RetryableError(
                f"The hub is busy or unavailable (HTTP {r.status_code}); it will try again.",
                retry_after=_retry_after(r),
            )
        versions = {v.strip() for v in r.headers.get("Tus-Version", "").split(",") if v.strip()}
        if not r.ok or not versions:
            self.log.info("upload %s: no tus OPTIONS answer; plain tus 1.0", self.name)
            return plain
        if TUS_VERSION not in versions:
            raise PermanentError(
                "The server does not speak the upload protocol version this app uses (tus 1.0)."
            )
        extensions = frozenset(
            e.strip().lower() for e in r.headers.get("Tus-Extension", "").split(",") if e.strip()
        )
        raw_max = r.headers.get("Tus-Max-Size", "").strip()
        features = {f.strip() for f in r.headers.get("Alu-Tus-Features", "").split(",")}
        checksum = None
        if "checksum" in extensions:
            listed = r.headers.get("Tus-Checksum-Algorithm", "").split(",")
            usable = self.checksum_preference
            if "crc32-big-endian" not in features:
                # tus says "base64 of the checksum" and no byte order for a CRC: a server
                # reading it otherwise would refuse every chunk, so only where it says which
                usable = tuple(a for a in usable if a != "crc32")
            checksum = fastest_checksum(listed, usable)
        return _Caps(
            extensions,
            int(raw_max) if is_number(raw_max) else None,
            checksum,
            names_final="final-upload-of-part" in features,
        )

    def _options(self, url: str) -> requests.Response:
        try:
            return self.timed_request("OPTIONS", url, 0, self.tus_headers())
        except _Resume:
            raise RetryableError(
                "The hub could not be reached; the upload will try again."
            ) from None

    def _final_head(self, url: str) -> tuple[str, str | None, str]:
        """One HEAD after the last byte: the hub's state so far (it publishes asynchronously),
        or ``SHORT`` when the server says it holds less than the whole file."""
        try:
            r = self.request("HEAD", url, 0, self.tus_headers(url))
        except _Resume:
            return "", None, ""
        if not r.ok:
            return "", None, ""
        held, length = _int_header(r, "Upload-Offset"), _int_header(r, "Upload-Length")
        if held is not None and held < self.size and length in (None, self.size):
            return SHORT, None, ""
        return _outcome(r)


def _with_slash(endpoint: str) -> str | None:
    """The endpoint with a "/" after its path, or None when its path ends with one."""
    parts = urlsplit(endpoint)
    if parts.path.endswith("/"):
        return None
    return urlunsplit(parts._replace(path=parts.path + "/"))
