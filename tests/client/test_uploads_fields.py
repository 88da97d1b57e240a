"""Upload fields are checked on the workstation, with the hub's rules, before any byte moves."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core import uploads
from alu_client.core.uploads import FieldError, UploadFields, file_sha256, title_from_filename
from alu_hub.publish import ItemFields


@pytest.fixture
def in_nairobi(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The workstation's local time is Nairobi's (UTC+3, no summer time)."""
    if not hasattr(time, "tzset"):
        pytest.skip("no TZ to set on this system")
    monkeypatch.setenv("TZ", "Africa/Nairobi")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_valid_fields_make_metadata_the_hub_accepts(tmp_path: Path, in_nairobi: None) -> None:
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"abc")
    fields = UploadFields.from_mapping(
        {"title": "  Floods\tin  Nairobi ", "language": "FR", "country": "ke",
         "recorded_at": "2026-11-22T10:00", "script": "Line one\r\nLine two", "unknown": "x"}
    )  # fmt: skip
    meta = fields.metadata(f, file_sha256(f))
    assert meta["title"] == "Floods in Nairobi"
    assert meta["language"] == "fr" and meta["country"] == "KE"
    assert meta["recorded_at"] == "2026-11-22T10:00:00+03:00"
    assert meta["script"] == "Line one\nLine two"
    assert meta["filename"] == "clip.mp4"
    assert meta["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert "unknown" not in meta
    # The hub's own parser takes it as it is.
    item = ItemFields.from_metadata(meta, default_title="x", country="SN")
    assert (item.title, item.language, item.country) == ("Floods in Nairobi", "fr", "KE")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "t", "language": "sw"}, "language"),
        ({"title": "t", "priority": "now"}, "priority"),
        ({"title": "t", "country": "Kenya"}, "country"),
        ({"title": "t", "recorded_at": "yesterday"}, "recorded_at"),
        ({"title": "t", "recorded_at": "2999-01-01"}, "recorded_at"),  # the hub refuses it
        ({"title": "t", "recorded_at": "1899-12-31T23:00"}, "recorded_at"),
        ({"title": "t" * 501}, "title"),
        ({"title": "t", "script": "s" * 20_001}, "script"),
    ],
)
def test_bad_fields_name_the_field_to_fix(values: dict[str, str], field: str) -> None:
    with pytest.raises(FieldError) as e:
        UploadFields.from_mapping(values).validated()
    assert e.value.field == field
    assert str(e.value)


def test_a_recording_date_is_taken_up_to_a_day_ahead() -> None:
    """A workstation's clock a little ahead of the hub's is no mistake; a year ahead is."""
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=20)).isoformat()
    assert UploadFields.from_mapping({"title": "t", "recorded_at": soon}).validated().recorded_at
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).isoformat()
    with pytest.raises(FieldError, match="in the future"):
        UploadFields.from_mapping({"title": "t", "recorded_at": later}).validated()


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        # no offset: the workstation's local time, as the app's Upload form sends it
        ("2026-12-07T20:30", "2026-12-07T20:30:00+03:00"),
        ("2026-12-07", "2026-12-07T00:00:00+03:00"),
        # an offset, or Z, is taken as given
        ("2026-12-07T20:30Z", "2026-12-07T20:30:00+00:00"),
        ("2026-12-07T20:30+01:00", "2026-12-07T20:30:00+01:00"),
    ],
)
def test_a_recording_time_without_an_offset_is_the_workstations_local_time(
    in_nairobi: None, typed: str, sent: str
) -> None:
    """`alu put --recorded-at 2026-12-07T20:30` in Nairobi was sent as 20:30 UTC (23:30 in
    Nairobi, after it was published); the same text typed in the form went as 20:30+03:00."""
    fields = UploadFields.from_mapping({"title": "t", "recorded_at": typed}).validated()
    assert fields.recorded_at == sent
    # the hub reads it as that moment
    item = ItemFields.from_metadata(
        {"recorded_at": fields.recorded_at}, default_title="x", country="KE"
    )
    assert item.recorded_at == dt.datetime.fromisoformat(sent)


def test_a_recording_date_is_checked_on_the_hubs_clock() -> None:
    # the workstation's clock was used: today's footage refused "in the future … the camera's
    # clock" on a clock two days slow; on one a year fast the hub refused it once queued
    day = 86400.0
    now = dt.datetime.now(dt.UTC)
    shot_now = {"title": "t", "recorded_at": (now + dt.timedelta(days=2)).isoformat()}
    with pytest.raises(FieldError):
        UploadFields.from_mapping(shot_now).validated()
    assert UploadFields.from_mapping(shot_now).validated(clock_offset=2 * day).recorded_at
    # a clock a year fast: its "now" is a year ahead of the hub's, and that is what is said
    fast = {"title": "t", "recorded_at": now.isoformat()}
    with pytest.raises(FieldError) as ahead:
        UploadFields.from_mapping(fast).validated(clock_offset=-365 * day)
    hub_now = (now - dt.timedelta(days=365)).strftime("%Y-%m-%d")
    assert str(ahead.value).startswith(f"The recording date is in the future (hub time {hub_now} ")
    assert str(ahead.value).endswith(
        " UTC); this computer's clock is 365 days ahead of the hub's: check the date, and set "
        "the clock right in the system's date and time settings."
    )
    assert (ahead.value.field, ahead.value.clock_offset) == ("recorded_at", -365 * day)
    with pytest.raises(FieldError) as metadata:
        UploadFields.from_mapping(fast).metadata(Path("c.mp4"), "a" * 64, -365 * day)
    assert "365 days ahead of the hub's" in str(metadata.value)
    # a clock a few minutes off: the camera is what to check, as before
    later = {"title": "t", "recorded_at": (now + dt.timedelta(days=30)).isoformat()}
    with pytest.raises(FieldError) as camera:
        UploadFields.from_mapping(later).validated(clock_offset=-60.0)
    assert str(camera.value) == uploads.MSG_RECORDED_AHEAD
    assert camera.value.clock_offset is None


def test_title_from_file_name() -> None:
    assert title_from_filename(Path("2026-11-22_nairobi-floods_v2.mp4")) == (
        "2026 11 22 nairobi floods v2"
    )


def test_texts_too_large_for_the_hubs_metadata_limit_are_refused_at_the_field(
    tmp_path: Path,
) -> None:
    """The hub limits Upload-Metadata bytes (base64 of UTF-8), the form counted characters:
    20,000 emoji in the script and in the shot list passed, then the upload failed."""
    from alu_client.core.transfers.upload.protocol import _metadata_header
    from alu_client.core.uploads import MAX_METADATA_BYTES
    from alu_hub.settings import Settings

    assert Settings.__dataclass_fields__["max_metadata_bytes"].default == MAX_METADATA_BYTES
    emoji = "\U0001f30a" * 20_000  # 4 bytes each
    fields = UploadFields.from_mapping(
        {"title": "t", "script": emoji[:-1] + "a", "shotlist": emoji}
    )
    with pytest.raises(FieldError) as e:
        fields.validated()
    assert e.value.field == "shotlist"  # the longer one
    assert "too long together for the hub" in str(e.value)
    # just under the limit (Arabic, 2 bytes a letter, as the hub's comment expects): taken,
    # and the header it makes is within the hub's limit with a long file name
    f = tmp_path / ("\u0645" * 120 + ".mp4")
    f.write_bytes(b"abc")
    arabic = "\u0645" * 20_000
    ok = UploadFields.from_mapping(
        {"title": "t" * 500, "script": arabic, "shotlist": arabic, "restrictions": arabic}
    )
    header = _metadata_header(ok.metadata(f, file_sha256(f)))
    assert len(header) <= MAX_METADATA_BYTES


def test_video_problem_is_the_forms_probe(tmp_path: Path) -> None:
    from alu_hub.media import generate_clip

    clip = tmp_path / "clip.mp4"
    generate_clip(clip, seconds=1.0, width=160, height=120, seed=5)
    assert uploads.video_problem(clip) == ""
    fake = tmp_path / "export.mp4"
    with open(fake, "wb") as f:
        f.truncate(10_000_000)
    assert uploads.video_problem(fake).startswith("export.mp4 is not a video file we can read")
    (tmp_path / "empty.mp4").touch()
    assert uploads.video_problem(tmp_path / "empty.mp4") == "empty.mp4 is empty (0 bytes)."


def test_without_ffmpeg_files_go_unchecked_and_that_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import alu_client.core

    monkeypatch.setitem(sys.modules, "alu_client.core.media", None)  # its import fails
    monkeypatch.delattr(alu_client.core, "media", raising=False)
    monkeypatch.setattr(uploads, "_no_probe_said", type(uploads._no_probe_said)())
    fake = tmp_path / "export.mp4"
    fake.write_bytes(b"no video")
    with caplog.at_level(logging.WARNING, logger="alu_client"):
        assert uploads.video_problem(fake) == ""
        assert uploads.video_problem(fake) == ""
    said = [r.getMessage() for r in caplog.records if "FFmpeg" in r.getMessage()]
    assert len(said) == 1 and "without being checked" in said[0]
