"""The Library's files that are not simply here: only the proxy (the broadcast file missing),
a file damaged in place (same size and time, other bytes), one cut short or written over (on
the disk, yet recorded missing, with the reason), one the media worker could not examine; what
the Library says of them, and what it lets the user do (Download again, Show in folder with
the file selected, Open file, Delete local file's confirmation)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QObject, Qt, QTranslator, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QPushButton

from alu_client.core.library import DAMAGED, INTACT, upsert_items
from alu_client.core.library.files import check_files
from alu_client.core.services import Services
from alu_client.ui import reveal
from alu_client.ui.formats import isolated
from alu_client.ui.models import STATE_ROLE
from alu_client.ui.models.items import COL_STATE, COL_THUMB
from alu_client.ui.views.feed import FeedPanel
from alu_client.ui.views.library import LibraryPanel
from tests.client.test_library import make_item, rendition
from tests.client.test_library_files import put
from tests.gui import test_library_panel as lib_tests
from tests.gui.conftest import press_shortcut

desk, pushes, bridge, tasks, feed, library = (
    lib_tests.desk,
    lib_tests.pushes,
    lib_tests.bridge,
    lib_tests.tasks,
    lib_tests.feed,
    lib_tests.library,
)
shown_ids, select, confirm_box = lib_tests.shown_ids, lib_tests.select, lib_tests.confirm_box


def damage_in_place(path: Path) -> None:
    """Other bytes at the same size and modification time (a disk or a copy tool's damage)."""
    st = path.stat()
    path.write_bytes(os.urandom(st.st_size))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def add_item(desk: Services, tmp_path: Path, n: int, *, proxy: bool = False) -> dict[str, Path]:
    """Item ``n`` in the library with its broadcast file (and its proxy) recorded here."""
    names = ("broadcast", "proxy") if proxy else ("broadcast",)
    item = make_item(n, renditions=tuple(rendition(f"it{n:06d}", r) for r in names))
    lib = desk.library
    upsert_items(lib.store, lib.profile, [item])
    return {
        r: put(lib.store, tmp_path / "videos", n, 1000 + i, rendition=r, profile=lib.profile)
        for i, r in enumerate(names)
    }


def show(qtbot: Any, panel: LibraryPanel, n: int) -> None:
    panel.apply_filters()
    qtbot.waitUntil(lambda: f"it{n:06d}" in shown_ids(panel), timeout=10_000)
    select(qtbot, panel, shown_ids(panel).index(f"it{n:06d}"))


# --- the core: a file's bytes compared with the ones verified --------------------------------


def test_a_file_damaged_in_place_is_found_by_its_checksum_and_stays_missing(
    desk: Services, tmp_path: Path
) -> None:
    """Same size and time, other bytes: the disk check (size and time) found nothing, and
    Download again was off. ``verify_file`` reads the bytes; a damaged file is recorded missing
    (and deleted, when asked: the new download takes its name); a check of the disk never makes
    it present again, its size and time being the ones verified."""
    lib = desk.library
    path = add_item(desk, tmp_path, 1)["broadcast"]
    intact = add_item(desk, tmp_path, 2)["broadcast"]
    assert lib.verify_file("it000002", "broadcast") == INTACT
    assert lib.get("it000002").file("broadcast").present  # type: ignore[union-attr]
    assert intact.exists()

    damage_in_place(path)
    assert not check_files(lib.store, lib.profile, item_ids=["it000001"]).missing  # unseen
    assert lib.verify_file("it000001", "broadcast") == DAMAGED
    f = lib.get("it000001").file("broadcast")  # type: ignore[union-attr]
    assert f is not None and (f.state, f.reason) == ("missing", DAMAGED)
    assert path.exists()  # not asked to delete it
    lib.check_files(item_ids=["it000001"])
    assert lib.get("it000001").file("broadcast").state == "missing"  # type: ignore[union-attr]
    # asked to delete it (Download again): the damaged copy goes, the record stays missing
    # (as if found present again: only a new download does that)
    with lib.store.write() as conn:
        conn.execute("UPDATE library_files SET state = 'present', reason = ''")
    assert lib.verify_file("it000001", "broadcast", remove_damaged=True) == DAMAGED
    assert not path.exists()
    assert lib.get("it000001").file("broadcast").state == "missing"  # type: ignore[union-attr]


# --- 5. damaged in place: the Library says so, and downloads it again ------------------------


def test_a_file_damaged_in_place_is_said_damaged_and_downloaded_again(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, desk: Services, pushes: dict[str, str]
) -> None:
    """The player said "This file cannot be played here; it is still in the library" (a
    problem of this PC?), the detail kept the old probe's "Video: h264 …", and Download again
    (Ctrl+D) was greyed out: the only way out was Delete, then the Feed's Download."""
    lib_tests.download_from_feed(qtbot, feed, pushes["en"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["en"]], timeout=30_000)
    qtbot.waitUntil(
        lambda: (
            (li := desk.library.get(pushes["en"])) is not None
            and li.file("broadcast").probe is not None
        ),  # type: ignore[union-attr]
        timeout=30_000,
    )
    f = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert f is not None
    good = f.path.read_bytes()
    damage_in_place(f.path)
    library.list_action.trigger()
    select(qtbot, library, 0)
    said = library.detail.values["file"]
    qtbot.waitUntil(lambda: "seems damaged" in said.text(), timeout=20_000)
    assert "Video:" not in said.text()  # not the probe of the file as it was
    assert "Download again (Ctrl+D)" in said.text()
    qtbot.waitUntil(library.download_action.isEnabled)

    library.current_view.setFocus()
    qtbot.keyClick(library.current_view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)

    def fetched_again() -> bool:
        again = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
        return again is not None and again.present and again.verified_at != f.verified_at

    qtbot.waitUntil(fetched_again, timeout=30_000)
    again = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert again is not None and again.path == f.path  # the damaged copy gave up its name
    assert hashlib.sha256(again.path.read_bytes()).hexdigest() == again.sha256
    assert again.path.read_bytes() == good
    state = library.model.index(0, COL_STATE)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "downloaded", timeout=10_000)
    qtbot.waitUntil(lambda: "seems damaged" not in said.text(), timeout=10_000)
    assert not library.download_action.isEnabled()


def test_a_file_that_cannot_be_played_but_is_intact_is_said_so(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    """The player fails on a file whose bytes are the ones verified (a format this workstation
    cannot play): Download again checks it, keeps it, and says to open it elsewhere."""
    path = add_item(desk, tmp_path, 1)["broadcast"]
    show(qtbot, library, 1)
    assert library.player is not None and library.loaded_path == path
    library.player.error_occurred.emit("cannot")  # as the player does when it cannot open it
    qtbot.waitUntil(library.download_action.isEnabled)
    assert "seems damaged" in library.detail.values["file"].text()
    with qtbot.waitSignal(library.command_failed, timeout=10_000) as said:
        library.download_action.trigger()
    assert "its checksum matches" in said.args[0] and "Open file" in said.args[0]
    assert path.exists()
    assert "cannot be played here" in library.detail.values["file"].text()
    assert not library.download_action.isEnabled()


# --- 4. the broadcast file missing, the proxy here ------------------------------------------


def test_the_proxy_alone_is_said_on_the_card_and_when_copied(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    """The card, the State column and the screen reader said "Downloaded", and Copy to…
    copied the proxy and said "Copied 1 file" (for a playout folder)."""
    files = add_item(desk, tmp_path, 1, proxy=True)
    broadcast = files["broadcast"]
    broadcast.write_bytes(broadcast.read_bytes()[:500])  # cut short
    show(qtbot, library, 1)
    state = library.model.index(0, COL_STATE)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "proxy", timeout=10_000)
    assert state.data() == "Proxy only"
    card = library.model.index(0, COL_THUMB)
    assert card.data(Qt.ItemDataRole.AccessibleTextRole) == "Item number 1, Proxy only"
    assert "low-resolution proxy" in card.data(Qt.ItemDataRole.ToolTipRole)
    assert library.download_action.isEnabled()

    playout = tmp_path / "playout"
    playout.mkdir()
    with qtbot.waitSignal(library.copied, timeout=10_000):
        library.copy_selected_to(playout)
    text = library.message.text()
    assert text.startswith(f"Copied 1 file to {isolated(playout)}")
    assert "low-resolution proxy" in text and files["proxy"].name in text


# --- 6. on the disk, yet recorded missing: the reason, and Show in folder ---------------------


class Revealed:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, Any]] = []
        monkeypatch.setattr(reveal, "reveal", self.reveal)
        monkeypatch.setattr(reveal, "open_file", self.open_file)

    def reveal(self, path: Path, _parent: QObject, *, exists: bool = True) -> None:
        self.calls.append(("reveal", (path, exists)))

    def open_file(self, path: Path) -> bool:
        self.calls.append(("open", path))
        return True


def test_a_file_cut_short_says_why_and_can_be_shown_in_its_folder(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """ "File missing" for a file in its folder, the reason recorded never shown, and Show in
    folder greyed out: the user found 001.mp4 right there."""
    path = add_item(desk, tmp_path, 1)["broadcast"]
    path.write_bytes(path.read_bytes()[:400])
    revealed = Revealed(monkeypatch)
    show(qtbot, library, 1)
    state = library.model.index(0, COL_STATE)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "missing", timeout=10_000)
    reason = "its size changed from 1,000 to 400 bytes since it was verified"
    renditions = library.detail.values["renditions"].text()
    assert "file changed" in renditions and "file missing" not in renditions
    file_text = library.detail.values["file"].text()
    assert f"{isolated(path.name)} — file changed: {reason}" in file_text
    assert reason in state.data(Qt.ItemDataRole.ToolTipRole)
    assert library.show_folder_action.isEnabled()
    library.show_folder_action.trigger()
    qtbot.waitUntil(lambda: revealed.calls == [("reveal", (path, True))], timeout=10_000)

    # gone altogether: its folder is opened
    path.unlink()
    library.show_folder_action.trigger()
    qtbot.waitUntil(lambda: revealed.calls[-1] == ("reveal", (path, False)), timeout=10_000)


def test_the_reason_is_said_in_the_users_words(qapp: QApplication, tmp_path: Path) -> None:
    """The core's reason (English, plain integers) in the user's language and digits."""
    from alu_client.ui.file_reasons import gone, reason_text
    from alu_client.ui.formats import count_text

    reason = "its size changed from 1000 to 400 bytes since it was verified"
    assert (
        reason_text(reason)
        == f"its size changed from {count_text(1000)} to 400 bytes since it was verified"
    )
    assert reason_text("no template") == "no template"
    assert not gone(reason) and not gone(DAMAGED)
    assert gone("the file is not there any more (moved or deleted outside ALU Desk)")
    # (the catalogues are made by the integrator: a translation stands in for them here)
    translator = QTranslator()
    assert translator.load(str(_catalogue(tmp_path, "LibraryFileReason", {
        "its size changed from %1 to %2 bytes since it was verified":
            "sa taille est passée de %1 à %2 octets depuis sa vérification",
    })))  # fmt: skip
    qapp.installTranslator(translator)
    try:
        assert reason_text(reason) == (
            f"sa taille est passée de {count_text(1000)} à {count_text(400)} octets depuis sa "
            "vérification"
        )
    finally:
        qapp.removeTranslator(translator)


# --- 9. could not be examined: Download again is on ------------------------------------------


def test_a_file_that_could_not_be_examined_can_be_downloaded_again(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    """The detail said "… download it again (Ctrl+D)" while Ctrl+D was greyed out, and a
    reason without a full stop ran into the next sentence."""
    add_item(desk, tmp_path, 1)
    with desk.library.store.write() as conn:
        conn.execute(
            "UPDATE library_files SET probe = NULL,"
            " probe_error = 'Invalid data found when processing input'"
        )
    show(qtbot, library, 1)
    said = library.detail.values["file"].text()
    assert f"{isolated('Invalid data found when processing input.')} It may be damaged" in said
    assert "Download again (Ctrl+D)" in said
    assert library.download_action.isEnabled()


# --- 10. the delete confirmation ------------------------------------------------------------


def _catalogue(folder: Path, context: str, texts: dict[str, Any]) -> Path:
    """A compiled catalogue of ``texts`` (source → translation, or a list of plural forms)."""
    from alu_client.ui.i18n import qt_tool

    messages = []
    for source, said in texts.items():
        if isinstance(said, list):
            forms = "".join(f"<numerusform>{f}</numerusform>" for f in said)
            messages.append(
                f'<message numerus="yes"><source>{source}</source>'
                f"<translation>{forms}</translation></message>"
            )
        else:
            messages.append(
                f"<message><source>{source}</source><translation>{said}</translation></message>"
            )
    ts = folder / f"{context}.ts"
    ts.write_text(
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE TS><TS version="2.1" language="en">'
        f"<context><name>{context}</name>{''.join(messages)}</context></TS>",
        encoding="utf-8",
    )
    qm = ts.with_suffix(".qm")
    subprocess.run([str(qt_tool("lrelease")), str(ts), "-qm", str(qm)], check=True)
    return qm


def test_the_delete_confirmation_says_the_item_stays_in_the_feed_one_or_many(
    qtbot: Any, qapp: QApplication, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    """ "The items stay in the library": the item leaves the Library tab (it is in the Feed),
    and it was said in the plural of one item, in every language."""
    add_item(desk, tmp_path, 1)
    add_item(desk, tmp_path, 2)
    source = "The %Ln items stay in the Feed and can be downloaded again there."
    translator = QTranslator()
    assert translator.load(str(_catalogue(tmp_path, "LibraryPanel", {source: [
        "The item stays in the Feed and can be downloaded again there.", source,
    ]})))  # fmt: skip
    qapp.installTranslator(translator)
    try:
        show(qtbot, library, 1)
        library.delete_action.trigger()
        box = confirm_box(qtbot, library)
        assert box.informativeText() == (
            "The item stays in the Feed and can be downloaded again there."
        )
        qtbot.mouseClick(box.findChild(QPushButton, "confirm-delete-no"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not box.isVisible())
        library.current_view.selectAll()
        qtbot.waitUntil(lambda: len(library.selected_items()) == 2)
        library.delete_action.trigger()
        qtbot.waitUntil(lambda: (b := confirm_box(qtbot, library)) is not box and b.isVisible())
        assert confirm_box(qtbot, library).informativeText() == source.replace("%Ln", "2")
    finally:
        qapp.removeTranslator(translator)
    assert QCoreApplication.translate("LibraryPanel", source, "", 2) == source.replace("%Ln", "2")


# --- 13. Show in folder selects the file; Open file ------------------------------------------


def test_show_in_folder_selects_the_file_where_the_system_can(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "a b" / "020.mp4"
    assert reveal.reveal_command(path, "win32") == (
        "explorer.exe",
        ["/select,", str(path).replace("/", "\\")],
    )
    assert reveal.reveal_command(path, "darwin") == ("open", ["-R", str(path)])
    assert reveal.reveal_command(path, "linux") is None
    started: list[tuple[str, list[str]]] = []
    opened: list[Path] = []
    asked: list[Path] = []
    monkeypatch.setattr(reveal, "start_detached", lambda p, a: started.append((p, a)) or True)
    monkeypatch.setattr(reveal, "open_folder", lambda f: opened.append(f) or True)
    monkeypatch.setattr(reveal, "show_items_dbus", lambda p, _parent: asked.append(p) or True)
    parent = QObject()
    reveal.reveal(path, parent, platform="darwin")
    assert started == [("open", ["-R", str(path)])] and not opened
    reveal.reveal(path, parent, platform="linux")
    assert asked == [path] and not opened  # the file manager's D-Bus ShowItems
    monkeypatch.setattr(reveal, "show_items_dbus", lambda _p, _parent: False)  # no session bus
    reveal.reveal(path, parent, platform="linux")
    assert opened == [path.parent]
    reveal.reveal(path, parent, exists=False, platform="darwin")  # not there: its folder
    assert opened == [path.parent] * 2 and len(started) == 1


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_file_opens_it_with_the_systems_application(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    path = add_item(desk, tmp_path, 1)["broadcast"]
    show(qtbot, library, 1)
    assert library.open_file_action.isEnabled()
    assert library.open_file_action in library.grid.actions()
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")  # type: ignore[arg-type]
    try:
        library.detail.setFocus()
        qtbot.waitUntil(library.detail.hasFocus)
        press_shortcut(qtbot, library.detail, Qt.Key.Key_Return, shift=True)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in catcher.urls] == [path]
