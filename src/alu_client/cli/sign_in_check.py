"""`alu get` and `alu put` without a sign-in kept for the profile (after `alu logout`): refused
before anything is queued or sent. The hub's 401 to a request sent without one was a failed
transfer left in the queue, said in the words of a 403 ("ask the agency whether your newsroom
may download this item"), and a failed download reported to the agency."""

from __future__ import annotations

from ..core.profiles import Profile
from ..core.services import Services
from ..core.transfers.base import MSG_ACCESS_REFUSED, MSG_SIGN_IN_REFUSED
from .common import CliError


def require_sign_in(services: Services, nothing_done: str) -> Profile:
    """The active profile, signed in on this workstation (its token kept); else a CliError
    (exit status 1, as `alu whoami` and `alu sync` signed out) that names the `alu login` to
    run. ``nothing_done`` says what was not done ("nothing was downloaded")."""
    profile = services.require_profile()
    if services.secrets.get(profile.secret_key):
        return profile
    raise CliError(
        f"Not signed in to {profile.url} on this workstation (signed out); {nothing_done}. "
        f"Sign in first: {_login(profile)}"
    )


def _login(profile: Profile) -> str:
    http = " --allow-http" if profile.allow_http else ""
    return f"alu login {profile.url} --user {profile.username}{http}"


def sign_in_words(error: str, profile: Profile) -> str | None:
    """What `alu get` and `alu put` say of their hub transfer that ended on ``error`` (its
    ``last_error``) when the hub refused its sign-in, naming the `alu login` to run; None for
    any other error. A 401 to a download sent without a sign-in (signed out while it ran) said
    the 403's words: "… or ask the agency whether your newsroom may download this item"."""
    if error == MSG_ACCESS_REFUSED.format(code=401):
        return (
            "The hub asked for a sign-in (HTTP 401) and none was sent: this workstation was "
            f"signed out. Sign in again ({_login(profile)}), then run this again."
        )
    if error == MSG_SIGN_IN_REFUSED:
        return f"{error.removesuffix('.')} ({_login(profile)})."
    return None
