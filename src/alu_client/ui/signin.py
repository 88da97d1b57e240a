"""Signing in to a hub: address, user name, password, and how to reach it.

The hub is asked on a worker thread (``core.profiles.sign_in``); the dialog stays responsive
and says what went wrong in plain words: the hub cannot be reached, its certificate is not
trusted, the user name or password was refused. Two refusals are questions for the user, and
the sign-in is tried again when they agree: a plain ``http://`` hub, and a workstation whose
only keyring keeps the token in plain text.

With "Remember me" off the token is kept for this session only (in memory) and any token the
keyring held for that account is forgotten.

The other things the app says before its window opens are here too (``startup_text``,
``ask_insecure_file``), so that they are translated with the rest of the UI.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyleOptionFrame,
    QVBoxLayout,
    QWidget,
)

from alu_client.core import hub
from alu_client.core.credentials import (
    KeyringFailed,
    MemorySecrets,
    PlainTextNotAccepted,
    Secrets,
    SecretsError,
)
from alu_client.core.fstype import UnsuitableDataFolder
from alu_client.core.lockfile import EngineBusy, EngineLock, FolderInUse
from alu_client.core.profiles import Profile, Profiles, sign_in
from alu_client.core.proxy_login import ProxyLogin
from alu_client.core.proxy_login import load as load_proxy_login
from alu_client.core.store import NoRoomToUpdate, disk_full, is_damage, path_too_long
from alu_client.core.store.problems import USABLE_PATH

from . import colors, engine_text, plain_text
from .a11y import announce
from .formats import isolated, size_text, unbroken
from .os_text import os_error_text
from .screen_fit import room_on_screen
from .tasks import TaskRunner
from .widgets.label import SelectableLabel

log = logging.getLogger(__name__)


def startup_text(key: str) -> str:
    """A title or progress label of the start-up (``folders``, ``library``, ``demo``,
    ``secrets``, ``starting``, ``updating``, ``busy``, ``signing-out``)."""
    texts = {
        "folders": QCoreApplication.translate("Startup", "ALU Desk cannot write its folders"),
        "library": QCoreApplication.translate("Startup", "ALU Desk cannot open its library"),
        "demo": QCoreApplication.translate("Startup", "The demo could not start"),
        "secrets": QCoreApplication.translate("Startup", "ALU Desk cannot keep your sign-in"),
        "starting": QCoreApplication.translate("Startup", "Starting the transfers…"),
        "updating": QCoreApplication.translate(
            "Startup",
            "Updating your library for this version of ALU Desk (once; a large "
            "library takes a minute)…",
        ),
        "busy": QCoreApplication.translate(
            "Startup", "ALU Desk is already at work on this data folder"
        ),
        "signing-out": QCoreApplication.translate("Startup", "Signing out…"),
    }
    return texts[key]


def hub_not_told_text(username: str) -> str:
    """Signed out here with the hub away: the sign-in was forgotten on this workstation (kept
    for a later try, it would be live for whoever uses the account next), so this workstation
    cannot tell the hub later; the hub accepts it until it expires or the agency ends it."""
    return QCoreApplication.translate(
        "Startup",
        "You are signed out on this workstation, but the hub could not be told: that sign-in "
        "stays valid on the hub until it expires (30 days after it was made, unless the agency "
        "set another time). To end it now, ask the agency to sign out {username}.",
    ).format(username=username)


def not_answering_text() -> str:
    """A second launch found the first one, which did not bring its window forward (it
    answers from the start, at its sign-in and library update too: it is frozen or busy)."""
    return QCoreApplication.translate(
        "Startup",
        "ALU Desk is already running on this data folder but does not answer: it may be busy, "
        "or it has stopped responding. Switch to its window, or close it and start ALU Desk "
        "again.",
    )


def cannot_write_text(folder: Path | str, error: OSError) -> str:
    """Why the app's data, cache or log ``folder`` could not be made or written, and what to do
    (a read-only or full home folder, one that belongs to another account)."""
    if error.errno == errno.ENOSPC:
        return QCoreApplication.translate(
            "Startup",
            "The disk that holds {folder} is full. Free some space there, then start ALU Desk "
            "again.",
        ).format(folder=isolated(folder))
    if error.errno == errno.EROFS:
        reason = QCoreApplication.translate("Startup", "the disk is read-only")
    elif error.errno in (errno.EACCES, errno.EPERM):
        reason = QCoreApplication.translate("Startup", "your account may not write there")
    else:
        reason = os_error_text(error)  # the system's reason in the user's language
    return QCoreApplication.translate(
        "Startup",
        "ALU Desk keeps its library, logs and cache in your home folder and cannot write to "
        "{folder}: {reason}.\n\nAsk your administrator to give your account write access to "
        "this folder (or to free it if it is full or belongs to another account), then start "
        "ALU Desk again.",
    ).format(folder=isolated(folder), reason=reason)


def library_problem_text(error: BaseException, db_path: Path) -> str:
    """Why the library could not be opened at start, and what to do, in the user's language:
    no room for an update's copy, a full disk, a damaged file (its ``-wal`` and ``-shm`` go with
    it), a disk that cannot be read now; else the error's own words."""
    folder = db_path.parent
    if isinstance(error, NoRoomToUpdate):
        return QCoreApplication.translate(
            "Startup",
            "ALU Desk must update its library for this version, and keeps a copy of it first: "
            "that needs {needed} free on the disk that holds {folder}, where {free} are free. "
            "Free some space there, then start ALU Desk again; nothing was changed.",
        ).format(
            needed=isolated(size_text(error.needed)),
            free=isolated(size_text(error.free)),
            folder=isolated(error.folder),
        )
    if disk_full(error, folder):
        return QCoreApplication.translate(
            "Startup",
            "The disk that holds {folder} is full. Free some space there, then start ALU Desk "
            "again. The library is not damaged by it: nothing is lost.",
        ).format(folder=isolated(folder))
    if isinstance(error, FolderInUse):
        return QCoreApplication.translate(
            "Startup",
            "Another ALU Desk, or alu watch run (process {pid}), is at work on this data "
            "folder: the library must be updated for this version, which is not done under a "
            "running one. Quit it (or stop alu watch run), then start ALU Desk again; nothing "
            "was changed.",
        ).format(pid=error.pid)
    if (length := path_too_long(db_path, error)) is not None:
        return QCoreApplication.translate(
            "Startup",
            "The path of the data folder {folder} is too long for the library's database "
            "({length} bytes; about {usable} can be used). Start ALU Desk with a data folder on a "
            "shorter path (--data DIR, or ALU_CLIENT_HOME=DIR), or move this one. Nothing in "
            "it was changed.",
        ).format(folder=isolated(folder), length=length, usable=USABLE_PATH)
    if isinstance(error, sqlite3.OperationalError):  # locked, I/O: the disk, not the file
        return QCoreApplication.translate(
            "Startup",
            "The library {file} cannot be read now ({error}). Check its disk, then start ALU "
            "Desk again. Nothing says the file is damaged.",
        ).format(file=isolated(db_path), error=error)
    if isinstance(error, sqlite3.DatabaseError) and not is_damage(error):
        return QCoreApplication.translate(
            "Startup",
            "ALU Desk could not use its library {file} ({error}). Nothing says the file is "
            "damaged: do not move it. Quit ALU Desk and start it again; if it happens again, "
            "tell the agency.",
        ).format(file=isolated(db_path), error=error)
    if isinstance(error, sqlite3.DatabaseError):
        name = db_path.name
        return QCoreApplication.translate(
            "Startup",
            "The library {file} is damaged ({error}). Quit ALU Desk, move {name} aside together "
            "with {name}-wal and {name}-shm if they are there (they belong to it), and start "
            "again: a new library begins, and the hub gives back the feed and your history (the "
            "transfers in the queue and the history not yet sent stay in the old file). The "
            "copy made before the last update ({name}.bak-vN, if it is there) can be put "
            "back instead: rename it {name}, once those three files are moved away.",
        ).format(file=isolated(db_path), error=error, name=isolated(name))
    return str(error)


def engine_busy_text(error: EngineBusy) -> str:
    """Another ALU Desk, or ``alu watch run``, already works on this data folder; or an
    ``alu`` command runs a transfer of its own there (``alu fetch``: it ends by itself)."""
    if error.one_shot:
        return QCoreApplication.translate(
            "Startup",
            "An alu command (process {pid}) is running a transfer in this workstation's data "
            "folder. Wait for it to end, then start ALU Desk again.",
        ).format(pid=error.pid if error.pid is not None else "?")
    if error.pid is None:
        return QCoreApplication.translate(
            "Startup",
            "Another ALU Desk, or alu watch run, is already at work on this workstation's "
            "transfers. Close it (or stop alu watch run), then start ALU Desk again.",
        )
    return QCoreApplication.translate(
        "Startup",
        "Another ALU Desk, or alu watch run (process {pid}), is already at work on this "
        "workstation's transfers. Close it (or stop alu watch run), then start ALU Desk again.",
    ).format(pid=error.pid)


def unsuitable_folder_text(error: UnsuitableDataFolder) -> str:
    """The data folder is on a network share, or on a file system that cannot lock files:
    the library is kept only on a local disk; or it is an ALU hub's data folder."""
    if error.why == "hub":
        return QCoreApplication.translate(
            "Startup",
            "The data folder {folder} is an ALU hub's data folder: a workstation's library, "
            "downloads and logs do not go there, and nothing was written in it.\n\nChoose a "
            "folder of this workstation's own (start ALU Desk with --data DIR, or set "
            "ALU_CLIENT_HOME=DIR), then start it again.",
        ).format(folder=isolated(str(error.folder)))
    if error.why == "network":
        return QCoreApplication.translate(
            "Startup",
            "The data folder {folder} is on a network share ({fstype}). ALU Desk keeps its "
            "library only on a local disk: on a share it can be damaged, the more so when two "
            "workstations use it.\n\nChoose a data folder on this computer's disk (start ALU "
            "Desk with --data DIR, or set ALU_CLIENT_HOME=DIR), then start it again.",
        ).format(folder=isolated(str(error.folder)), fstype=error.fstype)
    return QCoreApplication.translate(
        "Startup",
        "The data folder {folder} is on a file system that cannot lock files (a network "
        "share?). ALU Desk keeps its library there only on a local disk.\n\nChoose a data "
        "folder on this computer's disk (start ALU Desk with --data DIR, or set "
        "ALU_CLIENT_HOME=DIR), then start it again.",
    ).format(folder=isolated(str(error.folder)))


def newer_library_text(current: int, newest: int) -> str:
    """The library was written by a newer ALU Desk (``SchemaTooNew``)."""
    return QCoreApplication.translate(
        "Startup",
        "This library was written by a newer version of ALU Desk (its format {current}; this "
        "version reads up to {newest}). Nothing was changed in it.\n\nInstall the newer ALU "
        "Desk again (ask your administrator for it), then start it.",
    ).format(current=current, newest=newest)


def moved_question(old: str, new: str) -> str:
    """The question when the same account signs in at another address. Each address whole on
    one line: in Arabic "http://127.0.0.1:8750" broke after "http://"."""
    return QCoreApplication.translate(
        "SignInDialog",
        "This workstation's library, transfers and history are with the hub at {old}. "
        "Is {new} the same hub at a new address?",
    ).format(old=isolated(unbroken(old)), new=isolated(unbroken(new)))


def other_hub_text(old: str, new: str) -> str:
    """Said when the user answered "same hub, new address" and the hub at the new address
    is another one: nothing moved."""
    return QCoreApplication.translate(
        "SignInDialog",
        "This is another hub (its identity differs): {new} is not the hub at {old}. You are "
        "signed in to it as another hub; nothing of this workstation's library, transfers or "
        "history went there. The transfers for {old} wait until you sign in there again.",
    ).format(old=isolated(unbroken(old)), new=isolated(unbroken(new)))


def replaced_hub_text(url: str) -> str:
    """Said when the hub at the profile's own address is another one than it signed in to
    (its identity differs): the state bound to the hub before was made the new hub's."""
    return QCoreApplication.translate(
        "SignInDialog",
        "The hub at {url} is not the one this workstation knew there: it was rebuilt with a "
        "new database, or another hub took its place. Its feed is read from the start. "
        "Downloads not done yet were stopped, as their items were on the hub before (download "
        "them again from the feed if the new hub has them); uploads not done yet start again "
        "from the beginning on the new hub; history not sent yet stays on this workstation "
        "only. The files in your library stay as they are.",
    ).format(url=isolated(unbroken(url)))


def placeholder_width(edit: QLineEdit) -> int:
    """The width ``edit`` needs to show its placeholder whole (Qt elides a longer one): its
    text, the edit's inner margins and frame, as ``QLineEdit.sizeHint`` counts them."""
    metrics = edit.fontMetrics()
    text, contents = edit.textMargins(), edit.contentsMargins()
    inner = (
        metrics.horizontalAdvance(edit.placeholderText())
        + 2 * 2  # QLineEdit's own margin each side of the text
        + text.left()
        + text.right()
        + contents.left()
        + contents.right()
        + 1
    )
    option = QStyleOptionFrame()
    edit.initStyleOption(option)
    size = edit.style().sizeFromContents(
        QStyle.ContentsType.CT_LineEdit, option, QSize(inner, metrics.height()), edit
    )
    return size.width()


def keyring_advice(platform: str = sys.platform) -> str:
    """What to do when no keyring is available, for the installed app (no pip: it cannot
    see the system's Python packages)."""
    if platform == "darwin":
        return QCoreApplication.translate(
            "Startup", "Unlock your login keychain (Keychain Access), then start ALU Desk again."
        )
    if platform == "win32":
        return QCoreApplication.translate(
            "Startup",
            "Make sure Windows Credential Manager is running, then start ALU Desk again.",
        )
    return QCoreApplication.translate(
        "Startup",
        "Start or unlock your desktop's keyring (GNOME Keyring or KWallet; your administrator "
        "can install one), then start ALU Desk again.",
    )


def ask_insecure_file(message: str, parent: QWidget | None = None) -> bool:
    """No keyring on this workstation: may the sign-in be kept in a file that is not secure?
    (Never decided silently.) ``message`` (the core's, in English) goes to the log; the
    dialog gives the advice in the user's language."""
    log.warning("no keyring: %s", message)
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        QCoreApplication.translate("Startup", "No keyring"),
        QCoreApplication.translate("Startup", "No keyring is available to keep your sign-in safe."),
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setInformativeText(
        keyring_advice()
        + "\n\n"
        + QCoreApplication.translate(
            "Startup",
            "You can go on with the sign-in kept in a file that is NOT secure: anyone who can "
            "read your files could use it.",
        )
    )
    go = box.addButton(
        QCoreApplication.translate("Startup", "Continue with an insecure file"),
        QMessageBox.ButtonRole.AcceptRole,
    )
    box.addButton(QCoreApplication.translate("Startup", "Quit"), QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is go


class MoveWhileBusy(RuntimeError):
    """A move to the hub's new address while another process's engine holds the queue; or
    (``replaced``) the queue to be made the new hub's, another hub at the profile's address."""

    def __init__(self, *, replaced: bool = False) -> None:
        super().__init__("another engine holds the queue")
        self.replaced = replaced


@dataclass(frozen=True)
class SignedIn:
    profile: Profile
    # where the token went: the store given, or a memory store ("Remember me" off)
    secrets: Secrets


class SignInDialog(QDialog):
    """``SignInDialog(profiles, secrets, parent=None, *, tasks=None, profile=None, notice='',
    engine_lock=None, before_move=None)``: ``profile`` prefills the form (signing in again);
    ``notice`` says why the dialog shows. The same account at another hub address asks whether
    the hub moved: then the profile moves there with its library, queue and history (as ``alu
    login NEW --name P``), after ``before_move`` (the app stops its engine) and under
    ``engine_lock``; else a new profile begins.

    After ``Accepted``: ``result_`` (``SignedIn``). Signals: ``signed_in(SignedIn)``."""

    signed_in = Signal(object)
    # a call from the sign-in's worker to run on the GUI thread (``_on_gui_thread``)
    _gui_call = Signal(object)

    def __init__(
        self,
        profiles: Profiles,
        secrets: Secrets,
        parent: QWidget | None = None,
        *,
        tasks: TaskRunner | None = None,
        profile: Profile | None = None,
        notice: str = "",
        engine_lock: Path | None = None,
        before_move: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("signInDialog")
        self.profiles = profiles
        # the profile the form was filled from: its hub's new address can be moved to
        self.origin = profile
        # the data folder's engine lock (held while a move rewrites the queue's addresses)
        self.engine_lock = engine_lock
        # called on the GUI thread before a move: stops this app's own engine
        self.before_move = before_move
        # the profile moving to a new address in the sign-in under way
        self.moving: Profile | None = None
        # (old address, new address) when the hub said to have moved proved another one
        self._other_hub: list[tuple[str, str]] = []
        # the profile signed in at its own address to another hub than before (its url)
        self._replaced_hub: list[str] = []
        self._gui_call.connect(self._run_gui_call, Qt.ConnectionType.QueuedConnection)
        self.secrets = secrets
        self.tasks = tasks or TaskRunner(self)
        self.result_: SignedIn | None = None
        self.error_text = ""
        self.allow_plain_secrets = False
        self.busy = False
        self.stopping = False  # closing for the app's quitting (``stop``)
        self.notice_text = notice

        self.notice = QLabel(self)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)  # (the hub's reason: as typed)
        self.notice.setWordWrap(True)
        self.notice.setVisible(bool(notice))
        self.url = QLineEdit(self)
        self.url.setObjectName("hubUrl")
        self.user = QLineEdit(self)
        self.user.setObjectName("userName")
        self.password = QLineEdit(self)
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox(self)
        self.remember.setObjectName("remember")
        self.remember.setChecked(True)

        self.advanced = QGroupBox(self)
        self.advanced.setObjectName("advanced")
        self.advanced.setCheckable(True)
        self.advanced.setChecked(False)
        self.ca_bundle = QLineEdit(self.advanced)
        self.ca_bundle.setObjectName("caBundle")
        self.browse = QPushButton(self.advanced)
        self.browse.clicked.connect(self._choose_ca_bundle)
        self.proxy = QLineEdit(self.advanced)
        self.proxy.setObjectName("proxy")
        self.proxy_user = QLineEdit(self.advanced)
        self.proxy_user.setObjectName("proxyUser")
        self.proxy_password = QLineEdit(self.advanced)
        self.proxy_password.setObjectName("proxyPassword")
        self.proxy_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.allow_http = QCheckBox(self.advanced)
        self.allow_http.setObjectName("allowHttp")
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_bundle, 1)
        ca_row.addWidget(self.browse)
        adv = QFormLayout(self.advanced)
        self.ca_label, self.proxy_label = QLabel(self.advanced), QLabel(self.advanced)
        self.proxy_user_label, self.proxy_password_label = (
            QLabel(self.advanced),
            QLabel(self.advanced),
        )
        self.ca_label.setBuddy(self.ca_bundle)
        self.proxy_label.setBuddy(self.proxy)
        self.proxy_user_label.setBuddy(self.proxy_user)
        self.proxy_password_label.setBuddy(self.proxy_password)
        adv.addRow(self.ca_label, ca_row)
        adv.addRow(self.proxy_label, self.proxy)
        adv.addRow(self.proxy_user_label, self.proxy_user)
        adv.addRow(self.proxy_password_label, self.proxy_password)
        adv.addRow("", self.allow_http)
        self.advanced.toggled.connect(self._show_advanced)

        # what a sign-in under way is at, when the hub is slow to answer (tries again)
        self.progress = QLabel(self)
        self.progress.setObjectName("signInProgress")
        self.progress.setWordWrap(True)
        self.progress.hide()

        # selectable, and a copy of it is the text without the marks it is shown with
        self.error = SelectableLabel(self)
        self.error.setObjectName("signInError")
        colors.tint(self.error, colors.ERROR)
        self.error.hide()

        self.buttons = QDialogButtonBox(self)
        self.sign_in_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Ok)
        self.sign_in_button.setObjectName("signInButton")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        self.url_label, self.user_label = QLabel(self), QLabel(self)
        self.password_label = QLabel(self)
        for label, field in (
            (self.url_label, self.url),
            (self.user_label, self.user),
            (self.password_label, self.password),
        ):
            label.setBuddy(field)
            form.addRow(label, field)
        form.addRow("", self.remember)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addLayout(form)
        layout.addWidget(self.advanced)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        for field in (self.url, self.user, self.password):
            field.textChanged.connect(self._update_button)
        if profile is not None:
            self.prefill(profile)
        self._show_advanced(self.advanced.isChecked())
        self._retranslate()
        self._update_button()
        first = self.url if not self.url.text() else self.user if not self.user.text() else None
        (first or self.password).setFocus()
        self.setMinimumWidth(460)

    def prefill(self, profile: Profile) -> None:
        self.url.setText(profile.url)
        self.user.setText(profile.username)
        self.ca_bundle.setText(profile.ca_bundle)
        self.proxy.setText(profile.proxy)
        self.allow_http.setChecked(profile.allow_http)
        if profile.ca_bundle or profile.proxy or profile.allow_http:
            self.advanced.setChecked(True)
        self.password.setFocus()

    # --- signing in ---------------------------------------------------------------------------

    def submit(self) -> None:
        if self.busy or not self._complete():
            return
        self._set_busy(True)
        self._show_error("")
        profiles, secrets = self.profiles, self.secrets
        url, user = self.url.text().strip(), self.user.text().strip()
        password = self.password.text()
        remember = self.remember.isChecked()
        advanced = self.advanced.isChecked()
        ca_bundle = self.ca_bundle.text().strip() if advanced else ""
        proxy = self.proxy.text().strip() if advanced else ""
        # no proxy user name given: the login kept for this profile, if any, goes on
        proxy_user = self.proxy_user.text().strip() if advanced else ""
        login: ProxyLogin | Literal["keep"] = (
            ProxyLogin(proxy_user, self.proxy_password.text()) if proxy_user else "keep"
        )
        allow_http = advanced and self.allow_http.isChecked()
        allow_plain = self.allow_plain_secrets
        moving = self._moving_to(url, user)
        if moving is False:  # the user closed the question: nothing sent
            self._set_busy(False)
            if self.stopping:  # (closed for the app's quitting)
                super().reject()
            return
        self.moving = moving or None
        name = moving.name if moving else None
        self._other_hub.clear()
        self._replaced_hub.clear()
        lock_path = self.engine_lock

        @contextlib.contextmanager
        def move_guard() -> Iterator[None]:
            # entered once the hub took the password (a wrong one stops nothing): this app's
            # engine stops (on the GUI thread), then the data folder's lock is taken — the
            # move rewrites the queue's addresses, and an engine at work on them would write
            # its own back (an upload's URLs) and publish the clip twice after all
            if self.before_move is not None:
                self._on_gui_thread(self.before_move)
            held = None
            if lock_path is not None:
                try:
                    held = EngineLock(lock_path).acquire(say=False)
                except EngineBusy:
                    # (entered with no move asked: another hub at the profile's address)
                    raise MoveWhileBusy(replaced=name is None) from None
            try:
                yield
            finally:
                if held is not None:
                    held.release()

        def work() -> SignedIn:
            store: Secrets = secrets if remember else MemorySecrets()
            chosen = login
            if chosen == "keep" and store is not secrets:
                # not remembered this time: the login kept for the profile still carries it
                existing = profiles.find(hub.normalize_url(url), user)
                if existing is not None:
                    chosen = load_proxy_login(secrets, existing.secret_key) or "keep"
            profile = sign_in(
                profiles,
                store,
                url,
                user,
                password,
                name=name,
                ca_bundle=ca_bundle,
                proxy=proxy,
                allow_http=allow_http,
                allow_plain_secrets=allow_plain,
                proxy_login=chosen,
                moving=move_guard,
                on_retry=lambda _try: self._gui_call.emit(self._show_retrying),
                on_other_hub=lambda left: self._other_hub.append((left.url, url)),
                on_replaced_hub=lambda kept, _done: self._replaced_hub.append(kept.url),
            )
            if not remember and store is not secrets:
                try:
                    secrets.delete(profile.secret_key)  # no token left behind to remember
                except SecretsError as e:
                    log.warning("could not forget the kept sign-in: %s", e)
            return SignedIn(profile, store)

        self.tasks.run(work, self._done, self._failed)

    def _done(self, result: SignedIn) -> None:
        self._set_busy(False)
        self.password.clear()
        self.result_ = result
        if self._other_hub and not self.stopping:
            old, new = self._other_hub[0]
            text = other_hub_text(old, hub.normalize_url(new))
            QMessageBox.information(self, self.tr("Another hub"), plain_text.shown_as_typed(text))
        if self._replaced_hub and not self.stopping:
            QMessageBox.information(
                self,
                self.tr("Another hub at this address"),
                plain_text.shown_as_typed(replaced_hub_text(self._replaced_hub[0])),
            )
        self.signed_in.emit(result)
        self.accept()

    def _show_retrying(self) -> None:
        if not self.busy:
            return
        text = self.tr("The hub has not answered yet; trying again…")
        self.progress.setText(text)
        self.progress.show()
        announce(self, text)

    def _run_gui_call(self, fn: Callable[[], None]) -> None:
        fn()

    def _on_gui_thread(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread and wait for it (from the sign-in's worker)."""
        done = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                fn()
            except BaseException as e:
                failed.append(e)
            finally:
                done.set()

        self._gui_call.emit(run)
        if not done.wait(120):
            raise TimeoutError("the app did not stop its transfers for the move")
        if failed:
            raise failed[0]

    def _moving_to(self, url: str, user: str) -> Profile | Literal[False] | None:
        """The profile the form was filled from when the same account signs in at another
        address and the user says the hub moved; None for a new profile; False when the user
        closed the question."""
        origin = self.origin
        if origin is None or user != origin.username or self.profiles.get(origin.name) is None:
            return None
        try:
            new = hub.normalize_url(url)
        except Exception:
            return None  # the sign-in says what is wrong with the address
        if new == origin.url or self.profiles.find(new, user) is not None:
            return None  # the same hub, or a profile there already: signed in as it is
        if self.moving is not None and self.moving.name == origin.name:
            return self.moving  # asked already (a retry after a wrong password)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Has the hub moved?"),
            plain_text.shown_as_typed(moved_question(origin.url, new)),
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setInformativeText(
            self.tr(
                "If it moved, they go with it: transfers not yet done go on at the new address. "
                "The transfers stop for the sign-in and start again after it."
            )
        )
        move = box.addButton(self.tr("Same hub, new address"), QMessageBox.ButtonRole.YesRole)
        other = box.addButton(self.tr("Another hub"), QMessageBox.ButtonRole.NoRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        # the safe answer by default (Enter): a wrong "same hub" sent a member's queued upload
        # and this workstation's history to an unrelated hub; "another hub" keeps them waiting
        box.setDefaultButton(other)
        box.exec()
        clicked = box.clickedButton()
        if clicked is move:
            return origin
        return None if clicked is other else False

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        if self.stopping:  # the app quits: nothing more is asked or said
            super().reject()
            return
        if isinstance(error, hub.PlainHttpRefused):
            if self._ask_plain_http():
                self.advanced.setChecked(True)
                self.allow_http.setChecked(True)
                self.submit()
                return
            self._show_error(self.tr("Use the hub's https:// address, or allow plain HTTP."))
            return
        if isinstance(error, PlainTextNotAccepted):
            if self._ask_plain_secrets(str(error)):
                self.allow_plain_secrets = True
                self.submit()
                return
            self._show_error(
                self.tr("The sign-in was not kept. Install a system keyring, then sign in again.")
            )
            return
        self._show_error(self.message_for(error))

    def message_for(self, error: BaseException) -> str:
        """What went wrong, in the newsroom's words."""
        if isinstance(error, MoveWhileBusy) and error.replaced:
            return self.tr(
                "The hub at this address is another hub now, and this workstation's transfers "
                "must be made its own, but another ALU Desk (or alu watch run) is at work on "
                "them: close it, then sign in again."
            )
        if isinstance(error, MoveWhileBusy):
            return self.tr(
                "Another ALU Desk (or alu watch run) is at work on this workstation's "
                "transfers: close it, then sign in again to move to the new address."
            )
        if isinstance(error, hub.AuthError):
            return self.tr("The hub refused the user name or password.")
        if isinstance(error, hub.TlsError) and error.proxy is not None:
            # "{proxy}" is " (address)", or nothing when the address is not known
            proxy = f" ({error.proxy})" if error.proxy else ""
            return self.tr(
                "The security certificate of the network's proxy{proxy} could not be checked. "
                "If your organisation uses its own certificate authority, add it to the "
                "system's certificate store, or choose a CA bundle under Advanced that holds "
                "it and the hub's authority."
            ).format(proxy=proxy)
        if isinstance(error, hub.TlsError) and error.reason:
            # %1 is OpenSSL's reason, in English ("self-signed certificate")
            return self.tr(
                "The hub's security certificate was refused (%1). If your organisation uses "
                "its own certificate authority, choose its CA bundle under Advanced."
            ).replace("%1", error.reason)
        if isinstance(error, hub.TlsError):
            return self.tr(
                "The hub's security certificate could not be checked. If your organisation "
                "uses its own certificate authority, choose its CA bundle under Advanced."
            )
        if isinstance(error, hub.NotTls):
            return self.tr(
                "The hub did not answer in TLS (https) at this address: is its port one for "
                "plain http (then the address begins with http://), or is a network login page "
                "in the way? Check the hub's address."
            )
        if isinstance(error, hub.ProxyRefused):
            # "{proxy}" is " (address)", or nothing when the address is not known
            proxy = f" ({error.proxy})" if error.proxy else ""
            if error.status == 407:
                return self.tr(
                    "The network's proxy{proxy} wants a user name and password, or did not "
                    "take the ones given. Give them under Advanced, with the proxy's address "
                    "(they are kept in the system keyring), or ask the network's administrator "
                    "to let this computer through without one."
                ).format(proxy=proxy)
            return self.tr(
                "The network's proxy{proxy} refused to let this computer reach the hub (HTTP "
                "{status}). Check the proxy under Advanced, or ask the network's administrator."
            ).format(proxy=proxy, status=error.status)
        if isinstance(error, hub.NoAnswer):
            return self.tr(
                "The hub did not answer in time. Check the workstation's connection (or the "
                "proxy under Advanced), then try again."
            )
        if isinstance(error, hub.Unreachable):
            return self.tr(
                "The hub could not be reached. Check its address and the network (or the "
                "proxy under Advanced), then try again."
            )
        if isinstance(error, hub.Forbidden) and error.code == "account_disabled":
            return self.tr(
                "This account is disabled: the password is right, but the agency has turned "
                "the account off. Ask the agency to turn it on again."
            )
        if isinstance(error, hub.Forbidden):
            return self.tr("The hub does not let this account sign in here: %1").replace(
                "%1", engine_text.shown(str(error))
            )
        if isinstance(error, KeyringFailed) and self.remember.isChecked():
            # (the core's "or sign in again" is what the user is doing: unticking Remember me
            # is the way that works, the token then kept in memory only)
            return (
                self.tr(
                    "%1 could not use the sign-in (%2); unlock the keyring, or untick “Remember "
                    "me” to sign in for this session only."
                )
                .replace("%1", error.keyring)
                .replace("%2", error.error)
            )
        if isinstance(error, hub.HubError | SecretsError):
            # the core's own sentence, in the user's language where it has a template
            return engine_text.error_shown(error)
        log.error("sign-in failed", exc_info=error)
        return self.tr("Signing in failed: %1").replace(
            "%1", engine_text.error_shown(error) or type(error).__name__
        )

    def _ask_plain_http(self) -> bool:
        answer = QMessageBox.question(
            self,
            self.tr("Plain HTTP"),
            self.tr(
                "This hub address uses plain HTTP: the password and the footage would cross "
                "the network unencrypted. Use it only if your administrator says so.\n\n"
                "Allow plain HTTP for this hub?"
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _ask_plain_secrets(self, warning: str) -> bool:
        answer = QMessageBox.question(
            self,
            self.tr("No secure keyring"),
            plain_text.shown_as_typed(
                self.tr("%1\n\nKeep the sign-in in plain text anyway?").replace("%1", warning)
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # --- the form -----------------------------------------------------------------------------

    def _complete(self) -> bool:
        return all(f.text().strip() for f in (self.url, self.user)) and bool(self.password.text())

    def _update_button(self) -> None:
        self.sign_in_button.setEnabled(self._complete() and not self.busy)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        if not busy:
            self.progress.hide()
        for w in (self.url, self.user, self.password, self.remember, self.advanced):
            w.setEnabled(not busy)
        self.sign_in_button.setText(self.tr("Signing in…") if busy else self.tr("Sign in"))
        self._update_button()

    def _show_error(self, text: str) -> None:
        """The reason under the form, and with the focus back in Password (to type it again):
        that field describes it and a screen reader says it — a label alone was never read
        ("Password, edit, protected" and nothing about the refusal)."""
        self.error_text = text
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self.password.setAccessibleDescription(text)
        if text:
            self.password.selectAll()
            self.password.setFocus()
            announce(self.password, text, assertive=True)

    def _show_advanced(self, on: bool) -> None:
        for w in (
            self.ca_bundle,
            self.browse,
            self.proxy,
            self.proxy_user,
            self.proxy_password,
            self.allow_http,
        ):
            w.setVisible(on)
        for label in (
            self.ca_label,
            self.proxy_label,
            self.proxy_user_label,
            self.proxy_password_label,
        ):
            label.setVisible(on)

    def _choose_ca_bundle(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("CA bundle"),
            self.ca_bundle.text(),
            self.tr("Certificates (*.pem *.crt *.cer);;All files (*)"),
        )
        if name:
            self.ca_bundle.setText(name)

    def reject(self) -> None:
        if not self.busy:  # a sign-in on its way finishes first (or its token would be lost)
            super().reject()

    def stop(self) -> None:
        """Close as Cancel does, for the app's quitting (a stop signal): a question open over
        the form is closed unanswered, and a sign-in on its way finishes first — its profile
        and token kept whole — then the dialog closes (accepted if it succeeded, with nothing
        more asked)."""
        self.stopping = True
        question = QApplication.activeModalWidget()
        if isinstance(question, QDialog) and question is not self and self._owns(question):
            question.reject()  # (its caller then sees no answer and goes no further)
        if not self.busy:
            super().reject()

    def _owns(self, widget: QWidget) -> bool:
        """Whether ``widget`` is opened over this dialog (``isAncestorOf`` stops at a window's
        edge, and a question is a window of its own)."""
        parent = widget.parentWidget()
        while parent is not None and parent is not self:
            parent = parent.parentWidget()
        return parent is self

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.setWindowTitle(self.tr("Sign in to the hub"))
        self.notice.setText(self.notice_text)
        self.url_label.setText(self.tr("&Hub address:"))
        self.url.setPlaceholderText(self.tr("https://hub.example.org"))
        self.url.setAccessibleName(self.tr("Hub address"))
        self.user_label.setText(self.tr("&User name:"))
        self.user.setAccessibleName(self.tr("User name"))
        self.password_label.setText(self.tr("&Password:"))
        self.password.setAccessibleName(self.tr("Password"))
        self.remember.setText(self.tr("&Remember me on this workstation"))
        self.remember.setToolTip(
            self.tr(
                "Keep the sign-in in the system keyring (never the password). Off: sign in "
                "again at each start."
            )
        )
        self.advanced.setTitle(self.tr("&Advanced connection settings"))
        self.ca_label.setText(self.tr("&CA bundle:"))
        self.ca_bundle.setPlaceholderText(self.tr("Certificate file of a private authority"))
        self.ca_bundle.setAccessibleName(self.tr("CA bundle file"))
        self.browse.setText(self.tr("Browse…"))
        self.browse.setAccessibleName(self.tr("Choose the CA bundle file"))
        self.proxy_label.setText(self.tr("Pro&xy:"))
        self.proxy.setPlaceholderText(self.tr("http://proxy.example.org:3128 (empty: system)"))
        self.proxy.setAccessibleName(self.tr("Proxy"))
        self.proxy_user_label.setText(self.tr("Proxy user na&me:"))
        self.proxy_user.setPlaceholderText(self.tr("only if the proxy asks for one"))
        self.proxy_user.setAccessibleName(self.tr("Proxy user name"))
        self.proxy_password_label.setText(self.tr("Proxy pass&word:"))
        self.proxy_password.setAccessibleName(self.tr("Proxy password"))
        self.allow_http.setText(self.tr("A&llow plain HTTP (unencrypted)"))
        self.error.setAccessibleName(self.tr("Sign-in problem"))
        self.cancel_button.setText(self.tr("Cancel"))
        self._fit_placeholders()
        self._set_busy(self.busy)

    def _fit_placeholders(self) -> None:
        """Fields as wide as their hints: the placeholders say what an empty field means
        ("empty: system" for the proxy), and in French the dialog's 460 px cut them
        ("http://proxy.example.org:3128 (vide : c…"). As wide as the screen has room for
        beside the labels; the hint is the field's tooltip too, read whole after typing."""
        labels = (
            self.url_label,
            self.user_label,
            self.password_label,
            self.ca_label,
            self.proxy_label,
            self.proxy_user_label,
            self.proxy_password_label,
        )
        widest_label = max(label.sizeHint().width() for label in labels)
        # less the dialog's and the group box's margins and the form's spacing
        room = room_on_screen(self).width() - widest_label - 80
        for edit, beside in (
            (self.url, 0),
            (self.ca_bundle, self.browse.sizeHint().width()),
            (self.proxy, 0),
            (self.proxy_user, 0),
        ):
            edit.setMinimumWidth(max(0, min(placeholder_width(edit), room - beside)))
        for edit in (self.ca_bundle, self.proxy, self.proxy_user):
            edit.setToolTip(edit.placeholderText())
