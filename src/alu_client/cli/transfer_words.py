"""What `alu fetch` and `alu tus-put` say where the engine's words are the app's: a 401 (the
engine speaks of the hub's sign-in, which these verbs do not have: their credentials come from
--header and user:password@) and an interrupted run (the app or `alu watch run` takes queued
transfers only on a station signed in to a hub)."""

from __future__ import annotations

import re

from ..core.store import Store
from ..core.transfers.base import MSG_ACCESS_REFUSED, MSG_NO_SIGN_IN_SENT, MSG_SIGN_IN_REFUSED
from ..core.transfers.retry import in_server_words

MSG_CREDENTIALS_ASKED = (
    "The server asks for credentials (HTTP 401): pass them with --header 'Authorization: …' "
    "or user:password@ in the address."
)
MSG_CREDENTIALS_REFUSED = (
    "The server did not accept the credentials given (HTTP 401); check the --header or the "
    "user:password in the address."
)

#: a header that carries credentials though it is not Authorization (X-Api-Key, X-Auth-Token,
#: Cookie, …): given, a 401 is their refusal, not a request for some
_CREDENTIAL_HEADER = re.compile(r"auth|key|token|cookie|secret|passw|session", re.IGNORECASE)


def credentials_words(error: str, headers: dict[str, str]) -> str | None:
    """The words for a transfer that ended on ``error`` (its ``last_error``) when that is a 401,
    for a command given ``headers`` (user:password@ is in them as Authorization); None for any
    other error, and for credentials given but withheld from the other host a tus server put
    the upload on (``MSG_NO_SIGN_IN_SENT`` says that itself)."""
    sent = any(name.lower() == "authorization" for name in headers)
    given = sent or any(_CREDENTIAL_HEADER.search(name) for name in headers)
    if error == in_server_words(MSG_SIGN_IN_REFUSED):
        return MSG_CREDENTIALS_REFUSED
    if error == in_server_words(MSG_NO_SIGN_IN_SENT) and sent:
        return None
    if error in (
        in_server_words(MSG_NO_SIGN_IN_SENT),
        in_server_words(MSG_ACCESS_REFUSED.format(code=401)),
    ):
        return MSG_CREDENTIALS_REFUSED if given else MSG_CREDENTIALS_ASKED
    return None


def interrupted_words(store: Store, tid: int) -> str:
    """What an interrupted run says of its transfer, left queued in the data folder. The app
    and `alu watch run` take it only where the data folder has a hub profile (`alu watch run`
    refuses to start without one: "Not signed in to any hub yet"): said only then."""
    # (the profiles table read as such: ``core.profiles`` imports the hub client, which these
    # verbs start without)
    if store.query_one("SELECT 1 FROM profiles LIMIT 1") is None:
        return (
            f"Interrupted; run the same command again to resume. Transfer {tid} stays queued; "
            f"alu queue cancel {tid} drops it."
        )
    return (
        f"Interrupted; run the same command again to resume. Transfer {tid} stays queued: the "
        "app or alu watch run may finish it (without this command's --header and --limit); "
        f"alu queue cancel {tid} drops it."
    )
