"""What the Settings dialog reads and writes, without widgets: run off the GUI thread.

``load(...)`` reads everything the pages show in one go (settings, rules, hot folders and
their files, the profile); ``apply(...)`` first checks what needs the disk (the download folder,
the CA bundle), raising ``Problem`` before anything is written, and whether the rules can be
merged with what the store holds now (another program may have changed them while the dialog
was open: ``RulesChanged`` before anything is written), then writes every part and, when the
engine runs, hands the new limits, schedule and caps to the queue at once. The rules are
written as a merge: only what the user changed on the page (``core.rules.merge``).
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alu_client.core import proxy_login
from alu_client.core.credentials import Secrets, SecretsError
from alu_client.core.profiles import Profile
from alu_client.core.rules import Rule, RuleProblem, RuleStore, rule_problems
from alu_client.core.rules.downloads import unfinished_downloads
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.transfers.schedule import Schedule, ScheduleRule
from alu_client.core.watch import HotFolders, SentElsewhere, WatchFile, WatchFolder

from .. import autostart


class Problem(Exception):
    """An entry the user must fix: ``field`` names it, ``code`` says what is wrong (the page
    words it), ``detail`` is the system's own explanation when there is one."""

    def __init__(self, field: str, code: str, detail: str = "") -> None:
        super().__init__(f"{field}: {code} {detail}".strip())
        self.field = field
        self.code = code
        self.detail = detail


@dataclass
class FolderRow:
    """A hot folder as the page shows it (``id`` < 0: added in the dialog, not saved yet)."""

    id: int
    path: Path
    enabled: bool
    defaults: dict[str, str]
    sent: int = 0
    errors: list[WatchFile] = field(default_factory=list)
    #: why the folder cannot be watched now (the core's English, one sentence a line), or ""
    problem: str = ""
    #: its files another workstation watching it is sending (a shared folder), as the
    #: engine's last scan found them; a file taken over from this one among them
    elsewhere: list[SentElsewhere] = field(default_factory=list)


@dataclass
class Values:
    """Everything the dialog edits."""

    language: str = "system"
    close_to_tray: bool = True
    start_at_login: bool = False
    notify: bool = True
    download_dir: Path = Path()
    max_downloads: int = 2
    max_uploads: int = 1
    limit_down: float | None = None
    limit_up: float | None = None
    schedule_rules: list[ScheduleRule] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    #: the rules as read when the page was filled: what ``rules`` is compared with, so that
    #: only the user's changes are written
    rules_base: list[Rule] = field(default_factory=list)
    #: rules removed or turned off whose downloads not finished are canceled with them (the
    #: user chose so)
    cancel_downloads_of: list[Rule] = field(default_factory=list)
    # the rules whose items wait for their folder (shown on their row; not saved)
    rule_problems: list[RuleProblem] = field(default_factory=list)
    folders: list[FolderRow] = field(default_factory=list)
    proxy: str = ""
    #: the proxy's login (kept in the keyring): its user name; a new password, or "" to keep
    #: the kept one (whose being there ``proxy_password_kept`` tells: a form never shows it)
    proxy_user: str = ""
    proxy_password: str = ""
    proxy_password_kept: bool = False
    ca_bundle: str = ""
    allow_http: bool = False


@dataclass
class Loaded:
    values: Values
    profile: Profile | None
    #: whether a login entry exists now (it may differ from the setting)
    autostart_entry: bool = False
    #: the downloads not finished that each rule queued, by rule id (removing one or turning
    #: it off asks)
    rule_downloads: dict[int, list[int]] = field(default_factory=dict)
    #: the words of the rules saved before the update are whole words now: said once
    rule_words_notice: bool = False


def load(services: Services, settings: AppSettings, hot: HotFolders | None) -> Loaded:
    profile = services.profiles.active()
    schedule = settings.schedule
    v = Values(
        language=settings.language,
        close_to_tray=settings.close_to_tray,
        start_at_login=settings.start_at_login,
        notify=settings.notify,
        download_dir=settings.download_dir,
        max_downloads=settings.max_downloads,
        max_uploads=settings.max_uploads,
        limit_down=settings.limit_down,
        limit_up=settings.limit_up,
        schedule_rules=list(schedule.rules) if schedule else [],
    )
    if profile is not None:
        v.rules = RuleStore(services.store, profile.name).all()
        v.rules_base = list(v.rules)
        v.rule_problems = rule_problems(services.store, profile.name)
        v.proxy, v.ca_bundle, v.allow_http = profile.proxy, profile.ca_bundle, profile.allow_http
        kept = proxy_login.load(services.secrets, profile.secret_key)
        if kept is not None:
            v.proxy_user, v.proxy_password_kept = kept.user, bool(kept.password)
    if hot is not None:
        v.folders = [folder_row(hot, f.id) for f in hot.list_folders()]
    entry = autostart.is_enabled()
    # ticked only while an entry starts the app (not one whose program is gone: a macOS copy
    # run from its disk image then ejected)
    v.start_at_login = v.start_at_login and entry
    downloads = unfinished_downloads(services.store, profile.name, v.rules) if profile else {}
    return Loaded(v, profile, entry, downloads, settings.rule_words_notice)


def rule_words_notice_seen(settings: AppSettings) -> None:
    """The notice of the rules' whole words was shown: never again."""
    settings.rule_words_notice = False


def folder_row(hot: HotFolders, folder_id: int) -> FolderRow:
    folder = hot.folder(folder_id)
    files = hot.files(folder_id)
    return FolderRow(
        id=folder.id,
        path=folder.path,
        enabled=folder.enabled,
        defaults=dict(folder.defaults),
        sent=sum(1 for f in files if f.state == "sent"),
        # (not a file taken over by another workstation: no error, it sends it)
        errors=[f for f in files if f.state == "error"],
        problem=folder.problem,
        elsewhere=hot.sent_elsewhere(folder_id),
    )


# --- checks that need the disk --------------------------------------------------------------


def check_download_dir(path: Path, default: Path | None = None) -> None:
    """The folder must exist and take files; the app's own default is made when missing
    (the core makes it at the first download anyway)."""
    if not path.is_absolute():
        raise Problem("download_dir", "relative")
    if path == default and not path.exists():
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise Problem("download_dir", "not_writable", e.strerror or str(e)) from None
    if not path.is_dir():
        raise Problem("download_dir", "missing")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise Problem("download_dir", "not_writable", e.strerror or str(e)) from None


def check_ca_bundle(path: str) -> None:
    if not path:
        return
    file = Path(path).expanduser()
    if not file.is_file():
        raise Problem("ca_bundle", "missing")
    try:
        context = ssl.create_default_context(cafile=str(file))
    except (ssl.SSLError, ValueError, OSError) as e:
        raise Problem("ca_bundle", "not_pem", str(e)) from None
    if not context.get_ca_certs():
        raise Problem("ca_bundle", "not_pem")


# --- writing ----------------------------------------------------------------------------------


def schedule_of(v: Values) -> Schedule | None:
    """The weekly schedule, with the plain limits as what applies outside its periods."""
    if not v.schedule_rules:
        return None
    return Schedule(v.schedule_rules, default_down=v.limit_down, default_up=v.limit_up)


def apply(
    services: Services,
    settings: AppSettings,
    hot: HotFolders | None,
    v: Values,
    *,
    autostart_command: Sequence[str] | None = None,
) -> None:
    """Check, then write. ``Problem`` or ``RulesChanged`` (nothing written) or a core error
    (RuleError, WatchError: what came before it is written) when something is wrong."""
    check_download_dir(v.download_dir, settings.default_downloads)
    check_ca_bundle(v.ca_bundle)
    profile = services.profiles.active()
    if profile is not None:  # a rule changed elsewhere meanwhile: say so before writing
        RuleStore(services.store, profile.name).save_edits(v.rules_base, v.rules, check_only=True)
    if v.start_at_login:
        try:
            autostart.check_installed(autostart_command)
        except autostart.NotInstalled:
            raise Problem("start_at_login", "not_installed") from None
    settings.language = v.language
    settings.close_to_tray = v.close_to_tray
    settings.notify = v.notify
    settings.download_dir = v.download_dir
    settings.max_downloads = v.max_downloads
    settings.max_uploads = v.max_uploads
    settings.limit_down = v.limit_down
    settings.limit_up = v.limit_up
    schedule = schedule_of(v)
    settings.schedule = schedule
    try:
        autostart.set_enabled(v.start_at_login, autostart_command)
    except OSError as e:
        raise Problem("start_at_login", "not_written", e.strerror or str(e)) from None
    settings.start_at_login = v.start_at_login
    queue = services.queue
    if queue is not None:
        queue.caps["download"] = v.max_downloads
        queue.caps["upload"] = v.max_uploads
        queue.set_limits(v.limit_down, v.limit_up)
        queue.set_schedule(schedule)
    if profile is not None:
        store = RuleStore(services.store, profile.name)
        apply_rules(store, v.rules_base, v.rules)
        on = {r.id for r in store.all() if r.enabled}
        for rule in v.cancel_downloads_of:
            if rule.id not in on:
                services.cancel_rule_downloads(rule)
        services.profiles.save(
            dataclasses.replace(
                profile, proxy=v.proxy.strip(), ca_bundle=v.ca_bundle, allow_http=v.allow_http
            )
        )
        apply_proxy_login(services.secrets, profile.secret_key, v)
    if hot is not None:
        apply_folders(hot, v.folders)


def apply_proxy_login(secrets: Secrets, key: str, v: Values) -> None:
    """Keep the proxy's login as the form says, in the keyring beside the profile's token (no
    proxy or no user name: none)."""
    kept = proxy_login.load(secrets, key)
    login = proxy_login.chosen(kept, v.proxy_user, v.proxy_password) if v.proxy.strip() else None
    if login == kept:
        return
    try:
        # a store that asks for consent to plain text already holds this profile's token
        # when the user accepted it at sign-in
        allow_plain = secrets.get(key) is not None
        proxy_login.save(secrets, key, login, allow_plain=allow_plain)
    except SecretsError as e:
        raise Problem("proxy_login", "not_kept", str(e)) from None


def apply_rules(store: RuleStore, base: Sequence[Rule], rules: Sequence[Rule]) -> None:
    """Write what the user changed from ``base`` to ``rules`` (new ones have ids < 0) over
    what the store holds now: rules another program added, changed or removed meanwhile stay
    as it left them (``RuleStore.save_edits``; ``RulesChanged`` when the changes clash)."""
    store.save_edits(base, rules)


def apply_folders(hot: HotFolders, folders: Sequence[FolderRow]) -> None:
    before = {f.id: f for f in hot.list_folders()}
    wanted = {f.id for f in folders if f.id > 0}
    for fid in set(before) - wanted:
        hot.remove_folder(fid)
    for f in folders:
        if f.id > 0:
            if f.id in before and before[f.id].enabled != f.enabled:
                hot.set_enabled(f.id, f.enabled)
        else:
            hot.add_folder(f.path, f.defaults, enabled=f.enabled)


def not_running(path: Path, metadata: dict[str, str], folder: WatchFolder) -> int:
    """The ``enqueue_upload`` of hot folders edited while the engine is stopped: the dialog
    never scans, so this is never called."""
    raise RuntimeError(f"the transfer engine is not running; {os.fspath(path)} waits")
