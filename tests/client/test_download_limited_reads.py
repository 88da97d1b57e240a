"""Under a bandwidth limit a download reads in small pieces: the meter paces what was read,
but the link carries each read at its full rate (the kernel's buffer takes a read's worth at
once). A 512 KiB read at 100 kB/s went over the link as one burst every five seconds, and
the first two seconds carried four times the limit.

What is checked here is what the job asks of the socket (``read1``'s size), with the limit as
the queue gives it (``ctx.limit``), changed while it runs; the pacing itself is the meter's
(tests/client/test_throttle.py)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import urllib3.response

from alu_client.core.transfers.download import DownloadSpec, run
from alu_client.core.transfers.download.protocol import _MIN_LIMITED_READ
from tests.client.test_download import FileServer, Job, sha
from tests.client.test_download import job as job  # (the fixture)
from tests.client.test_download import server as server  # (the fixture)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes the download asks of its responses' ``read1``, in order."""
    sizes: list[int] = []
    lock = threading.Lock()
    real = urllib3.response.HTTPResponse.read1

    def read1(self: Any, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        with lock:
            sizes.append(-1 if amt is None else amt)
        return real(self, amt, decode_content=decode_content)

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read1", read1)
    return sizes


def test_under_a_limit_a_read_is_a_tenth_of_a_second_of_it(
    server: FileServer, job: Job, asked: list[int]
) -> None:
    limit = 200_000.0  # bytes per second (1.6 Mbit/s)
    ctx = job.context()
    ctx.limit = lambda: limit
    dest = job.tmp / "limited.bin"
    result = run(DownloadSpec(url=server.url, dest=dest, sha256=sha(server.data)), ctx)
    assert result.sha256 == sha(server.data) and dest.read_bytes() == server.data
    assert asked and max(asked) == int(limit * 0.1), sorted(set(asked))


def test_a_low_limit_reads_no_less_than_the_smallest_piece(
    server: FileServer, job: Job, asked: list[int]
) -> None:
    ctx = job.context()
    ctx.limit = lambda: 10_000.0  # 80 kbit/s: a tenth of a second is 1 kB
    dest = job.tmp / "slow.bin"
    run(DownloadSpec(url=server.url, dest=dest, sha256=sha(server.data)), ctx)
    assert asked and set(asked) == {_MIN_LIMITED_READ}


def test_the_read_follows_the_limit_as_it_changes(
    server: FileServer, job: Job, asked: list[int]
) -> None:
    """A limit lifted mid-download (the schedule's night, the user's change) reads whole
    pieces again from the next read on."""
    limits = [200_000.0]
    ctx = job.context()
    ctx.limit = lambda: limits[0]
    real_meter = ctx.meter
    moved = [0]

    def meter(n: int) -> None:
        moved[0] += n
        if moved[0] > len(server.data) // 3:
            limits[0] = 0.0  # (0: no limit, as the queue's limiters say it)
        real_meter(n)

    ctx.meter = meter
    dest = job.tmp / "lifted.bin"
    run(DownloadSpec(url=server.url, dest=dest, sha256=sha(server.data), segments=1), ctx)
    assert dest.read_bytes() == server.data
    assert asked[0] == 20_000 and asked[-1] == job.tuning.read_size, (asked[0], asked[-1])


def test_without_a_limit_the_reads_are_whole(
    server: FileServer, job: Job, asked: list[int]
) -> None:
    dest = job.tmp / "free.bin"
    run(DownloadSpec(url=server.url, dest=dest, sha256=sha(server.data)), job.context())
    assert asked and set(asked) == {job.tuning.read_size}
