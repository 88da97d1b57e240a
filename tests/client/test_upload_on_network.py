"""The hub's refusal of a file already on the network (an agency clip, another member's
upload): for good, in this app's words (a template the app translates), at the creation and
when the hub refuses it after the last byte."""

from __future__ import annotations

import json

import pytest
import requests

from alu_client.core.transfers.base import PermanentError
from alu_client.core.transfers.upload import on_network
from alu_client.core.transfers.upload.protocol import _raise_for

AGENCY = (
    "This file is already on the network: it is the agency's “Sudan: talks in Juba” "
    "(published 2026-12-06). It was not published again."
)
MEMBER = (
    "This file is already on the network: it is “Floods”, sent by KTN News (published "
    "2026-12-06). It was not published again."
)


def _answer(status: int, body: object) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode()
    r.headers["Content-Type"] = "application/json"
    return r


@pytest.mark.parametrize("said", [AGENCY, MEMBER])
def test_the_refusal_at_creation_is_permanent_and_in_the_apps_words(said: str) -> None:
    r = _answer(422, {"error": {"code": "already_on_network", "message": said}})
    with pytest.raises(PermanentError) as e:
        _raise_for(r, creating=True)
    assert str(e.value) == said  # not "The hub refused the upload: …", whose words are the hub's


def test_the_refusal_after_the_last_byte_is_told_the_same() -> None:
    assert on_network(AGENCY) == AGENCY and on_network(MEMBER) == MEMBER
    # the hub's title with a line break and an escape: one line, no controls
    odd = MEMBER.replace("Floods", "Floods\n\x1b[2Jday 2")
    shown = on_network(odd)
    assert shown is not None and "\n" not in shown and "\x1b" not in shown
    assert on_network("The file is empty; nothing was published.") is None


def test_the_refusal_of_a_withdrawn_items_bytes_is_told_with_the_withdrawal() -> None:
    withdrawn = AGENCY.replace("2026-12-06)", "2026-12-06; withdrawn 2026-12-07: Embargo (1))")
    assert on_network(withdrawn) == withdrawn
    r = _answer(422, {"error": {"code": "already_on_network", "message": withdrawn}})
    with pytest.raises(PermanentError) as e:
        _raise_for(r, creating=True)
    assert str(e.value) == withdrawn


def test_the_refusal_is_a_template_the_app_translates() -> None:
    from alu_client.ui import engine_text

    assert engine_text.template_of(AGENCY) is not None
    assert engine_text.template_of(MEMBER) is not None
