"""``alu doctor``: what stands between this workstation and a working ALU Desk.

Each ``Check`` is one finding — ``ok`` True (fine), None (a warning: works, but fix it) or False
(broken) — with a plain sentence saying what to do. ``run_checks`` never raises for what it
finds; it is what support asks a newsroom to run first, on whatever state it is in.

The checks: the hub reachable (DNS, TCP, then HTTP), TLS (or plain HTTP allowed for that hub),
the sign-in (``GET /me``), the token store, the clock against the hub's ``Date`` header, free
disk space for the folders downloads go to and the data folder, the data folder writable
and on a local disk, and the library
database's ``PRAGMA integrity_check``. The pure pieces (``clock_check``, ``disk_check``,
``network_failure``) take their inputs as arguments so they are testable with given values.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import sqlite3
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from . import fstype, http, hub, proxy_login
from .credentials import NoKeyring, Secrets, SecretsError, accepted_plain_file, open_secrets
from .durations import duration_words
from .fstype import UnsuitableDataFolder
from .paths import Paths
from .profiles import Profile
from .services import MSG_DOWNLOAD_FOLDER_GONE
from .store import (
    damaged_words,
    disk_full,
    disk_full_words,
    is_damage,
    not_damage_words,
    path_too_long_words,
)
from .transfers.retry import http_date

GIB = 1024**3
MIB = 1024**2
WARN_FREE = 5 * GIB
FAIL_FREE = 500 * MIB
CLOCK_TOLERANCE_S = 120.0
#: a clock further off than this from the hub's is refused by the hub, not corrected: every
#: history batch gets 422 ``clock_off`` (the hub's ``MAX_CLOCK_SKEW``, 100 years)
HUB_REFUSES_CLOCK = dt.timedelta(days=36525)
#: the most read of the hub's answer about the account (a few hundred bytes when it is one)
MAX_ME = 64 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: a warning — it works, but something should be fixed
    message: str

    @property
    def status(self) -> str:
        return {True: "ok", None: "warning", False: "failed"}[self.ok]


def run_checks(
    paths: Paths,
    profile: Profile | None,
    secrets: Secrets | None,
    *,
    timeout: float = 10.0,
    download_dir: Path | None = None,
    rule_dirs: Sequence[Path] = (),
) -> list[Check]:
    """Every check, in the order a person would fix things. ``secrets`` None: the token store
    is opened here (and its absence reported). ``download_dir``: the download folder chosen in
    Settings (None: the default one); ``rule_dirs``: the rules' own folders."""
    checks: list[Check] = []
    store_check, secrets = _secrets_check(paths, secrets)
    checks.extend(_hub_checks(profile, secrets, timeout))
    checks.append(store_check)
    checks.extend(download_checks(paths.downloads_dir, download_dir, rule_dirs))
    checks.append(disk_check("disk space (data folder)", paths.data_dir))
    if paths.too_deep and not paths.db_path.exists():  # every verb refuses it: make nothing
        return [*checks, *_too_deep_checks(paths.db_path)]
    checks.append(writable_check(paths.data_dir))
    checks.append(filesystem_check(paths.data_dir))
    checks.append(library_check(paths.db_path))
    return checks


def _too_deep_checks(db_path: Path) -> list[Check]:
    """The data folder too deep for the library: said as the verbs and the app refuse it (it
    was "writable", made by this check, and its library "created at first use")."""
    length = len(os.fsencode(os.path.abspath(db_path)))
    return [
        Check("data folder", False, path_too_long_words(db_path, length)),
        Check("library", False, "Not made: the data folder's path is too long for it (above)."),
    ]


def download_checks(
    default: Path, chosen: Path | None = None, rule_dirs: Sequence[Path] = ()
) -> list[Check]:
    """Free space in the folders downloads go to: the chosen download folder (the default one
    when none is), then each rule's own folder on another disk. A chosen folder that is not
    there (a drive unplugged, a share not mounted) fails: downloads refuse to go to it, and its
    parent's free space says nothing of it. The default one and the rules' are made when
    missing: the disk they would be made on is checked."""
    checks: list[Check] = []
    seen: set[int] = set()
    for i, folder in enumerate([chosen or default, *rule_dirs]):
        name = "disk space (downloads)" if i == 0 else f"disk space (a rule's folder {folder})"
        if i == 0 and folder != default and not folder.is_dir():
            checks.append(Check(name, False, MSG_DOWNLOAD_FOLDER_GONE.format(folder=folder)))
            continue
        try:
            device = _existing_ancestor(folder).stat().st_dev
        except OSError:
            device = -1 - i  # (unreadable: checked, and said so)
        if i > 0 and device in seen:  # the same disk as one checked already
            continue
        seen.add(device)
        checks.append(disk_check(name, folder))
    return checks


def filesystem_check(folder: Path) -> Check:
    """The data folder on a local disk: ALU Desk refuses one on a network share (fstype)."""
    name = "data folder on a local disk"
    kind = fstype.network_fstype(folder)
    if kind is not None:
        return Check(name, False, str(UnsuitableDataFolder(folder, "network", kind)))
    return Check(name, True, f"The data folder {folder} is not on a network share.")


# --- the hub ----------------------------------------------------------------------------------


def _hub_checks(profile: Profile | None, secrets: Secrets | None, timeout: float) -> list[Check]:
    if profile is None:
        return [Check("hub", False, "No hub profile yet; sign in to your hub first.")]
    try:
        url = hub.normalize_url(profile.url)
    except hub.HubError as e:
        return [Check("hub", False, str(e))]
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    skipped = "Not checked: the hub cannot be reached."

    proxy = profile.proxy or _system_proxy(url)
    if proxy:
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        target, target_port, what = p.hostname or "", p.port or 8080, "the proxy"
    else:
        target, target_port, what = host, port, "the hub"
    failure = _tcp(target, target_port, timeout)
    if failure is not None:
        message = network_failure(target, target_port, failure, timeout, what=what)
        return [
            Check("hub reachable", False, message),
            Check("TLS", None, skipped),
            Check("signed in", None, skipped),
            Check("clock", None, skipped),
        ]

    token = None
    token_error = ""
    login = None
    if secrets is not None:
        try:
            token = secrets.get(profile.secret_key)
        except SecretsError as e:
            token_error = str(e)
        login = proxy_login.load(secrets, profile.secret_key)
    conn = profile.connection(connect_timeout=timeout, read_timeout=timeout, login=login)
    try:
        client = hub.HubClient(conn, token)
    except hub.PlainHttpRefused as e:
        return [
            Check("hub reachable", True, f"{url} answers on port {port}."),
            Check("TLS", False, str(e)),
            Check("signed in", None, "Not checked: plain HTTP is not allowed for this hub."),
            Check("clock", None, "Not checked: plain HTTP is not allowed for this hub."),
        ]
    try:
        return _http_checks(client, url, token, token_error)
    finally:
        client.close()


def _http_checks(
    client: hub.HubClient, url: str, token: str | None, token_error: str
) -> list[Check]:
    timeout = (client.conn.connect_timeout, client.conn.read_timeout)
    before = dt.datetime.now(dt.UTC)
    try:
        resp = client.session.get(
            client.api + "/me",
            headers=client.auth_headers(),
            timeout=timeout,
            allow_redirects=False,
            # Given per request: requests lets REQUESTS_CA_BUNDLE override the session's own.
            verify=client.session.verify,
            stream=True,  # the body is read below, up to MAX_ME: a hub may send no end of it
        )
    except requests.exceptions.SSLError as e:
        reason = _tls_reason(e)
        return [
            Check("hub reachable", True, f"{url} accepts connections."),
            Check(
                "TLS",
                False,
                f"The hub's certificate is refused ({reason}). If your network inspects HTTPS "
                "with its own certificate authority, set that CA bundle in the hub's profile; "
                "otherwise tell the agency.",
            ),
            Check("signed in", None, "Not checked: no secure connection to the hub."),
            Check("clock", None, "Not checked: no secure connection to the hub."),
        ]
    except requests.exceptions.RequestException as e:
        if http.proxy_certificate_problem(e):  # the https:// proxy's own certificate
            proxy = http.proxy_for(client.session, url)
            where = f" ({proxy})" if proxy else ""
            skipped = "Not checked: no secure connection to the network's proxy."
            return [
                Check("hub reachable", None, skipped),
                Check(
                    "TLS",
                    False,
                    f"The certificate of the network's proxy{where} is refused "
                    f"({http.certificate_reason(e)}). If the proxy has its own certificate "
                    "authority, add it to the system's certificate store, or set a CA bundle "
                    "in the hub's profile that holds it and the hub's authority; otherwise "
                    "tell the network's administrator.",
                ),
                Check("signed in", None, skipped),
                Check("clock", None, skipped),
            ]
        message = (
            f"{url} accepts connections but did not answer in time; the link may be very slow."
            if isinstance(e, requests.exceptions.Timeout)
            else f"{url} accepts connections but the request failed ({type(e).__name__}); "
            "check the proxy settings and the address."
        )
        skipped = "Not checked: the hub did not answer."
        return [
            Check("hub reachable", False, message),
            Check("TLS", None, skipped),
            Check("signed in", None, skipped),
            Check("clock", None, skipped),
        ]
    after = dt.datetime.now(dt.UTC)
    try:
        ctype = resp.headers.get("Content-Type", "")
        status = resp.status_code
        hub_date = _parse_http_date(resp.headers.get("Date", ""))
        body = _small_json(resp) if "json" in ctype and status in (200, 401) else None
    finally:
        resp.close()

    checks: list[Check] = []
    refused = http.proxy_answer(
        resp,
        server=f"the hub at {url}",
        proxy=http.proxy_for(client.session, url),
        not_the_servers="json" not in ctype,
    )
    if refused is not None:
        checks.append(Check("hub reachable", False, refused))
    elif "json" not in ctype or (status >= 300 and status != 401):
        checks.append(
            Check(
                "hub reachable",
                False,
                f"Something answers at {url} (HTTP {status}), but it is not an ALU hub; check "
                "the address, or whether a proxy or a network login page is in the way.",
            )
        )
    else:
        checks.append(Check("hub reachable", True, f"The hub at {url} answers."))
    if url.startswith("https://"):
        checks.append(Check("TLS", True, "The hub's certificate is valid."))
    else:
        checks.append(
            Check(
                "TLS",
                None,
                "The hub is plain HTTP (allowed for this profile): passwords and footage cross "
                "the network unencrypted. Use its https:// address if it has one.",
            )
        )
    checks.append(_signed_in_check(status, body, token, token_error))
    checks.append(clock_check(before + (after - before) / 2, hub_date))
    return checks


def _small_json(resp: requests.Response) -> object:
    """The answer's JSON when it is at most ``MAX_ME`` bytes and parses; else None."""
    try:
        data = resp.raw.read(MAX_ME + 1, decode_content=True)
    except (OSError, urllib3.exceptions.HTTPError, requests.exceptions.RequestException):
        return None
    if not isinstance(data, bytes) or len(data) > MAX_ME:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _signed_in_check(status: int, body: object, token: str | None, token_error: str) -> Check:
    if token_error:
        return Check("signed in", False, token_error)
    if not token:
        return Check("signed in", False, "Not signed in to this hub on this workstation; sign in.")
    if status == 401:
        return Check(
            "signed in",
            False,
            "The hub no longer accepts this workstation's sign-in; sign in again.",
        )
    if status == 200:
        try:
            member = hub.parse_member(body)
        except hub.BadResponse:
            return Check("signed in", None, "The hub's answer about your account was malformed.")
        return Check("signed in", True, f"Signed in as {member.username}.")
    return Check("signed in", None, f"The sign-in could not be checked (HTTP {status}).")


def _tcp(host: str, port: int, timeout: float) -> OSError | None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        return e
    return None


def network_failure(
    host: str, port: int, e: OSError, timeout: float, *, what: str = "the hub"
) -> str:
    """The sentence for a failed connection to ``host:port``."""
    if isinstance(e, socket.gaierror):
        return (
            f"The name {host} cannot be found (DNS); check the address of {what} and that "
            "this workstation is on the network."
        )
    if isinstance(e, TimeoutError):
        return (
            f"{host}:{port} did not answer within {timeout:g} s; a firewall or the link may be "
            f"blocking {what}."
        )
    if isinstance(e, ConnectionRefusedError):
        return (
            f"Nothing answers at {host}:{port}; {what} may be down, or the address or port is "
            "wrong."
        )
    reason = e.strerror or type(e).__name__
    return f"{what.capitalize()} at {host}:{port} cannot be reached ({reason}); check the network."


def _system_proxy(url: str) -> str:
    proxies = requests.utils.get_environ_proxies(url)
    scheme = urlsplit(url).scheme
    return str(proxies.get(scheme) or proxies.get("all") or "")


def _tls_reason(e: Exception) -> str:
    text = str(e)
    m = re.search(r"certificate verify failed: ([^(\]')]+)", text)
    if m:
        return m.group(1).strip()
    cause = e.__context__ or e.__cause__
    if isinstance(cause, ssl.SSLError):
        return cause.reason or "TLS error"
    return "TLS handshake failed"


def _parse_http_date(value: str) -> dt.datetime | None:
    return http_date(value)


def clock_check(local: dt.datetime, hub_time: dt.datetime | None) -> Check:
    """Compare the workstation's clock (``local``, when the hub answered) with the hub's."""
    if hub_time is None:
        return Check("clock", None, "The hub did not tell its time; the clock was not checked.")
    offset = (local - hub_time).total_seconds()
    if abs(offset) <= CLOCK_TOLERANCE_S:
        return Check("clock", True, "The workstation's clock agrees with the hub's.")
    way = "ahead of" if offset > 0 else "behind"
    if abs(offset) > HUB_REFUSES_CLOCK.total_seconds():
        says = local.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
        return Check(
            "clock",
            False,
            f"The workstation clock says {says} UTC, {duration_words(abs(offset))} {way} the "
            "hub's: the hub refuses this workstation's history (what was downloaded here) "
            "until the clock is set right. Set the date (turn on automatic date and time), "
            "then run `alu sync`.",
        )
    return Check(
        "clock",
        None,
        f"The workstation clock is {duration_words(abs(offset))} {way} the hub's; history "
        "times are corrected but fix the clock (turn on automatic date and time).",
    )


# --- this workstation -------------------------------------------------------------------------


def _secrets_check(paths: Paths, secrets: Secrets | None) -> tuple[Check, Secrets | None]:
    name = "sign-in storage"
    if secrets is None:
        try:
            secrets = open_secrets(paths)
        except NoKeyring as e:
            secrets = accepted_plain_file(paths)  # (the plain file accepted in its place)
            if secrets is None:
                return Check(name, False, str(e)), None
        except SecretsError as e:
            return Check(name, False, str(e)), None
    if secrets.is_system:
        return Check(name, True, f"Sign-ins are kept in {secrets.name}."), secrets
    if secrets.plain_text:
        return (
            Check(
                name,
                None,
                f"Sign-ins are kept in plain text ({secrets.name}); anyone who can read your "
                "files could use them. Install a system keyring (on Linux GNOME Keyring or "
                "KWallet) and sign in again.",
            ),
            secrets,
        )
    return (
        Check(name, None, f"Sign-ins are kept in {secrets.name}; they are not kept between runs."),
        secrets,
    )


def disk_check(name: str, folder: Path, free: int | None = None) -> Check:
    """Free space where ``folder`` is (or would be); ``free`` given: that figure, for tests."""
    if free is None:
        probe = _existing_ancestor(folder)
        try:
            free = shutil.disk_usage(probe).free
        except OSError as e:
            return Check(name, None, f"The free space of {folder} cannot be read ({e.strerror}).")
    amount = _size(free)
    if free < FAIL_FREE:
        return Check(
            name,
            False,
            f"Only {amount} free for {folder}; transfers will stop. Free disk space or choose "
            "another folder.",
        )
    if free < WARN_FREE:
        return Check(
            name,
            None,
            f"{amount} free for {folder}; that is a few clips. Free disk space soon, or let "
            "the library's retention setting drop old files.",
        )
    return Check(name, True, f"{amount} free for {folder}.")


def _existing_ancestor(folder: Path) -> Path:
    p = folder.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _size(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


def writable_check(folder: Path) -> Check:
    name = "data folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-") as f:
            f.write(b"x")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return Check(
            name,
            False,
            f"ALU Desk cannot write in its data folder {folder} ({e.strerror or e}); fix the "
            "folder's permissions or free disk space.",
        )
    return Check(name, True, f"The data folder {folder} is writable.")


def library_check(db_path: Path) -> Check:
    """``PRAGMA integrity_check`` on the library, opened read-only (nothing created or
    migrated here)."""
    name = "library"
    if not db_path.exists():
        return Check(name, True, "There is no library yet; it is created at first use.")
    try:
        conn = sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if disk_full(e, db_path.parent):  # not damage: moved aside, the queue would be lost
            return Check(name, False, disk_full_words(db_path.parent))
        if isinstance(e, sqlite3.OperationalError):  # locked, I/O: the disk, not the file
            return Check(
                name,
                False,
                f"The library {db_path} cannot be read now ({e}); check its disk and "
                "folder, and try again. Nothing says the file is damaged.",
            )
        if not is_damage(e):
            return Check(name, False, not_damage_words(db_path, e))
        return Check(name, False, damaged_words(db_path, e))
    if rows == ["ok"]:
        return Check(name, True, "The library database is intact.")
    return Check(name, False, damaged_words(db_path, f"damaged: {rows[0]}"))
