"""`alu get` and `alu put` without a sign-in kept for the profile (after `alu logout`): refused
before anything is queued or sent. The hub's 401 to a request sent without one was a failed
transfer left in the queue, said in the words of a 403 ("ask the agency whether your newsroom
may download this item"), and a failed download reported to the agency."""

from __future__ import annotations

from ..core.profiles import Profile
from ..core.services import Services
from .common import CliError


def require_sign_in(services: Services, nothing_done: str) -> Profile:
    """The active profile, signed in on this workstation (its token kept); else a CliError
    (exit status 1, as `alu whoami` and `alu sync` signed out) that names the `alu login` to
    run. ``nothing_done`` says what was not done ("nothing was downloaded")."""
    profile = services.require_profile()
    if services.secrets.get(profile.secret_key):
        return profile
    http = " --allow-http" if profile.allow_http else ""
    raise CliError(
        f"Not signed in to {profile.url} on this workstation (signed out); {nothing_done}. "
        f"Sign in first: alu login {profile.url} --user {profile.username}{http}"
    )
