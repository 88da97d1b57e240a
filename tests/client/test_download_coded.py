"""Downloads from servers that send the file compressed although we ask for it as it is
(``Accept-Encoding: identity``): an S3 object stored gzip with ``Content-Encoding: gzip`` in
its metadata (ranges and ETag of the coded bytes), nginx with ``gzip_static always`` (the
real server; it answers ranges of such files whole), a server compressing every answer afresh.
The coded bytes are fetched and resumed as sent and decoded once whole; what is checked and
kept is the file itself. Damaged, truncated or oversized coded data is never kept, and a
stop at any moment of the decoding loses nothing and leaves nothing behind."""

from __future__ import annotations

import errno
import gzip
import os
import random
import re
import shutil
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from alu_client.core.transfers import download as dl
from alu_client.core.transfers import jobs
from alu_client.core.transfers.base import DiskFullError, PermanentError, RetryableError
from alu_client.core.transfers.download import DownloadSpec, decode, discard_part, run, verify
from alu_client.core.transfers.download.partfile import decoded_name
from alu_client.core.transfers.download.verify import PLACED
from tests.client.test_cli import run_alu
from tests.client.test_download import Job, assert_done, part_of, sha
from tests.client.test_download_odd_servers import LM, Answer, Server, job, ranged, served
from tests.support.faultproxy import FaultProxy
from tests.support.nginx import start_nginx
from tests.support.s3 import S3Server, aws_env, unique_bucket

pytestmark = pytest.mark.timeout(60)

__all__ = ["job", "served"]  # fixtures

MB = 1024 * 1024


def clip_text(n: int, seed: int = 7) -> bytes:
    """``n`` bytes of a script-like text: compressible, as files sent coded are."""
    rnd = random.Random(seed)
    words = [rnd.randbytes(rnd.randint(2, 9)).hex() for _ in range(500)]
    out = bytearray()
    while len(out) < n:
        out += " ".join(rnd.choices(words, k=64)).encode() + b"\n"
    return bytes(out[:n])


def coded(headers: list[tuple[str, str]], coding: str) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [*headers, ("Content-Encoding", coding)]


def raw(write: Callable[[BaseHTTPRequestHandler], None]) -> Callable[..., Answer]:
    """An answer written by ``write`` itself (no Content-Length added), the connection closed."""

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        write(h)
        h.wfile.flush()
        raise ConnectionAbortedError  # the server's handle_error is quiet: the answer is out

    return answer


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir() if p.name != dest.name)


# --- a stored coded object: ranges of its coded bytes -------------------------------------------


def test_a_stored_gzip_object_resumes_on_its_coded_bytes_and_is_decoded(
    served: Callable[..., Server], job: Job
) -> None:
    data = clip_text(12 * MB)
    body = gzip.compress(data)
    assert len(body) > job.tuning.segment_threshold  # segments, were it not coded
    server = served(ranged(lambda: body, coded([("ETag", '"gz1"')], "gzip"), cut_after=2 * MB))
    # the item's size and sha256 are the file's, as the hub gives them
    spec = DownloadSpec(
        f"{server.url}/clip.txt", job.tmp / "clip.txt", sha256=sha(data), size=len(data)
    )
    with pytest.raises(RetryableError, match="closed the connection before the end"):
        run(spec, job.context())
    kept = job.done_bytes()
    assert 0 < kept <= 2 * MB
    assert job.checkpoint.data["coding"] == "gzip"
    assert job.checkpoint.data["size"] == len(body)  # the coded bytes' own size
    seen_before = len(server.seen)
    result = run(spec, job.context())
    assert_done(result, spec.dest, data)
    assert result.bytes_fetched == len(body) - kept  # nothing fetched twice
    resumed = server.seen[seen_before:]
    assert resumed[0][1] == f"bytes={kept}-" and resumed[0][2] == '"gz1"'
    assert len(resumed) == 1  # one stream: coded bytes are never split into segments
    assert leftovers(spec.dest) == []
    assert set(job.checkpoint.data) <= {PLACED}


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("x-gzip", lambda d: gzip.compress(d[: len(d) // 3]) + gzip.compress(d[len(d) // 3 :])),
        ("gzip", lambda d: gzip.compress(d) + b"\0" * 512),  # zero padding after the end
        ("deflate", zlib.compress),  # the zlib format, as RFC 9110 names deflate
        ("deflate", lambda d: (c := zlib.compressobj(wbits=-15)).compress(d) + c.flush()),
    ],
    ids=["two gzip members", "gzip with padding", "deflate (zlib)", "deflate (raw)"],
)
def test_every_form_of_gzip_and_deflate_is_decoded(
    served: Callable[..., Server], job: Job, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    data = clip_text(3 * MB, seed=11)
    body = encode(data)
    server = served(ranged(lambda: body, coded([("ETag", '"c1"')], coding)))
    spec = DownloadSpec(f"{server.url}/s.txt", job.tmp / "s.txt", sha256=sha(data))
    assert_done(run(spec, job.context()), spec.dest, data)
    assert leftovers(spec.dest) == []


# --- a real server: nginx with gzip_static always ------------------------------------------------


def test_nginx_gzip_static_always(tmp_path: Path, job: Job) -> None:
    """nginx sends ``clip.txt.gz`` for ``clip.txt`` whatever the client accepts, and answers a
    range of it whole (200): the file arrives decoded and verified."""
    www = tmp_path / "www"
    www.mkdir()
    data = clip_text(6 * MB, seed=3)
    (www / "clip.txt.gz").write_bytes(gzip.compress(data))
    server = start_nginx(
        tmp_path / "nginx",
        f"server {{ listen 127.0.0.1:{{port}}; root {www}; gzip_static always; }}",
        lambda port: requests.head(f"http://127.0.0.1:{port}/clip.txt", timeout=2).ok,
    )
    try:
        url = f"{server.url}/clip.txt"
        head = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=5)
        assert head.headers.get("Content-Encoding") == "gzip"  # what this test is about
        spec = DownloadSpec(url, job.tmp / "out" / "clip.txt", sha256=sha(data), size=len(data))
        result = run(spec, job.context())
        assert_done(result, spec.dest, data)
        assert leftovers(spec.dest) == []
    finally:
        server.stop()


# --- a real S3-compatible store (moto): an object stored gzip, cut on the way ----------------------


def test_an_s3_object_stored_gzip_is_resumed_after_a_cut_and_decoded(
    job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    data = clip_text(16 * MB, seed=21)
    body = gzip.compress(data)
    with S3Server() as s3:
        bucket = unique_bucket()
        client = s3.client()
        client.create_bucket(Bucket=bucket)
        client.put_object(
            Bucket=bucket,
            Key="clip.txt",
            Body=body,
            ContentEncoding="gzip",
            ContentType="text/plain",
        )
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "clip.txt"}, ExpiresIn=600
        )
        host, port = s3.get_host_and_port()
        with FaultProxy((host, port)) as proxy:
            proxy.reset_after(MB)  # the first answer is cut after 1 MB
            via = url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}", 1)
            spec = DownloadSpec(via, job.tmp / "clip.txt", sha256=sha(data), size=len(data))
            with pytest.raises(RetryableError):
                run(spec, job.context())
            kept = job.done_bytes()
            assert kept > 0 and job.checkpoint.data["coding"] == "gzip"
            result = run(spec, job.context())
    assert_done(result, spec.dest, data)
    assert result.bytes_fetched == len(body) - kept
    assert leftovers(spec.dest) == []


# --- bad coded data is never kept ----------------------------------------------------------------


def damaged(body: bytes) -> bytes:
    mid = len(body) // 2
    return body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1 :]


@pytest.mark.parametrize(
    "spoil",
    [damaged, lambda b: b[: len(b) - 100], lambda b: b + b"trailing words"],
    ids=["a byte changed", "cut short", "text after the end"],
)
def test_coded_data_that_does_not_decode_is_never_kept(
    served: Callable[..., Server], job: Job, spoil: Callable[[bytes], bytes]
) -> None:
    data = clip_text(3 * MB, seed=5)
    body = spoil(gzip.compress(data))
    server = served(ranged(lambda: body, coded([("ETag", '"bad"')], "gzip")))
    spec = DownloadSpec(f"{server.url}/b.txt", job.tmp / "b.txt")  # no sha256: gzip's own check
    with pytest.raises(RetryableError) as e:
        run(spec, job.context())
    assert "damaged" in e.value.message
    assert not spec.dest.exists() and leftovers(spec.dest) == []
    # the same bytes again: the server holds them so, fetching them once more cannot heal it
    with pytest.raises(PermanentError) as e2:
        run(spec, job.context())
    assert "not the one expected" in e2.value.message
    assert not spec.dest.exists() and leftovers(spec.dest) == []


def test_a_file_that_decodes_larger_than_the_item_stops_at_its_size(
    served: Callable[..., Server], job: Job
) -> None:
    """A few kilobytes that decode to gigabytes (or the wrong file): decoding stops once past
    the item's size, nothing is kept."""
    body = gzip.compress(b"\0" * (64 * MB))
    server = served(ranged(lambda: body, coded([("ETag", '"z"')], "gzip")))
    spec = DownloadSpec(f"{server.url}/z.bin", job.tmp / "z.bin", size=MB)
    with pytest.raises(PermanentError) as e:  # as a plain body longer than the file
        run(spec, job.context())
    assert e.value.message == dl.MSG_TOO_LONG
    assert not spec.dest.exists() and leftovers(spec.dest) == []


def test_a_wrong_file_compressed_afresh_each_time_is_not_fetched_for_ever(
    served: Callable[..., Server], job: Job
) -> None:
    """Compressed on the fly, the same wrong file comes as other coded bytes each time (the
    gzip header's time): the same wrong digest twice is the decoded file's."""
    data = clip_text(MB, seed=37)
    stamps = iter(range(1_000_000, 2_000_000))
    server = served(ranged(lambda: gzip.compress(data, mtime=next(stamps)), coded([], "gzip")))
    spec = DownloadSpec(f"{server.url}/f.txt", job.tmp / "f.txt", sha256=sha(b"another file"))
    with pytest.raises(RetryableError, match="damaged"):
        run(spec, job.context())
    with pytest.raises(PermanentError) as e:
        run(spec, job.context())
    assert e.value.message == dl.MSG_NOT_THE_FILE
    assert leftovers(spec.dest) == []


def test_ranges_compressed_afresh_and_counted_in_the_files_bytes_mean_the_whole_file(
    served: Callable[..., Server], job: Job
) -> None:
    """206 answers compressed one by one, their Content-Range in the file's bytes and no
    Content-Length (RFC 9110 §14.4 says a range is of the coded bytes): none can be built on.
    The client spliced them for ever, each "closed before the end"."""
    data = clip_text(3 * MB, seed=41)
    requests_seen: list[str | None] = []

    def answer(h: BaseHTTPRequestHandler) -> None:
        rng = h.headers.get("Range")
        requests_seen.append(rng)
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        start = int(m.group(1)) if m else 0
        end = int(m.group(2)) if m and m.group(2) else len(data) - 1
        body = gzip.compress(data[start : end + 1])
        h.send_response(206 if m else 200)
        h.send_header("ETag", '"same"')
        h.send_header("Content-Encoding", "gzip")
        if m:
            h.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(body)
        h.close_connection = True

    server = served(raw(answer))
    spec = DownloadSpec(f"{server.url}/r.txt", job.tmp / "r.txt", sha256=sha(data))
    assert_done(run(spec, job.context()), spec.dest, data)
    assert requests_seen[-1] is None  # asked for whole


def test_a_wrong_sha256_of_the_decoded_file_is_a_mismatch(
    served: Callable[..., Server], job: Job
) -> None:
    data = clip_text(MB, seed=9)
    body = gzip.compress(data)
    server = served(ranged(lambda: body, coded([("ETag", '"w"')], "gzip")))
    # the coded bytes' sha256 is not the file's: refused too
    spec = DownloadSpec(f"{server.url}/w.txt", job.tmp / "w.txt", sha256=sha(body))
    with pytest.raises(RetryableError, match="damaged"):
        run(spec, job.context())
    assert not spec.dest.exists() and leftovers(spec.dest) == []


# --- stops while decoding ------------------------------------------------------------------------


def test_a_full_disk_while_decoding_keeps_the_coded_bytes(
    served: Callable[..., Server], job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = clip_text(4 * MB, seed=13)
    body = gzip.compress(data)
    server = served(ranged(lambda: body, coded([("ETag", '"d"')], "gzip")))
    spec = DownloadSpec(f"{server.url}/d.txt", job.tmp / "d.txt", sha256=sha(data))
    real_write = verify._write_all
    written = [0]

    def full_disk(fd: int, chunk: bytes) -> None:
        written[0] += len(chunk)
        if written[0] > MB:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, chunk)

    monkeypatch.setattr(verify, "_write_all", full_disk)
    with pytest.raises(DiskFullError):
        run(spec, job.context())
    assert leftovers(spec.dest) == [part_of(spec.dest).name]  # the decoded copy is gone
    assert part_of(spec.dest).stat().st_size == len(body)
    name = job.checkpoint.data["decoding"]
    needs = job.checkpoint.data["decode_needs"]
    assert needs >= MB
    # the disk has no more room than the decoding had filled: not tried again (it would fill
    # the disk again, and every other program's writes with it)
    usage = shutil.disk_usage(job.tmp)
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage._replace(free=needs // 2))
    with pytest.raises(DiskFullError):
        run(spec, job.context())
    assert written[0] <= 2 * MB  # nothing more was written
    monkeypatch.undo()
    # what a kill -9 while decoding would have left: the copy the checkpoint names
    (spec.dest.parent / name).write_bytes(data[:MB])
    result = run(spec, job.context())
    assert_done(result, spec.dest, data)
    assert result.bytes_fetched == 0  # the coded bytes were all there
    assert leftovers(spec.dest) == []


@pytest.mark.parametrize("validator", [("ETag", 'W/"weak"'), ("Last-Modified", LM)])
def test_a_copy_left_by_a_kill_while_decoding_goes_whatever_the_next_run_does(
    served: Callable[..., Server], job: Job, validator: tuple[str, str]
) -> None:
    """Without a strong ETag the coded bytes cannot be resumed: the next run starts afresh,
    and the copy the stopped run was decoding into must go all the same."""
    data = clip_text(2 * MB, seed=29)
    body = gzip.compress(data)
    server = served(ranged(lambda: body, coded([validator], "gzip")))
    spec = DownloadSpec(f"{server.url}/v.txt", job.tmp / "v.txt", sha256=sha(data))
    left = decoded_name(spec.dest)
    left.write_bytes(data[:MB])  # a kill -9 while decoding: the copy, named in the checkpoint
    part_of(spec.dest).write_bytes(b"")
    job.checkpoint.data = {"decoding": left.name}
    assert_done(run(spec, job.context()), spec.dest, data)
    assert leftovers(spec.dest) == []


def test_a_cancel_after_a_kill_while_decoding_removes_the_copy_too(job: Job) -> None:
    dest = job.tmp / "c.txt"
    part_of(dest).write_bytes(b"coded bytes")
    left = decoded_name(dest)
    left.write_bytes(b"half decoded")
    st = part_of(dest).stat()
    discard_part(dest, {"part": [st.st_dev, st.st_ino], "decoding": left.name})
    assert leftovers(dest) == []


def test_a_name_a_download_can_take_can_be_decoded_into(
    served: Callable[..., Server], job: Job
) -> None:
    """The decoded copy's name is no longer than the part file's: a name of 244 bytes (of
    the 255 a file system allows) worked for a plain download and failed for a coded one,
    after the whole file had come."""
    data = clip_text(MB, seed=31)
    body = gzip.compress(data)
    server = served(ranged(lambda: body, coded([("ETag", '"n"')], "gzip")))
    for name in ("x" * 240 + ".txt", "تقرير" * 24 + ".mp4", "a"):  # Arabic: 2 bytes a letter
        dest = job.tmp / name
        assert len(os.fsencode(name + ".part")) <= 255
        assert len(os.fsencode(decoded_name(dest).name)) <= max(19, len(os.fsencode(name)) + 5)
        assert_done(run(DownloadSpec(f"{server.url}/n", dest, sha256=sha(data)), job.context()),
                    dest, data)  # fmt: skip


def test_a_kill_after_the_decoded_file_is_in_place_is_finished_by_the_next_run(
    served: Callable[..., Server], job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the decoded file's rename and the part file's removal: the next run of
    the transfer (the queue's job) finds the verified file in place and removes the part."""
    data = clip_text(2 * MB, seed=17)
    body = gzip.compress(data)
    server = served(ranged(lambda: body, coded([("ETag", '"k"')], "gzip")))
    dest = job.tmp / "k.txt"
    spec = DownloadSpec(f"{server.url}/k.txt", dest, sha256=sha(data))
    real_unlink = Path.unlink

    def killed(self: Path, missing_ok: bool = False) -> None:
        if self == part_of(dest):
            raise SystemExit("killed")  # no clean-up runs after a kill either
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", killed)
    with pytest.raises(SystemExit):
        run(spec, job.context())
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert dest.read_bytes() == data and part_of(dest).exists()
    transfer = SimpleNamespace(
        id=1, destination=str(dest), attempts=2, sha256=sha(data), size=len(data), source=spec.url
    )
    result = jobs.download_job(transfer, job.context())  # type: ignore[arg-type]
    assert result["sha256"] == sha(data) and result["bytes_fetched"] == 0
    assert result["mtime_ns"] == dest.stat().st_mtime_ns  # (the library keeps it)
    assert leftovers(dest) == [] and dest.read_bytes() == data
    assert set(job.checkpoint.data) <= {PLACED}


# --- through the queue: `alu fetch`, cut once ---------------------------------------------------


def test_alu_fetch_of_a_coded_file_cut_on_the_way(
    served: Callable[..., Server], tmp_path: Path
) -> None:
    """The queue keeps the size progress reports as the transfer's and hands it to the next
    run as the file's size: coded bytes must not pass theirs off as the file's."""
    data = clip_text(6 * MB, seed=23)
    body = gzip.compress(data)
    server = served(ranged(lambda: body, coded([("ETag", '"q"')], "gzip"), cut_after=MB))
    dest = tmp_path / "out" / "clip.txt"
    done = run_alu(
        tmp_path / "home", "fetch", f"{server.url}/clip.txt", str(dest), "--sha256", sha(data)
    )
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == data and leftovers(dest) == []
    ranges = [r for _p, r, _i, _a in server.seen]
    assert len(ranges) == 2 and ranges[1] not in (None, "bytes=0-")  # resumed, not restarted


# --- the decoder alone ---------------------------------------------------------------------------


@pytest.mark.parametrize("first", [MB - 1, MB - 2, MB, MB + 1])
def test_a_gzip_member_starting_at_any_byte_of_a_block_is_decoded(first: int) -> None:
    """Members one after another (bgzip writes thousands): one starting a byte before the end
    of a 1 MiB read block was taken for data after the end."""
    # stored (incompressible) blocks: 103 bytes of gzip framing around ~1 MiB
    one = gzip.compress(random.Random(first).randbytes(first - 103), compresslevel=0)
    assert len(one) == first
    two = gzip.compress(b"the second member")
    coded_bytes = one + two
    out: list[bytes] = []
    size, digest = decode.decode_into(
        lambda pos, n: coded_bytes[pos : pos + n], len(coded_bytes), "gzip", out.append,
        check=lambda: None,
    )  # fmt: skip
    whole = gzip.decompress(coded_bytes)
    assert b"".join(out) == whole and size == len(whole) and digest == sha(whole)
