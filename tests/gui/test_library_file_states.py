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
    # verify_file never deletes: Download again sets it aside only once it is found damaged
    assert lib.verify_file("it000001", "broadcast") == DAMAGED
    assert path.exists()
    assert lib.get("it000001").file("broadcast").state == "missing"  # type: ignore[union-attr]


def test_a_damaged_file_is_set_aside_and_put_back_never_deleted_by_the_check(
    desk: Services, tmp_path: Path
) -> None:
    """Download again deleted the damaged file before it knew a new copy could be fetched.
    Now it is set aside under a name of its own (its name free for the new download: no
    "NAME (2)"), and put back, still damaged, when the download is refused."""
    lib = desk.library
    path = add_item(desk, tmp_path, 1)["broadcast"]
    damage_in_place(path)
    bad = path.read_bytes()
    assert lib.verify_file("it000001", "broadcast") == DAMAGED
    aside = lib.set_aside_damaged("it000001", "broadcast")
    assert aside is not None and aside[0] == path and not path.exists()
    assert aside[1].parent == path.parent and aside[1].read_bytes() == bad
    lib.check_files(item_ids=["it000001"])  # (the download looks at the disk first)
    assert lib.put_back("it000001", "broadcast", *aside)
    assert path.read_bytes() == bad and not aside[1].exists()
    f = lib.get("it000001").file("broadcast")  # type: ignore[union-attr]
    assert f is not None and (f.state, f.reason) == ("missing", DAMAGED)
    lib.check_files(item_ids=["it000001"])  # same size and time: still damaged, not present
    f = lib.get("it000001").file("broadcast")  # type: ignore[union-attr]
    assert f is not None and (f.state, f.reason) == ("missing", DAMAGED)


def test_a_damaged_file_without_a_recorded_time_is_never_set_aside(
    desk: Services, tmp_path: Path
) -> None:
    """A record made before the time was kept: the size alone cannot tell the damaged file
    from another workstation's good copy put at its name while it was read; it stays."""
    lib = desk.library
    path = add_item(desk, tmp_path, 1)["broadcast"]
    with lib.store.write() as conn:
        conn.execute("UPDATE library_files SET mtime_ns = NULL")
    damage_in_place(path)
    assert lib.verify_file("it000001", "broadcast") == DAMAGED
    assert lib.set_aside_damaged("it000001", "broadcast") is None
    assert path.exists()


def test_a_file_replaced_while_it_was_read_is_not_called_damaged(
    desk: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another workstation's verified copy renamed into place while this one read the file:
    the bytes read were the old file's; the one there now is not damaged (another time)."""
    from alu_client.core.library import files as files_mod

    lib = desk.library
    path = add_item(desk, tmp_path, 1)["broadcast"]
    damage_in_place(path)
    real = files_mod._sha256_of

    def read_then_replaced(p: Path, stop: Any = None) -> Any:
        out = real(p, stop)
        new = p.with_name(p.name + ".part")
        new.write_bytes(bytes([1]) * 1000)
        st = p.stat()
        os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
        os.replace(new, p)
        return out

    monkeypatch.setattr(files_mod, "_sha256_of", read_then_replaced)
    reason = lib.verify_file("it000001", "broadcast")
    assert reason != DAMAGED and reason != INTACT
    assert lib.set_aside_damaged("it000001", "broadcast") is None
    assert path.read_bytes() == bytes([1]) * 1000


def test_damaged_clears_when_the_file_goes_or_is_put_back_right(
    desk: Services, tmp_path: Path
) -> None:
    """A file once found damaged stayed "damaged" whatever happened to it."""
    lib = desk.library
    path = add_item(desk, tmp_path, 1)["broadcast"]
    good = path.read_bytes()
    st = path.stat()
    damage_in_place(path)
    assert lib.verify_file("it000001", "broadcast") == DAMAGED
    path.unlink()
    lib.check_files(item_ids=["it000001"])
    f = lib.get("it000001").file("broadcast")  # type: ignore[union-attr]
    assert f is not None and f.state == "missing" and f.reason != DAMAGED
    assert "not there" in f.reason
    path.write_bytes(good)  # a good copy put back (a backup keeps the time)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert lib.verify_file("it000001", "broadcast") == INTACT
    assert lib.get("it000001").file("broadcast").present  # type: ignore[union-attr]


def test_a_check_stops_between_two_reads(desk: Services, tmp_path: Path) -> None:
    """At the app's end the check stops instead of reading on (2 GB on a share: minutes)."""
    import threading

    from alu_client.core.library import VerifyStopped

    lib = desk.library
    add_item(desk, tmp_path, 1)
    stop = threading.Event()
    stop.set()
    with pytest.raises(VerifyStopped):
        lib.verify_file("it000001", "broadcast", stop=stop)
    assert lib.get("it000001").file("broadcast").present  # type: ignore[union-attr]


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

    qtbot.waitUntil(lambda: "was damaged" in library.message.text(), timeout=20_000)
    assert "it was deleted" in library.message.text()
    qtbot.waitUntil(fetched_again, timeout=30_000)
    again = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert again is not None and again.path == f.path  # the damaged copy gave up its name
    assert [p.name for p in f.path.parent.iterdir() if "damaged" in p.name] == []
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
    failures: list[str] = []
    library.command_failed.connect(failures.append)
    library.download_action.trigger()
    qtbot.waitUntil(lambda: "its checksum matches" in library.message.text(), timeout=10_000)
    assert "Open file" in library.message.text()
    assert failures == []  # not a failure: the panel's own note
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


def test_the_reasons_a_delete_stores_are_said_in_the_users_words_and_not_missing(
    qapp: QApplication, tmp_path: Path
) -> None:
    """Delete local file and retention store their own words for a file left in place: no
    template matched them, so they stayed English, and the Library said "file missing" of a
    file on the disk (with another size)."""
    from alu_client.core.library.files import delete_recorded
    from alu_client.ui.file_reasons import gone, reason_text
    from alu_client.ui.formats import count_text

    path = tmp_path / "a.mp4"
    path.write_bytes(b"x" * 1500)
    _outcome, _n, sized = delete_recorded(path, 1000)
    folder = tmp_path / "folder"
    folder.mkdir()
    _outcome, _n, other = delete_recorded(folder, 1000)
    assert not gone(sized) and not gone(other)
    translator = QTranslator()
    assert translator.load(str(_catalogue(tmp_path, "LibraryFileReason", {
        "its size changed from %1 to %2 bytes since it was downloaded":
            "sa taille est passée de %1 à %2 octets depuis son téléchargement",
        "something else than the downloaded file is at its place":
            "autre chose que le fichier téléchargé est à sa place",
    })))  # fmt: skip
    qapp.installTranslator(translator)
    try:
        assert reason_text(sized) == (
            f"sa taille est passée de {count_text(1000)} à {count_text(1500)} octets depuis son "
            "téléchargement"
        )
        assert reason_text(other) == "autre chose que le fichier téléchargé est à sa place"
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


# --- Download again when no new copy can be fetched; its check beside the commands ----------


def test_download_again_keeps_the_damaged_file_when_nothing_can_be_queued(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    """The download folder is a share that is away: Download again deleted the damaged file
    (the only copy, perhaps mostly playable elsewhere) and then could not queue anything."""
    from alu_client.core.settings import AppSettings

    path = add_item(desk, tmp_path, 1)["broadcast"]
    damage_in_place(path)
    bad = path.read_bytes()
    with desk.library.store.write() as conn:
        conn.execute("UPDATE library_files SET probe = NULL, probe_error = 'Invalid data'")
    share = tmp_path / "share"
    share.mkdir()
    AppSettings(desk.store, desk.paths.downloads_dir).download_dir = share
    share.rmdir()  # away today
    failures: list[str] = []
    library.command_failed.connect(failures.append)
    show(qtbot, library, 1)
    qtbot.waitUntil(library.download_action.isEnabled)
    library.download_action.trigger()
    qtbot.waitUntil(lambda: bool(failures), timeout=20_000)
    assert "Could not download" in failures[0]
    assert path.read_bytes() == bad  # kept, at its place
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    f = desk.library.get("it000001").file("broadcast")  # type: ignore[union-attr]
    assert f is not None and (f.state, f.reason) == ("missing", DAMAGED)


def test_download_agains_check_does_not_hold_up_the_commands(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path, monkeypatch: Any
) -> None:
    """The checksum ran on the commands' runner: a Pause given meanwhile waited behind a
    2 GB read, and at Quit it was dropped. It runs on its own runner now, and stops at the
    app's end (``stop_background``)."""
    import threading

    from alu_client.core.library import files as files_mod

    path = add_item(desk, tmp_path, 1)["broadcast"]
    with desk.library.store.write() as conn:
        conn.execute("UPDATE library_files SET probe = NULL, probe_error = 'Invalid data'")
    reading, release = threading.Event(), threading.Event()
    real = files_mod._sha256_of

    def slow(p: Path, stop: Any = None) -> Any:
        reading.set()
        while not release.is_set() and not (stop is not None and stop.is_set()):
            release.wait(0.01)  # (a long read, polled as the real one is between reads)
        return real(p, stop)

    monkeypatch.setattr(files_mod, "_sha256_of", slow)
    show(qtbot, library, 1)
    qtbot.waitUntil(library.download_action.isEnabled)
    library.download_action.trigger()
    qtbot.waitUntil(reading.is_set, timeout=10_000)
    ran: list[bool] = []
    library.tasks.run(lambda: True, ran.append)  # a command (Pause) given meanwhile
    qtbot.waitUntil(lambda: ran == [True], timeout=5_000)
    library.stop_background()  # the app's end: the check stops, the file stays
    assert library._verify_tasks.wait_for_done(5_000)
    assert path.exists()
    assert desk.library.get("it000001").file("broadcast").present  # type: ignore[union-attr]
