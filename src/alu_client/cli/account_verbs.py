"""`alu` verbs of the sign-in: login, logout, whoami, doctor."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

from ..core import hub, proxy_login
from ..core.credentials import PlainTextNotAccepted, SecretsError
from ..core.doctor import Check, run_checks
from ..core.fstype import UnsuitableDataFolder
from ..core.lockfile import EngineBusy, EngineLock
from ..core.paths import default_paths
from ..core.plain_text import one_line
from ..core.profiles import (
    Profile,
    ProfileNotFound,
    ProfileOfAnotherAccount,
    ReplacedHub,
    sign_in,
    sign_out,
)
from ..core.services import NoProfile
from ..core.settings import AppSettings
from .common import (
    CliError,
    open_services,
    print_json,
    secrets_problem,
)
from .options import (
    MAX_TIMEOUT,
    positive_number,
)


def cmd_login(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.user}: ")
    else:
        raise CliError("No password: pass --password-stdin and write it to standard input.", 2)
    if not password:
        raise CliError("The password is empty.", 2)
    # a login in the proxy's address is kept apart, in the keyring (the profile keeps the rest);
    # without one, a login kept for the profile goes on being used
    proxy, login = proxy_login.split(args.proxy or "")
    services = open_services(allow_plain=args.accept_plain_secrets)
    held: EngineLock | None = None
    try:
        problem = secrets_problem(services.secrets)
        if problem:  # said before the hub is asked: no session opened that cannot be kept
            raise CliError(problem)
        before = services.profiles.list()
        moving = services.profiles.get(args.name) if args.name else None
        if moving is not None and moving.url != hub.normalize_url(args.hub_url):
            # the move rewrites the queue's addresses: an engine at work on them would write
            # its own back (an upload's URLs), and publish the clip twice after all
            try:
                held = EngineLock(services.paths.engine_lock).acquire(say=False)
            except EngineBusy:
                raise CliError(
                    f"Profile {moving.name} moves to a new address with its queue: close the app "
                    "(or stop alu watch run) on this workstation first, then sign in again."
                ) from None
        new_url = hub.normalize_url(args.hub_url)

        @contextlib.contextmanager
        def guard() -> Iterator[None]:
            # another hub at the profile's address (its state is made the new hub's): an
            # engine at work on the queue would write back what changes under it
            if held is not None:
                yield
                return
            try:
                lock = EngineLock(services.paths.engine_lock).acquire(say=False)
            except EngineBusy:
                raise CliError(
                    f"The hub at {new_url} is another hub than the one this workstation knew "
                    "there (its identity differs), and this workstation's queue must be made "
                    "its own: close the app (or stop alu watch run) on this workstation "
                    "first, then sign in again."
                ) from None
            try:
                yield
            finally:
                lock.release()

        profile = sign_in(
            services.profiles,
            services.secrets,
            args.hub_url,
            args.user,
            password,
            name=args.name,
            ca_bundle=args.ca_bundle or "",
            proxy=proxy,
            allow_http=args.allow_http,
            allow_plain_secrets=args.accept_plain_secrets,
            proxy_login=login or "keep",
            moving=guard,
            on_replaced_hub=lambda kept, done: print(
                replaced_hub_note(kept, done), file=sys.stderr
            ),
            on_other_hub=lambda left: print(
                f"alu: this is another hub (its identity differs): {new_url} is not the hub "
                f"of profile {left.name} at {left.url}; signed in to it as another hub, and "
                f"profile {left.name} keeps its queue and history for its own hub.",
                file=sys.stderr,
            ),
            on_retry=lambda _try: print(
                f"alu: the hub at {hub.normalize_url(args.hub_url)} has not answered yet; "
                "trying again…",
                file=sys.stderr,
            ),
        )
    except PlainTextNotAccepted as e:
        raise CliError(f"{e} To accept it, sign in again with --accept-plain-secrets.") from None
    except ProfileOfAnotherAccount as e:
        raise CliError(str(e), 2) from None
    except hub.PlainHttpRefused as e:  # its text speaks of the profile (the app's words)
        raise CliError(f"{e} Here: sign in again with --allow-http.", 2) from None
    except hub.TlsError as e:
        raise CliError(f"{e} Here: sign in again with --ca-bundle FILE.") from None
    except (hub.HubError, SecretsError) as e:
        raise CliError(str(e)) from None
    finally:
        if held is not None:
            held.release()
        services.stop()
    who = one_line(profile.member.get("display_name") or "") or profile.username
    print(f"Signed in to {profile.url} as {who} (profile {profile.name}).")
    _moved_hub_note(profile, before)
    return 0


def replaced_hub_note(profile: Profile, done: ReplacedHub) -> str:
    """Said by `alu login` when the hub at the profile's address is another one now."""
    return (
        f"alu: the hub at {profile.url} is not the hub this workstation knew there (its "
        "identity differs: rebuilt with a new database, or another hub). Its feed is read from "
        f"the start; {done.downloads} download(s) not done yet ended (their items were on the "
        f"hub before; download them again from the feed if the new hub has them); "
        f"{done.uploads} upload(s) not done yet start again from the beginning on the new hub; "
        f"{done.events} history event(s) not sent yet stay here and are not sent to it. The "
        "files in the library stay."
    )


def _moved_hub_note(profile: Profile, before: list[Profile]) -> None:
    """A new profile for the same account as one at another address: the hub moved, most
    likely, and the new profile began with an empty library while the old one kept the
    queue and the history not yet sent (downloads never counted, files fetched again)."""
    if any(p.name == profile.name for p in before):
        return
    same = [
        p
        for p in before
        if p.username == profile.username
        and p.url != profile.url
        and all(p.member.get(k) == profile.member.get(k) for k in ("display_name", "country"))
    ]
    for old in same:
        print(
            f"alu: note: profile {profile.name} is new; profile {old.name} ({old.url}), the "
            "same account at another address, keeps its library, queue and history not yet "
            f"sent. If the hub moved, sign in with --name {old.name} instead (then alu logout "
            f"--profile {profile.name}).",
            file=sys.stderr,
        )


def cmd_logout(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        name = args.profile or services.require_profile().name
        username = services.profiles.require(name).username
        confirmed = sign_out(services.profiles, services.secrets, name)
    except (hub.HubError, SecretsError) as e:
        raise CliError(str(e)) from None
    except ProfileNotFound as e:
        raise CliError(
            f"No hub profile is named {e.name!r} here; alu whoami names the one in use."
        ) from None
    finally:
        services.stop()
    print(_signed_out_words(confirmed, username))
    return 0


def _signed_out_words(confirmed: bool | None, username: str) -> str:
    if confirmed is None:
        return "Not signed in here; nothing was signed out."
    if confirmed:
        return "Signed out."
    # the token is forgotten here, so this workstation cannot tell the hub later
    return (
        "Signed out here, but the hub could not be told: that sign-in stays valid on the hub "
        "until it expires (30 days after it was made, unless the agency set another time). To "
        f"end it now, ask the agency to sign it out (alu-hub member signout {username})."
    )


def _whoami_profile(profile: Profile) -> dict[str, object]:
    return {"profile": profile.name, "hub": profile.url, "username": profile.username}


def _not_retried(message: str) -> str:
    """A hub error's words for a verb that asks once: "trying again later" is the engine's
    (it does), not `whoami`'s."""
    return message.replace("; trying again later.", ".")


def cmd_whoami(args: argparse.Namespace) -> int:
    services = open_services()
    try:
        try:
            profile = services.require_profile()
        except NoProfile as e:
            if not args.json:
                raise
            # a script reads JSON whoever is signed in, or nobody (it got an empty stdout)
            print_json({"signed_in": False, "online": False, "error": str(e)})
            raise CliError(str(e)) from None
        member = services.client().me()
    except hub.AuthError as e:
        # the hub refused the sign-in kept here: as signed out (exit 1), said whose it was
        if args.json:
            print_json(
                {**_whoami_profile(profile), "signed_in": False, "online": True, "error": str(e)}
            )
        raise CliError(str(e)) from None
    except hub.HubError as e:
        # unreachable, failing (5xx, 429), answering garbage: who is signed in stands, the
        # hub is not there for now (only a dropped link was said so: a 500 printed an error
        # alone, and --json printed nothing for a script to read)
        said = _not_retried(str(e))
        if args.json:  # a script reads JSON whatever the hub does
            print_json(
                {**_whoami_profile(profile), "signed_in": True, "online": False, "error": said}
            )
        else:
            print(
                f"{profile.username} on {profile.url} (profile {profile.name}); "
                f"offline: {one_line(said)}"
            )
        return 0
    finally:
        services.stop()
    if args.json:
        print_json(
            {
                "profile": profile.name,
                "hub": profile.url,
                "signed_in": True,
                "online": True,
                **member.to_json(),
            }
        )
    else:
        name, user, role, country = map(
            one_line, (member.display_name, member.username, member.role, member.country)
        )
        print(f"{name} ({user}, {role}, {country}) on {profile.url}, profile {profile.name}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    try:
        services = open_services()
    except (sqlite3.DatabaseError, CliError, UnsuitableDataFolder) as e:
        # the library cannot be opened (damaged, from a newer version, on a network share): its
        # check (or the data folder's) says so and the others still run (without a profile:
        # none can be read from it)
        checks = run_checks(default_paths(), None, None, timeout=args.timeout)
        if isinstance(e, CliError):  # intact, but not this version's
            checks = [Check(c.name, False, str(e)) if c.name == "library" else c for c in checks]
        # (not "sign in first": the profile is there, in the library that cannot be opened)
        not_read = (
            "Not checked: the hub's profile is kept in the library, which cannot be opened "
            "(the checks below say why)."
        )
        checks = [Check(c.name, None, not_read) if c.name == "hub" else c for c in checks]
    else:
        try:
            profile = services.profile
            checks = run_checks(
                services.paths,
                profile,
                None,
                timeout=args.timeout,
                # the folders downloads go to, not the default one (a NAS chosen in Settings)
                download_dir=AppSettings(services.store, services.paths.downloads_dir).download_dir,
                rule_dirs=services.rule_folders(profile.name) if profile is not None else (),
            )
        finally:
            services.stop()
    failed = 0
    for c in checks:
        mark = {True: "ok  ", None: "warn", False: "FAIL"}[c.ok]
        failed += c.ok is False
        print(f"{mark}  {c.name}: {c.message}")
    return 1 if failed else 0


def register(sub: Any) -> None:
    p = sub.add_parser("login", help="sign in to a hub (the token goes to the OS keyring)")
    p.add_argument("hub_url")
    p.add_argument("--user", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--name", help="profile name (default user@host)")
    p.add_argument("--ca-bundle", help="CA certificates file for a corporate proxy or own CA")
    p.add_argument(
        "--proxy",
        help="HTTP(S) proxy URL (default: the system's); a user:password@ in it is kept in the "
        "keyring",
    )
    p.add_argument("--allow-http", action="store_true", help="allow plain http:// for this hub")
    p.add_argument(
        "--accept-plain-secrets",
        action="store_true",
        help="keep the token in a plain-text keyring if that is all there is",
    )
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="sign out (the token is revoked and forgotten)")
    p.add_argument("--profile")
    p.set_defaults(func=cmd_logout)

    p = sub.add_parser("whoami", help="who is signed in, to which hub")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_whoami)

    p = sub.add_parser("doctor", help="check hub, TLS, sign-in, keyring, clock, disk")
    p.add_argument(
        "--timeout",
        type=positive_number("seconds", MAX_TIMEOUT),
        default=10.0,
        help=f"seconds each check waits for an answer (default 10, at most {MAX_TIMEOUT:g})",
    )
    p.set_defaults(func=cmd_doctor)
