"""Settings › General: language, close to tray, start at login, notifications; and Network:
the active profile's proxy, CA bundle and plain HTTP."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from ...core.profiles import proxy_problem
from .settings_apply import Loaded, Values
from .settings_fields import ErrorLabel, PathField

# the language setting's values, each named in its own language (not translated)
LANGUAGE_NAMES = (("en", "English"), ("fr", "Français"), ("ar", "العربية"))


class GeneralPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.language = QComboBox(self)
        self.language.setObjectName("settings-language")
        self.close_to_tray = QCheckBox(self)
        self.close_to_tray.setObjectName("settings-close-to-tray")
        self.start_at_login = QCheckBox(self)
        self.start_at_login.setObjectName("settings-start-at-login")
        self.login_error = ErrorLabel(self, self.start_at_login)
        self.notify = QCheckBox(self)
        self.notify.setObjectName("settings-notify")
        self.language_label = QLabel(self)
        self.language_label.setBuddy(self.language)
        form = QFormLayout(self)
        form.addRow(self.language_label, self.language)
        form.addRow(self.close_to_tray)
        form.addRow(self.start_at_login)
        form.addRow(self.login_error)
        form.addRow(self.notify)
        self.retranslate()

    def retranslate(self) -> None:
        current = self.language.currentData() or "system"
        self.language.clear()
        self.language.addItem(self.tr("Same as the system"), "system")
        for code, name in LANGUAGE_NAMES:
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(current)))
        self.language_label.setText(self.tr("&Language:"))
        self.language.setAccessibleName(self.tr("Language"))
        self.close_to_tray.setText(self.tr("Closing the window keeps transfers running (tray)"))
        self.start_at_login.setText(self.tr("Start ALU Desk when I log in"))
        self.notify.setText(
            self.tr("Notify me of flash and urgent pushes and of finished transfers")
        )

    def load(self, loaded: Loaded) -> None:
        v = loaded.values
        self.language.setCurrentIndex(max(0, self.language.findData(v.language)))
        self.close_to_tray.setChecked(v.close_to_tray)
        self.start_at_login.setChecked(v.start_at_login)
        self.notify.setChecked(v.notify)

    def collect(self, v: Values) -> bool:
        v.language = str(self.language.currentData() or "system")
        v.close_to_tray = self.close_to_tray.isChecked()
        v.start_at_login = self.start_at_login.isChecked()
        v.notify = self.notify.isChecked()
        return True

    def show_problem(self, code: str, detail: str) -> None:
        if code == "not_installed":  # macOS: run from the disk image or a translocated copy
            self.login_error.show_message(
                self.tr(
                    "ALU Desk is running from its disk image or from a temporary copy, which "
                    "is gone after a restart. Move ALU Desk to Applications first, then turn "
                    "on Start ALU Desk when I log in."
                )
            )
            return
        self.login_error.show_message(
            self.tr("The login entry could not be written: {why}").format(why=detail or code)
        )


class NetworkPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile_label = QLabel(self)
        self.profile_label.setTextFormat(Qt.TextFormat.PlainText)  # (the hub's name: as typed)
        self.profile_label.setWordWrap(True)
        self.proxy = QLineEdit(self)
        self.proxy.setObjectName("settings-proxy")
        self.proxy.setClearButtonEnabled(True)
        self.proxy.setLayoutDirection(Qt.LayoutDirection.LeftToRight)  # an address, as a path
        self.proxy_error = ErrorLabel(self, self.proxy)
        self.proxy.textEdited.connect(self.proxy_error.clear_message)
        self.proxy_user = QLineEdit(self)
        self.proxy_user.setObjectName("settings-proxy-user")
        self.proxy_password = QLineEdit(self)
        self.proxy_password.setObjectName("settings-proxy-password")
        self.proxy_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.proxy_login_error = ErrorLabel(self, self.proxy_password)
        self._password_kept = False
        self.ca_bundle = PathField(self, pick_file=True)
        self.ca_bundle.edit.setObjectName("settings-ca-bundle")
        self.allow_http = QCheckBox(self)
        self.allow_http.setObjectName("settings-allow-http")
        self.http_warning = QLabel(self)
        self.http_warning.setObjectName("settings-http-warning")
        self.http_warning.setWordWrap(True)
        self.allow_http.toggled.connect(self.http_warning.setVisible)
        self.http_warning.hide()
        self.restart_note = QLabel(self)
        self.restart_note.setWordWrap(True)
        self.proxy_label = QLabel(self)
        self.proxy_label.setBuddy(self.proxy)
        self.proxy_user_label = QLabel(self)
        self.proxy_user_label.setBuddy(self.proxy_user)
        self.proxy_password_label = QLabel(self)
        self.proxy_password_label.setBuddy(self.proxy_password)
        self.ca_label = QLabel(self)
        self.ca_label.setBuddy(self.ca_bundle.edit)
        form = QFormLayout(self)
        form.addRow(self.profile_label)
        form.addRow(self.proxy_label, self.proxy)
        form.addRow("", self.proxy_error)
        form.addRow(self.proxy_user_label, self.proxy_user)
        form.addRow(self.proxy_password_label, self.proxy_password)
        form.addRow("", self.proxy_login_error)
        form.addRow(self.ca_label, self.ca_bundle)
        form.addRow(self.allow_http)
        form.addRow(self.http_warning)
        form.addRow(self.restart_note)
        self._profile = ""
        self.retranslate()

    def retranslate(self) -> None:
        self.proxy_label.setText(self.tr("&Proxy:"))
        self.proxy.setPlaceholderText(self.tr("none (e.g. http://proxy.newsroom.local:3128)"))
        self.proxy.setAccessibleName(self.tr("Proxy address"))
        self.proxy_user_label.setText(self.tr("Proxy user na&me:"))
        self.proxy_user.setPlaceholderText(self.tr("only if the proxy asks for one"))
        self.proxy_user.setAccessibleName(self.tr("Proxy user name"))
        self.proxy_password_label.setText(self.tr("Proxy pass&word:"))
        self.proxy_password.setAccessibleName(self.tr("Proxy password"))
        self._show_password_kept()
        self.ca_label.setText(self.tr("&CA bundle:"))
        self.ca_bundle.edit.setPlaceholderText(self.tr("the system's certificates"))
        self.ca_bundle.edit.setAccessibleName(self.tr("CA bundle file"))
        self.ca_bundle.browse.setAccessibleName(self.tr("Choose the CA bundle file"))
        self.ca_bundle.name_filter = self.tr("Certificates (*.pem *.crt *.cer);;All files (*)")
        self.ca_bundle.retranslate()
        self.allow_http.setText(self.tr("Allow plain HTTP (no encryption)"))
        self.http_warning.setText(
            self.tr(
                "Warning: over plain HTTP your password, your session and every file travel "
                "unencrypted; anyone on the network path can read or change them. Use it only "
                "for a hub on your own local network."
            )
        )
        self.restart_note.setText(
            self.tr("Changes to the network settings take effect the next time ALU Desk starts.")
        )
        self._retranslate_profile()

    def _retranslate_profile(self) -> None:
        if self._profile:
            self.profile_label.setText(
                self.tr("For the hub profile {name}").format(name=self._profile)
            )
        else:
            self.profile_label.setText(self.tr("Sign in to a hub to set how it is reached."))

    def load(self, loaded: Loaded) -> None:
        v = loaded.values
        self._profile = loaded.profile.name if loaded.profile else ""
        self._retranslate_profile()
        self.proxy.setText(v.proxy)
        self.proxy_user.setText(v.proxy_user)
        self.proxy_password.clear()
        self._password_kept = v.proxy_password_kept
        self._show_password_kept()
        self.ca_bundle.set_text(v.ca_bundle)
        self.allow_http.setChecked(v.allow_http)
        self.http_warning.setVisible(v.allow_http)
        for w in (self.proxy, self.proxy_user, self.proxy_password, self.ca_bundle):
            w.setEnabled(loaded.profile is not None)
        self.allow_http.setEnabled(loaded.profile is not None)

    def _show_password_kept(self) -> None:
        # the kept password is never shown: the field says it is there and stays empty
        self.proxy_password.setPlaceholderText(
            self.tr("kept in the keyring (type a new one to change it)")
            if self._password_kept
            else ""
        )

    def collect(self, v: Values) -> bool:
        proxy = self.proxy.text().strip()
        ok = True
        problem = proxy_problem(proxy)
        if problem == "password":
            self.proxy_error.show_message(
                self.tr(
                    "Give the proxy's address alone here, and its user name and password in "
                    "the fields below: they are kept in the system keyring, not with the "
                    "profile."
                )
            )
            ok = False
        elif problem:
            self.proxy_error.show_message(
                self.tr(
                    "“{text}” is not a proxy address; write it like "
                    "http://proxy.newsroom.local:3128."
                ).format(text=proxy)
            )
            ok = False
        v.proxy = proxy
        v.proxy_user = self.proxy_user.text().strip()
        v.proxy_password = self.proxy_password.text()
        v.ca_bundle = self.ca_bundle.text()
        v.allow_http = self.allow_http.isChecked()
        return ok

    def show_problem(self, code: str, detail: str) -> None:
        if code == "not_kept":
            self.proxy_login_error.show_message(
                self.tr("The proxy's user name and password could not be kept: {why}").format(
                    why=detail
                )
            )
            return
        if code == "missing":
            text = self.tr("There is no file at this path.")
        else:
            text = self.tr(
                "This file holds no certificate ALU Desk can read; a CA bundle is a PEM file "
                "(text starting with -----BEGIN CERTIFICATE-----)."
            )
        self.ca_bundle.error.show_message(text)
