"""The hub's services, built once per app, and the FastAPI dependencies that hand them out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from .auth import TokenProblem, token_for
from .db import Database
from .errors import ApiError, unauthorized
from .events import FeedBroker
from .models import Member
from .settings import Settings
from .storage import LocalStorage


@dataclass
class Hub:
    settings: Settings
    db: Database
    storage: LocalStorage
    broker: FeedBroker = field(default_factory=FeedBroker)
    #: Called (on a worker thread) when a tus upload has all its bytes; set by the app factory.
    on_upload_complete: Callable[[str], None] = lambda _upload_id: None

    def link_key(self) -> bytes:
        return self.db.link_key()


def get_hub(request: Request) -> Hub:
    hub = request.app.state.hub
    assert isinstance(hub, Hub)
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized("no_token", "Sign in first: this call needs a bearer token.")
    return value.strip()


def current_member(request: Request, hub: HubDep) -> Member:
    """The signed-in member, from ``Authorization: Bearer``; 401 otherwise."""
    raw = bearer(request)
    with hub.db.session() as s:
        try:
            tok = token_for(s, raw)
        except TokenProblem as e:
            raise unauthorized(e.code, e.message) from None
        member = tok.member
        s.expunge(member)
    return member


MemberDep = Annotated[Member, Depends(current_member)]


def require_agency(member: MemberDep) -> Member:
    if member.role != "agency":
        raise ApiError(403, "agency_only", "Only agency staff may do this.")
    return member


AgencyDep = Annotated[Member, Depends(require_agency)]
