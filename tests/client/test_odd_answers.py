"""Answers a server (or the network on the way) may give, as the download and upload jobs read
them: what is retried, what is said, and that a malformed header changes neither."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from alu_client.core.http import MSG_NETWORK_SIGN_IN, REDACTED, redact_query
from alu_client.core.store import Store
from alu_client.core.store.transfers import TransferStore
from alu_client.core.transfers.base import PermanentError, RetryableError
from alu_client.core.transfers.download.protocol import _check_status
from alu_client.core.transfers.upload.protocol import _expired, _raise_for, _Resume

ABSURD_DATE = "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"


def answer(status: int, reason: str = "", **headers: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.reason = reason
    r.url = "http://127.0.0.1:9/files/x"
    r.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    r._content = b""
    return r


def test_an_absurd_retry_after_date_is_ignored_and_the_error_retried() -> None:
    # the year overflowed the date parser: "Something went wrong in ALU Desk (OverflowError)",
    # and a 503 to be retried for ever failed for good after three attempts
    with pytest.raises(RetryableError) as caught:
        _check_status(answer(503, Retry_After=ABSURD_DATE))
    assert caught.value.retry_after is None
    with pytest.raises(_Resume) as resumed:
        _raise_for(answer(503, Retry_After=ABSURD_DATE))
    assert resumed.value.retry_after is None
    assert not _expired(answer(204, Upload_Expires=ABSURD_DATE))
    # a Date that cannot be read: this computer's clock says whether it passed
    assert _expired(answer(204, Upload_Expires="Mon, 01 Jan 2001 00:00:00 GMT", Date=ABSURD_DATE))


def test_a_timed_out_upload_request_is_resumed_not_failed() -> None:
    # nginx answers 408 when a body comes too slowly (client_body_timeout): the slow link's
    # case; the upload failed for good with "The hub refused the upload: HTTP 408"
    for creating in (False, True):
        with pytest.raises(_Resume, match="stopped waiting for the upload's bytes"):
            _raise_for(answer(408, "Request Timeout"), creating=creating)


def test_a_network_sign_in_page_is_said_as_such_and_retried() -> None:
    # a 511 (a hotel's or a guest network's portal) read "the server could not send the file
    # just now": no word of the sign-in that alone lets it through
    with pytest.raises(RetryableError, match="sign in to the network"):
        _check_status(answer(511))
    with pytest.raises(_Resume) as resumed:
        _raise_for(answer(511))
    assert resumed.value.message == MSG_NETWORK_SIGN_IN


def test_an_unexpected_download_answer_says_what_to_do() -> None:
    with pytest.raises(PermanentError, match=r"HTTP 415\); check the address, or tell whoever"):
        _check_status(answer(415))


def test_a_reason_phrase_is_cut_and_cleaned_like_the_servers_words() -> None:
    # 5,000 bytes of a reason phrase went to the terminal and the transfer's last error whole
    long_reason = "Bad \x07 upload " + "\u00e9" * 5000 + " 3f9c2b7e4d1a4c6f9e8b7a6d5c4b3a2f"
    with pytest.raises(PermanentError) as caught:
        _raise_for(answer(400, long_reason))
    said = str(caught.value.args[0])
    assert len(said) < 200, len(said)
    assert "\x07" not in said
    with pytest.raises(PermanentError) as caught:
        _raise_for(answer(400, "Bad upload 3f9c2b7e4d1a4c6f9e8b7a6d5c4b3a2f"))
    assert "3f9c2b7e4d1a4c6f9e8b7a6d5c4b3a2f" not in str(caught.value.args[0])


def test_secret_query_values_are_redacted_and_the_rest_kept() -> None:
    url = "https://cdn.example/v/clip.mp4?X-Amz-Credential=AK%2F1&id=7&X-Amz-Signature=abc#t=1"
    assert redact_query(url) == (
        f"https://cdn.example/v/clip.mp4?X-Amz-Credential={REDACTED}&id=7"
        f"&X-Amz-Signature={REDACTED}#t=1"
    )
    assert redact_query("https://cdn.example/v/clip.mp4") == "https://cdn.example/v/clip.mp4"


@pytest.mark.parametrize("end", ["done", "canceled"])
def test_a_signed_links_signature_is_forgotten_once_the_download_ends(
    tmp_path: Path, end: str
) -> None:
    # the signature stayed in the library for good (a user:password is kept in no file at all)
    store = Store(tmp_path / "library.sqlite3")
    transfers = TransferStore(store)
    signed = "http://127.0.0.1:9/clip.mp4?X-Amz-Signature=SECRETSIG&id=7"
    try:
        tid = transfers.add("download", signed, str(tmp_path / "clip.mp4"))
        transfers.finish(tid, "queued", error="busy")
        assert transfers.get(tid).source == signed  # type: ignore[union-attr]  # it may run
        transfers.finish(tid, "failed", error="refused")
        assert transfers.get(tid).source == signed  # type: ignore[union-attr]  # Retry needs it
        if end == "done":
            transfers.finish(tid, "done")
        else:
            assert transfers.set_state(tid, "canceled", only_from=("failed",))
        after = transfers.get(tid)
        assert after is not None
        assert after.source == f"http://127.0.0.1:9/clip.mp4?X-Amz-Signature={REDACTED}&id=7"
    finally:
        store.close()
