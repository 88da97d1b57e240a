"""When a failed transfer is tried again, and what the user is told."""

from __future__ import annotations

import errno
import itertools
import random
import re
import socket
import sqlite3
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from alu_client.core.transfers.base import (
    DiskFullError,
    PermanentError,
    RetryableError,
    Stopped,
    TransferError,
)
from alu_client.core.transfers.retry import (
    MSG_DATA_DISK_FULL,
    Backoff,
    Decision,
    RetryPolicy,
    parse_retry_after,
    user_message,
)

# --- Backoff ------------------------------------------------------------------------------------


def test_backoff_without_jitter_doubles_from_one_second_and_caps_at_five_minutes() -> None:
    backoff = Backoff(jitter=0)
    delays = [backoff.delay(n) for n in range(1, 12)]
    assert delays[:9] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert delays[9:] == [300, 300]
    assert backoff.delay(10_000) == 300  # no overflow on absurd attempt counts


def test_backoff_jitter_spreads_values_but_keeps_growing_about_twofold() -> None:
    backoff = Backoff(rng=random.Random(1234))
    means = []
    for attempt in range(1, 8):
        nominal = 2.0 ** (attempt - 1)
        samples = [backoff.delay(attempt) for _ in range(400)]
        assert all(0.5 * nominal <= s <= nominal for s in samples)
        assert max(samples) - min(samples) > 0.4 * nominal  # spread, not lock-step
        assert len(set(samples)) > 300
        means.append(statistics.fmean(samples))
    ratios = [b / a for a, b in itertools.pairwise(means)]
    assert all(1.8 <= r <= 2.2 for r in ratios)
    capped = [backoff.delay(30) for _ in range(200)]
    assert all(150 <= s <= 300 for s in capped)


def test_backoff_full_jitter_and_seeded_rng_is_reproducible() -> None:
    full = Backoff(jitter=1.0, rng=random.Random(7))
    samples = [full.delay(5) for _ in range(400)]
    assert min(samples) < 2 and max(samples) > 14  # spread over 0..16
    again = Backoff(jitter=1.0, rng=random.Random(7))
    assert [again.delay(5) for _ in range(400)] == samples


def test_backoff_honours_retry_after_but_caps_it_at_an_hour() -> None:
    backoff = Backoff(rng=random.Random(1))
    assert backoff.delay(1, retry_after=120) >= 120
    assert backoff.delay(1, retry_after=120) <= 120.0 + 1
    assert backoff.delay(1, retry_after=900) == 900  # above the 300 s cap: the server knows
    assert backoff.delay(1, retry_after=86_400) == 3600
    assert 128 <= backoff.delay(9, retry_after=2) <= 256  # a shorter hint does not shorten it
    assert backoff.delay(1, retry_after=None) <= 1
    assert backoff.delay(1, retry_after=-5) <= 1
    assert backoff.delay(1, retry_after=float("nan")) <= 1


@pytest.mark.parametrize(
    "kwargs",
    [{"base": 0}, {"cap": 0.5}, {"factor": 0.5}, {"jitter": 1.5}, {"jitter": -0.1}],
)
def test_backoff_refuses_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Backoff"):
        Backoff(**kwargs)


# --- RetryPolicy --------------------------------------------------------------------------------


def policy(**kwargs: int) -> RetryPolicy:
    return RetryPolicy(Backoff(rng=random.Random(42)), **kwargs)


def test_retryable_error_is_retried_forever_with_growing_backoff() -> None:
    p = policy()
    first = p.decide(RetryableError("The hub is busy."), 1)
    assert first.retry and first.state == "queued"
    assert 0.5 <= first.delay <= 1
    late = p.decide(RetryableError("The hub is busy."), 1000)
    assert late == Decision(retry=True, delay=late.delay, state="queued")
    assert 150 <= late.delay <= 300


def test_retryable_error_honours_retry_after() -> None:
    decision = policy().decide(RetryableError("Too many requests.", retry_after=90), 1)
    assert decision.retry and decision.state == "queued"
    assert decision.delay >= 90


def test_permanent_error_fails_at_once() -> None:
    decision = policy().decide(PermanentError("You are not allowed to fetch this item."), 1)
    assert decision == Decision(retry=False, delay=0.0, state="failed")


def test_a_transfer_error_that_says_it_is_not_retryable_fails() -> None:
    class Gone(TransferError):
        retryable = False

    assert policy().decide(Gone("The item was withdrawn."), 1).state == "failed"
    assert policy().decide(TransferError("Odd, but retryable."), 1).state == "queued"


def test_disk_full_pauses_and_looks_again_for_space() -> None:
    p = policy()
    assert p.decide(DiskFullError("The disk is full."), 1) == Decision(True, 30.0, "paused")
    assert p.decide(DiskFullError("Full.", retry_after=120), 5) == Decision(True, 120.0, "paused")
    assert p.decide(OSError(errno.ENOSPC, "No space left on device"), 1).state == "paused"
    assert RetryPolicy(disk_recheck_s=5).decide(DiskFullError("x"), 1).delay == 5


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("connection aborted"),
        requests.Timeout("read timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("connection broken"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        BrokenPipeError(errno.EPIPE, "Broken pipe"),
        OSError(errno.ECONNRESET, "Connection reset by peer"),
        OSError(errno.ENETUNREACH, "Network is unreachable"),
        TimeoutError("timed out"),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    ],
)
def test_network_errors_that_escaped_are_retried_forever(error: BaseException) -> None:
    decision = policy().decide(error, 50)
    assert decision.retry
    assert decision.state == "queued"
    assert 150 <= decision.delay <= 300


@pytest.mark.parametrize(
    "error",
    [
        KeyError("size"),
        ValueError("bad"),
        OSError(errno.EACCES, "Permission denied"),
        requests.exceptions.SSLError("certificate verify failed"),
    ],
)
def test_unexpected_errors_get_a_few_tries_then_fail(error: BaseException) -> None:
    p = policy(max_permanent_attempts=3)
    assert [p.decide(error, n).state for n in (1, 2, 3, 4)] == [
        "queued",
        "queued",
        "failed",
        "failed",
    ]
    assert p.decide(error, 1).delay <= 1
    assert not p.decide(error, 3).retry


def test_max_permanent_attempts_is_configurable() -> None:
    p = policy(max_permanent_attempts=5)
    assert p.decide(KeyError("x"), 4).retry
    assert not p.decide(KeyError("x"), 5).retry
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_permanent_attempts=0)


def _http_error(status: int, retry_after: str | None = None) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return requests.HTTPError(f"{status} error", response=response)


def test_http_errors_that_escaped_are_judged_by_status() -> None:
    p = policy()
    busy = p.decide(_http_error(503, retry_after="120"), 1)
    assert busy.state == "queued" and busy.delay >= 120
    assert p.decide(_http_error(429), 20).state == "queued"
    assert p.decide(_http_error(423), 20).state == "queued"
    assert p.decide(_http_error(404), 1) == Decision(False, 0.0, "failed")
    assert p.decide(_http_error(403), 1).state == "failed"


def test_stops_and_interrupts_are_never_retried() -> None:
    p = policy()
    assert p.decide(Stopped("pause"), 1) == Decision(False, 0.0, "paused")
    assert p.decide(Stopped("cancel"), 1) == Decision(False, 0.0, "cancelled")
    assert p.decide(KeyboardInterrupt(), 1) == Decision(False, 0.0, "failed")


# --- Retry-After --------------------------------------------------------------------------------

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Mon, 01 Jan 2024 12:02:00 GMT", 120.0),  # IMF-fixdate
        ("Monday, 01-Jan-24 12:02:00 GMT", 120.0),  # obsolete RFC 850
        ("Mon Jan  1 12:02:00 2024", 120.0),  # obsolete asctime
        ("Mon, 01 Jan 2024 11:00:00 GMT", 0.0),  # in the past: now, never negative
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("12abc", None),
        ("Mon, 99 Foo 2024 12:00:00 GMT", None),
        ("9" * 400, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_naive_now_is_utc_and_default_now_is_the_clock() -> None:
    assert parse_retry_after("Mon, 01 Jan 2024 12:01:00 GMT", now=NOW.replace(tzinfo=None)) == 60
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = parse_retry_after(soon)
    assert seconds is not None and 3500 < seconds <= 3600


def test_http_dates_without_a_zone_are_gmt_whatever_the_workstations_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # asctime carries no zone and is GMT (RFC 9110 §5.6.7); read in Nairobi's zone, a tus
    # Upload-Expires an hour ahead was taken as passed two hours ago and the upload made anew
    import time

    from alu_client.core.transfers.retry import http_date
    from alu_client.core.transfers.upload import protocol as upload_protocol

    monkeypatch.setenv("TZ", "EAT-3")
    time.tzset()
    try:
        for text in (
            "Sun Nov  6 08:49:37 1994",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 -0000",
        ):
            assert http_date(text) == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC), text
            assert upload_protocol._http_date(text) == 784111777.0, text
    finally:
        monkeypatch.undo()
        time.tzset()


# --- words for the user -------------------------------------------------------------------------

SECRET_URL = "https://hub.example.org/files/abc123?token=s3cr3t&sig=ZZZ"
QUERY = re.compile(r"\?\w+=")


def assert_clean(text: str) -> None:
    assert "http://" not in text and "https://" not in text
    assert not QUERY.search(text)
    assert "bearer" not in text.lower()
    for secret in ("s3cr3t", "ZZZ", "eyJhbGci", "hunter2"):
        assert secret not in text


def test_user_message_uses_the_transfer_error_message() -> None:
    message = "The hub is busy; ALU Desk will try again in a moment."
    assert user_message(RetryableError(message)) == message
    assert user_message(DiskFullError("The disk is full.")) == "The disk is full."


def test_user_message_scrubs_urls_and_tokens_from_transfer_errors() -> None:
    error = PermanentError(
        f"Upload to {SECRET_URL} refused (Authorization: Bearer eyJhbGciOi.x.y), "
        "password=hunter2 http://user:hunter2@proxy.local:3128/?a=b"
    )
    text = user_message(error)
    assert_clean(text)
    assert "hub.example.org" in text  # the host is kept: it helps, and is no secret
    assert "proxy.local:3128" in text
    assert text.startswith("Upload to hub.example.org refused")


def test_user_message_scrubbing_leaves_plain_words_alone() -> None:
    message = "The file “report?.mp4” is gone. Token expired, sign in again (basic plan)."
    assert user_message(PermanentError(message)) == message
    assert user_message(PermanentError("Denied: Token 9f8e7d6c5b4a")) == (
        "Denied: [credentials hidden]"
    )
    assert user_message(PermanentError("see ?session=abc&x=1 now")) == "see now"


def test_user_message_for_a_bug_names_only_the_type() -> None:
    text = user_message(KeyError(f"{SECRET_URL} Bearer abc"))
    assert text == (
        "Something went wrong in ALU Desk (KeyError); the transfer will be tried again."
    )
    final = user_message(ValueError("x"), will_retry=False)
    assert final.startswith("Something went wrong in ALU Desk (ValueError); the transfer has")


@pytest.mark.parametrize(
    ("error", "start"),
    [
        (
            requests.ConnectionError(f"Max retries exceeded with url: {SECRET_URL}"),
            "The connection",
        ),
        (requests.exceptions.ReadTimeout(f"HTTPSConnectionPool {SECRET_URL}"), "The hub did not"),
        (requests.exceptions.SSLError(f"certificate verify failed {SECRET_URL}"), "The hub's"),
        (OSError(errno.ENOSPC, "No space left on device"), "The disk is full"),
        (_http_error(502), "The hub answered with an error (502)"),
        (RuntimeError(f"Bearer eyJhbGciOi {SECRET_URL}"), "Something went wrong"),
        (Stopped("cancel"), "Cancelled."),
        (RetryableError(""), "Something went wrong in ALU Desk (RetryableError)"),
    ],
)
def test_user_message_never_leaks_urls_or_tokens(error: BaseException, start: str) -> None:
    text = user_message(error)
    assert text.startswith(start)
    assert_clean(text)


def test_the_librarys_disk_full_is_said_as_the_data_folders() -> None:
    # a checkpoint the library could not write (its disk full) said "The disk is full.", and
    # the user looked at the download folder's disk, which had room
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA max_page_count = 2")
    conn.execute("CREATE TABLE t (x BLOB)")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.execute("INSERT INTO t VALUES (zeroblob(65536))")
    assert user_message(full.value) == MSG_DATA_DISK_FULL
    assert "data folder" in MSG_DATA_DISK_FULL
    enospc = OSError(errno.ENOSPC, "No space left on device", "/downloads/clip.mp4.part")
    assert (
        user_message(enospc) == "The disk is full. The transfer resumes when there is space again."
    )
