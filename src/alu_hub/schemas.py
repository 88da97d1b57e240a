"""Request and response bodies: the contract published at /openapi.json."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class SessionIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    device: str = Field(default="", max_length=200)


class MemberOut(BaseModel):
    username: str
    display_name: str
    country: str
    role: Literal["agency", "member"]


class SessionOut(BaseModel):
    token: str
    expires_at: dt.datetime
    member: MemberOut


class RenditionOut(BaseModel):
    name: Literal["broadcast", "proxy"]
    url: str
    filename: str
    size: int
    sha256: str
    mime: str
    width: int
    height: int


class ItemOut(BaseModel):
    id: str
    seq: int
    kind: Literal["push", "member_upload"]
    title: str
    slug: str
    dateline: str
    recorded_at: dt.datetime | None
    published_at: dt.datetime
    category: str
    region: str
    country: str
    language: str
    priority: Literal["flash", "urgent", "routine"]
    restrictions: str
    script: str
    shotlist: str
    duration: float
    source_member: MemberOut | None
    thumbnail_url: str
    renditions: list[RenditionOut]


class ItemPage(BaseModel):
    items: list[ItemOut]
    #: pass as ``after`` for the next page; equals ``after`` when nothing new
    next: int
    more: bool


class LinkOut(BaseModel):
    url: str
    expires_at: dt.datetime


EVENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$"


class HistoryEventIn(BaseModel):
    id: str = Field(
        pattern=EVENT_ID, description="made by the client (a UUID); sent twice, stored once"
    )
    type: str = Field(pattern=r"^[a-z][a-z_]{2,31}$", examples=["download_completed"])
    item_id: str | None = Field(default=None, max_length=32)
    rendition: str = Field(default="", max_length=32)
    bytes: int = Field(default=0, ge=0, le=1 << 50)
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    device: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, max_length=32)


class HistoryBatchIn(BaseModel):
    events: list[HistoryEventIn] = Field(max_length=1000)
    #: the workstation's clock when it sent the batch; the hub corrects event times by the offset
    sent_at: dt.datetime | None = None


class HistoryBatchOut(BaseModel):
    accepted: int
    duplicates: int


class HistoryEventOut(BaseModel):
    seq: int
    id: str
    type: str
    item_id: str | None
    rendition: str
    bytes: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    occurred_at: dt.datetime
    device: str
    detail: dict[str, Any]


class HistoryPage(BaseModel):
    events: list[HistoryEventOut]
    next: int
    more: bool


class MemberStats(BaseModel):
    username: str
    display_name: str
    country: str
    downloads: int
    bytes_downloaded: int
    uploads: int
    upload_days: int
    #: uploaded on every day of the period (the pledge: one upload a day)
    meets_pledge: bool


class StatsOut(BaseModel):
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    pushes: int
    downloads: int
    uploads: int
    uploading_members: int
    members: list[MemberStats]
    summary: str

    model_config = {"populate_by_name": True}


class ClientInfo(BaseModel):
    current_version: str
