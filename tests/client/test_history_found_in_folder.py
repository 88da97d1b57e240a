"""A download that found the item's file already in the folder (another workstation's on a
shared folder, a data folder made anew beside its downloads) is recorded as the member having
it, but with no speed: nothing came over the link (the History showed 75 MB/s)."""

from __future__ import annotations

from alu_client.core.store.transfers import Transfer
from alu_client.core.sync.history import event_for_transfer


def download(result: dict[str, object], bytes_done: int) -> Transfer:
    return Transfer(
        id=7, direction="download", state="done", priority=2, position=1.0, label="Harare jazz",
        source="http://hub/api/v1/items/x/renditions/broadcast", destination="/dl/001.mp4",
        size=2_000_000, bytes_done=bytes_done, sha256="a" * 64, item_id="x" * 32,
        rendition="broadcast", options={}, result=result, attempts=1, last_error="",
        next_attempt_at=None, pause_reason="", limit_bps=None, created_at=100.0,
        started_at=100.0, finished_at=100.026, run_seconds=0.026,
    )  # fmt: skip


def test_a_file_found_in_the_folder_has_no_speed() -> None:
    made = event_for_transfer(download({"found_in_folder": True, "bytes_fetched": 0}, 2_000_000))
    assert made is not None
    kind, fields = made
    assert kind == "download_completed" and fields["bytes"] == 2_000_000  # the member has it
    assert fields["detail"]["avg_bps"] is None and fields["detail"]["found_in_folder"] is True


def test_a_download_keeps_its_speed() -> None:
    made = event_for_transfer(download({"bytes_fetched": 2_000_000}, 2_000_000))
    assert made is not None
    assert made[1]["detail"]["avg_bps"] == round(2_000_000 / 0.026, 1)
    assert made[1]["detail"]["found_in_folder"] is None
