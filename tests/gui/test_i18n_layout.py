"""Arabic and French on screen (a tester's review by screenshots): a selectable line laid out in
the app's direction, the summaries' separator, keys left to right in tooltips and menus, the
channel count as a plural form, one clock for lengths, the About heading's side, country names,
the limit's examples in the language's units, and the key names the app shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, Qt, QTranslator
from PySide6.QtGui import QAction, QImage, QKeySequence, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMenu

from alu_client.core.library import LibraryFile, LibraryItem
from alu_client.core.media import Probe
from alu_client.ui import formats
from alu_client.ui.i18n import install_translators
from alu_client.ui.key_names import KEY_NAMES
from alu_client.ui.main_window import about_text
from alu_client.ui.menu_keys import MenuKeysStyle, isolated_keys
from alu_client.ui.statusbar import Activity, ShellActions, StatusBar
from alu_client.ui.views.item_detail import ItemDetail
from alu_client.ui.views.settings_fields import rate_text, read_rate
from alu_client.ui.views.transfers import TransfersPanel
from alu_client.ui.views.upload_form import UploadEntry, UploadForm
from alu_client.ui.widgets.label import SelectableLabel
from tests.gui.test_feed_model import make_item
from tests.gui.test_i18n import drawn_at

ROOT = Path(__file__).resolve().parents[2]
LRI, FSI, PDI = "\u2066", "\u2068", "\u2069"
RTL, LTR = Qt.LayoutDirection.RightToLeft, Qt.LayoutDirection.LeftToRight


class StandIn(QTranslator):
    """A catalogue made in the test: ``{(context, source): text}``, or for a count
    ``{(context, source): (one, other)}`` (French's two forms); None elsewhere (the installed
    catalogues answer). ``asked`` keeps the counts each source was asked with."""

    def __init__(self, texts: dict[tuple[str, str], Any]) -> None:
        super().__init__()
        self.texts = texts
        self.asked: dict[str, list[int]] = {}

    def translate(
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        found = self.texts.get((context, source))
        if found is None:
            return None
        if isinstance(found, tuple):
            self.asked.setdefault(source, []).append(n)
            return found[0] if n == 1 else found[1]
        return str(found)


def with_stand_in(qapp: QApplication, texts: dict[tuple[str, str], Any]) -> StandIn:
    stand_in = StandIn(texts)
    qapp.installTranslator(stand_in)  # asked before the others (installed last)
    return stand_in


def first_line_direction(label: QLabel) -> Qt.LayoutDirection:
    """The direction Qt lays the label's first paragraph out in (a selectable label)."""
    doc = label.findChild(QTextDocument)
    assert doc is not None
    return doc.firstBlock().textDirection()


def grabbed(label: QLabel) -> QImage:
    label.resize(420, 40)
    label.show()
    QApplication.processEvents()
    return label.grab().toImage()


# --- 1. a selectable line in the app's direction ------------------------------------------------


def probed(path: Path) -> UploadEntry:
    probe = Probe(1.0, "mp4", "h264", 320, 180, 25.0, "aac", 2, 48_000)
    return UploadEntry(path=path, values={}, probe=probe, inspected=True)


def test_the_upload_forms_line_reads_in_the_apps_direction_whatever_the_name(
    qtbot: Any, qapp: QApplication
) -> None:
    """In Arabic the line under the thumbnail was laid out left to right when the file's name
    was Latin ("ok.mp4 · المدة ١ ث · …", the parts in the reverse order), while the same
    sentence in a plain label, and the line of an Arabic-named file, read right to left."""
    install_translators(qapp, "ar")
    form = UploadForm()
    qtbot.addWidget(form)
    form.show()
    form.show_media(probed(Path("/footage/C0001.MP4")))
    assert form.info.text().startswith(formats.isolated("C0001.MP4"))
    assert first_line_direction(form.info) == RTL
    form.show_media(probed(Path("/footage/تقرير_Nairobi.mp4")))
    assert first_line_direction(form.info) == RTL
    # drawn as a plain label draws it (which skips the isolate): the tester's pixel check
    text = formats.isolated("empty-clip.mp4") + " فارغ (٠ بايت)."
    selectable, plain = SelectableLabel(), QLabel()
    for label in (selectable, plain):
        qtbot.addWidget(label)
        label.setText(text)
    assert grabbed(selectable) == grabbed(plain)
    # an English line stays left to right under an Arabic name
    install_translators(qapp, "en")
    qtbot.waitUntil(lambda: not form.isRightToLeft())
    form.show_media(probed(Path("/footage/تقرير.mp4")))
    assert first_line_direction(form.info) == LTR


def test_the_details_values_sit_beside_their_labels_in_arabic(
    qtbot: Any, qapp: QApplication
) -> None:
    """Selectable values took their own first letter's direction: "027.mp4", "health",
    "East Africa" sat at the far left of the Arabic detail, 400 px from their labels; the
    agency's words keep their own order inside the line (isolated)."""
    install_translators(qapp, "ar")
    detail = ItemDetail()
    qtbot.addWidget(detail)
    detail.resize(500, 700)
    detail.show()
    detail.set_item(
        LibraryItem(make_item(1, slug="SUDAN-AID (UPDATE)", country="SD"), 1, 0.0, None, True)
    )
    for key in ("slug", "dateline", "category", "region", "country", "priority"):
        value = detail.values[key]
        assert first_line_direction(value) == RTL, key
    assert detail.values["slug"].text() == formats.isolated("SUDAN-AID (UPDATE)")
    assert detail.values["region"].text() == formats.isolated("East Africa")  # the hub's words
    # Arabic's name of the country where Qt has it, the code where it has none
    assert detail.values["country"].text() == formats.isolated("السودان")
    detail.set_item(LibraryItem(make_item(2, country="KE"), 1, 0.0, None, True))
    assert detail.values["country"].text() == formats.isolated("KE")


# --- 3. the separator of a summary ---------------------------------------------------------------


def test_summaries_are_joined_by_the_languages_separator(qtbot: Any, qapp: QApplication) -> None:
    """In Arabic the middle dot between the parts of the status bar, the upload form's line and
    the tray's tooltip is drawn like the Arabic-Indic zero: "↓ ٠  ↑ ٠  ·  الجارية: ٠" read as
    a row of zeros. One separator, the catalogue's, for all of them."""
    assert formats.joined(["Online", "", "2 active"]) == "Online · 2 active"
    install_translators(qapp, "ar")
    stand_in = with_stand_in(qapp, {("Formats", " · "): "، "})
    try:
        assert formats.joined(["أ", "ب"]) == "أ، ب"
        bar = StatusBar()
        qtbot.addWidget(bar)
        bar.set_activity(Activity(0, 0, 0, 0))
        assert "، " in bar.activity_label.text() and "·" not in bar.activity_label.text()
        bar.set_activity(Activity(0, 0, 0, 0, problem="The disk is full."))
        assert "، " in bar.connection.text() and "·" not in bar.connection.text()
        form = UploadForm()
        qtbot.addWidget(form)
        form.show_media(probed(Path("/footage/ok.mp4")))
        assert "، " in form.info.text() and "·" not in form.info.text()
    finally:
        qapp.removeTranslator(stand_in)


def test_no_summary_is_joined_by_a_dot_of_its_own() -> None:
    """Every " · " the UI puts between parts comes from ``formats.joined`` (translatable):
    the status bar, the upload form and the tray each had their own."""
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "src/alu_client/ui").rglob("*.py"))
        if path.name != "formats.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "·" in line and not line.lstrip().startswith(("#", '"""'))
    ]
    assert found == []


# --- 4. keys left to right ---------------------------------------------------------------------


def test_keys_read_left_to_right_in_an_arabic_tooltip(qtbot: Any, qapp: QApplication) -> None:
    """The Settings button's tooltip read "(,+Ctrl) المجلدات والحدود…": a comma at the end of
    the keys is a neutral and went to the other end of the right-to-left line."""
    assert formats.keys_text(QKeySequence("Ctrl+,")) == f"{LRI}Ctrl+,{PDI}"
    assert formats.keys_text(QKeySequence()) == ""
    install_translators(qapp, "ar")
    window = QMainWindow()
    qtbot.addWidget(window)
    actions = ShellActions(window)
    actions.build_menus(window.menuBar())
    actions.retranslate()
    tip = actions.settings.toolTip()
    assert tip.endswith(f"({LRI}Ctrl+,{PDI})")
    ctrl, comma = tip.index("Ctrl"), tip.rindex(",")
    assert drawn_at(tip, ctrl, 4, rtl=True) < drawn_at(tip, comma, 1, rtl=True)


def menu_with(text: str, keys: str = "") -> QImage:
    menu = QMenu()
    action = QAction(text, menu)
    if keys:
        action.setShortcut(QKeySequence(keys))
    menu.addAction(action)
    menu.show()
    QApplication.processEvents()
    image = menu.grab().toImage()
    menu.close()
    menu.deleteLater()
    return image


def test_a_menus_keys_read_left_to_right_in_arabic(qapp: QApplication) -> None:
    """Tools › Settings showed its keys as ",+Ctrl": Qt draws a menu's keys in the menu's
    direction. In a right-to-left layout the app's style puts them in an isolate."""
    assert isolated_keys("Settings…\tCtrl+,") == f"Settings…\t{LRI}Ctrl+,{PDI}"
    assert isolated_keys("Settings…") == "Settings…"
    assert not isinstance(qapp.style(), MenuKeysStyle)  # left to right: Qt's own style
    install_translators(qapp, "ar")
    assert isinstance(qapp.style(), MenuKeysStyle)
    settings = "الإعدادات…"
    # drawn as the keys isolated by hand are (Qt draws the text after a tab as it is)
    assert menu_with(settings, "Ctrl+,") == menu_with(f"{settings}\t{LRI}Ctrl+,{PDI}")
    install_translators(qapp, "en")
    assert not isinstance(qapp.style(), MenuKeysStyle)


# --- 6. a count of channels --------------------------------------------------------------------


def detail_with_sound(qtbot: Any, tmp_path: Path, channels: int) -> ItemDetail:
    probe = {"video_codec": "h264", "width": 640, "height": 360, "fps": 25.0,
             "audio_codec": "aac", "channels": channels, "sample_rate": 48_000,
             "duration": 3.0}  # fmt: skip
    f = LibraryFile(
        id=1, profile="main", item_id="it000001", rendition="broadcast",
        path=tmp_path / "clip.mp4", size=10, sha256="ab" * 32, verified_at=0.0,
        state="present", reason="", checked_at=None, transfer_id=None, probe=probe,
        probe_error="", thumbnail="",
    )  # fmt: skip
    detail = ItemDetail(show_file=True)
    qtbot.addWidget(detail)
    detail.set_item(LibraryItem(make_item(1), 1, 0.0, None, True, files=(f,)))
    return detail


def audio_line(detail: ItemDetail) -> str:
    """The Audio line as it reads (without the isolates around its parts)."""
    lines = detail.values["file"].text().split("\n")
    return formats.without_marks(next(line for line in lines if "aac" in line))


def test_a_clips_channels_are_a_count_with_plural_forms(
    qtbot: Any, qapp: QApplication, tmp_path: Path
) -> None:
    """The channels were one sentence "{channels} ch", translated "{channels} canaux" and
    "{channels} قنوات": a mono clip read "1 canaux", a stereo one "٢ قنوات" (Arabic says
    قناتان). Now a count the catalogue gives each plural form of."""
    install_translators(qapp, "fr")
    stand_in = with_stand_in(qapp, {("ItemDetail", "%Ln channels"): ("%Ln canal", "%Ln canaux")})
    try:
        assert audio_line(detail_with_sound(qtbot, tmp_path, 1)).endswith(
            "aac, 1 canal, 48\u202f000 Hz"
        )
        assert "aac, 2 canaux, " in audio_line(detail_with_sound(qtbot, tmp_path, 2))
        assert stand_in.asked["%Ln channels"] == [1, 2]  # asked with the count
        assert "canal" not in audio_line(detail_with_sound(qtbot, tmp_path, 0))  # unknown
    finally:
        qapp.removeTranslator(stand_in)


# --- the parts of the Video and Audio lines ---------------------------------------------------


def file_line(detail: ItemDetail, has: str) -> str:
    return next(line for line in detail.values["file"].text().split("\n") if has in line)


def tr(source: str, n: int = -1) -> str:
    return QCoreApplication.translate("ItemDetail", source, None, n)


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_each_detail_of_a_clip_stays_whole_and_in_its_place(
    qtbot: Any, qapp: QApplication, tmp_path: Path, lang: str
) -> None:
    """Review (i18n) finding 5: in Arabic with Latin digits (ar_MA, or LANG=C), the line
    "الفيديو: h264 320×180 25 إطار/ث" (parts joined by spaces) drew "h264 320×180 25" as one
    left-to-right run: the 25 sat beside "الفيديو:" and its unit at the far end beside h264.
    Each part is now isolated and the parts joined by the language's separator, as in the
    Audio line: every part drawn whole, in the sentence's order, in both directions."""
    install_translators(qapp, lang)
    if lang == "ar":
        QLocale.setDefault(QLocale("ar_MA"))  # Arabic words, Latin digits (reset after)
    loc = QLocale()
    detail = detail_with_sound(qtbot, tmp_path, 2)
    between = tr(", ")
    fps = tr("{fps} fps").format(fps=loc.toString(25.0, "g", 4))
    video = file_line(detail, "h264")
    expected = between.join(
        [formats.isolated("h264"), formats.frame_size(640, 360), formats.isolated(fps)]
    )
    assert video == tr("Video: {video}").format(video=expected)
    audio = file_line(detail, "aac")
    sound = [
        "aac",
        tr("%Ln channels", 2),
        tr("{rate} Hz").format(rate=loc.toString(48_000)),
    ]
    assert audio == tr("Audio: {audio}").format(
        audio=between.join(formats.isolated(x) for x in sound)
    )
    # drawn: each part after the one before it in the line's direction, the number of
    # "25 fps" (25 إطار/ث) beside its own unit, nothing between them
    rtl = lang == "ar"
    for line, parts in ((video, ["h264", loc.toString(640), fps]), (audio, sound)):
        starts = [line.index(part) for part in parts]
        xs = [
            drawn_at(line, at, len(part), rtl=rtl) for at, part in zip(starts, parts, strict=True)
        ]
        assert xs == sorted(xs, reverse=rtl), (line, xs)
    number, unit = loc.toString(25.0, "g", 4), fps.replace(loc.toString(25.0, "g", 4), "").strip()
    at = video.index(fps)
    n_x = drawn_at(video, at + fps.index(number), len(number), rtl=rtl)
    u_x = drawn_at(video, at + fps.index(unit), len(unit), rtl=rtl)
    h_x = drawn_at(video, video.index("h264"), 4, rtl=rtl)
    if rtl:  # read right to left: h264 …, then 25, then its unit, at the far left
        assert h_x > n_x > u_x, (video, h_x, n_x, u_x)
    else:
        assert h_x < n_x < u_x, (video, h_x, n_x, u_x)


# --- 9. the About box's heading -----------------------------------------------------------------


def block_directions(html: str) -> list[Qt.LayoutDirection]:
    doc = QTextDocument()
    doc.setHtml(html)
    found, block = [], doc.begin()
    while block.isValid():
        found.append(block.textDirection())
        block = block.next()
    return found


def test_the_about_heading_is_on_the_side_of_its_text(qapp: QApplication) -> None:
    """In Arabic the heading "ALU Desk 0.1.0" was at the left edge, its paragraph right
    aligned: each took the direction of its first letter."""
    install_translators(qapp, "ar")
    assert block_directions(about_text(True)) == [RTL, RTL]
    install_translators(qapp, "en")
    assert block_directions(about_text(False)) == [LTR, LTR]


# --- 5. country names, the limit's examples ------------------------------------------------------


def test_countries_are_named_in_the_users_language_where_qt_can(qapp: QApplication) -> None:
    assert formats.country_name("SD") == "Sudan"
    assert formats.country_name("ke") == "Kenya"
    assert formats.country_name("XX") == "XX"
    assert formats.country_name("") == ""
    install_translators(qapp, "fr")
    assert formats.country_name("SN") == "Sénégal"
    assert formats.country_name("KE") == "KE"  # Qt has no French name for it
    install_translators(qapp, "ar")
    assert formats.country_name("SD") == "السودان"
    assert formats.country_name("GH") == "GH"  # not an English word in an Arabic screen


def test_the_limits_examples_are_written_as_the_app_writes_speeds(
    qtbot: Any, qapp: QApplication, tmp_path: Path
) -> None:
    """The Arabic limit fields' hint said "2M أو 500 kbit/s": units in English where the app
    writes كيلوبت/ث. The examples are speeds as the app writes them, which it reads back."""
    from alu_client.ui.views.settings_transfers import TransfersPage

    install_translators(qapp, "ar")
    page = TransfersPage()
    qtbot.addWidget(page)
    hint = page.limit_down.edit.placeholderText()
    assert "kbit/s" not in hint and "2M" not in hint
    assert formats.isolated(rate_text(62_500)) in hint  # ٥٠٠ كيلوبت/ث
    assert formats.isolated(rate_text(250_000)) in hint
    assert read_rate(rate_text(62_500)) == 62_500
    assert read_rate(rate_text(250_000)) == 250_000


# --- 11. the names of keys ---------------------------------------------------------------------

MODIFIERS = {"Ctrl", "Shift", "Alt", "Meta"}


def named_keys(keys: QKeySequence) -> set[str]:
    """The keys of a shortcut named by a word (not a character, a modifier or F1…F35)."""
    text = keys.toString(QKeySequence.SequenceFormat.PortableText)
    parts = set(re.split(r"(?<=.)\+", text)) if text else set()
    return {p for p in parts if len(p) > 1 and p not in MODIFIERS and not re.fullmatch(r"F\d+", p)}


def test_the_app_carries_a_name_for_every_key_its_shortcuts_show(
    qtbot: Any, qapp: QApplication, panel: TransfersPanel
) -> None:
    """Qt's Arabic catalogue names the arrows and not Home, End, Del or Space: "Ctrl+الأعلى"
    beside "(Del)" and "(Space)". The app's catalogue has an entry (context QShortcut, asked
    before Qt's) for every key its shortcuts name, so each language names them all."""
    window = QMainWindow()
    qtbot.addWidget(window)
    actions = ShellActions(window)
    actions.build_menus(window.menuBar())
    found: set[str] = set()
    for owner in (window, panel):
        for action in owner.findChildren(QAction):
            found |= named_keys(action.shortcut())
    # the Feed's Preview and the Library's Delete (panels that need a hub): their keys
    found |= named_keys(QKeySequence("Space"))
    found |= named_keys(QKeySequence(QKeySequence.StandardKey.Delete))
    assert found >= {"Del", "Up", "Down", "Home", "End", "Space"}
    assert found <= set(KEY_NAMES)
    # the app's catalogue is asked before Qt's: an entry there names the key
    install_translators(qapp, "ar")
    stand_in = with_stand_in(qapp, {("QShortcut", "Del"): "حذف"})
    try:
        assert formats.keys_text(QKeySequence("Del")) == f"{LRI}حذف{PDI}"
    finally:
        qapp.removeTranslator(stand_in)


def test_each_line_of_a_restriction_is_isolated_on_its_own() -> None:
    """An isolate ends with its paragraph: one pair around "No use in Kenya.\\nNo archive
    (48h)." left the second line to the Arabic paragraph's order (".No archive (48h)")."""
    text = formats.isolated("No use in Kenya.\nNo archive (48h).")
    assert text.split("\n") == [
        f"{formats.FSI}No use in Kenya.{formats.PDI}",
        f"{formats.FSI}No archive (48h).{formats.PDI}",
    ]


def test_what_is_copied_from_a_value_carries_no_invisible_marks(
    qtbot: Any, qapp: QApplication
) -> None:
    """A slug selected in the item's detail and copied (Ctrl+C) carried the isolate the app
    puts around it: pasted into a rundown it no longer matched the slug typed."""
    label = SelectableLabel()
    qtbot.addWidget(label)
    label.setText(formats.isolated("SUDAN-AID (UPDATE)"))
    label.show()
    qtbot.waitExposed(label)
    QApplication.clipboard().clear()
    label.setSelection(0, len(label.text()))
    assert formats.FSI in label.selectedText()
    qtbot.keyClick(label, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "SUDAN-AID (UPDATE)"
    label.setText(formats.unbroken("http://127.0.0.1:8750"))
    label.setSelection(0, len(label.text()))
    label.copy_selection()
    assert QApplication.clipboard().text() == "http://127.0.0.1:8750"


def test_an_address_copied_out_of_a_message_signs_in() -> None:
    """The "has the hub moved?" question keeps its addresses whole with word joiners and an
    isolate; copied out of the message box and pasted at the sign-in, the address looked right
    and was refused as "not a hub address"."""
    from alu_client.core.hub import normalize_url

    shown = formats.isolated(formats.unbroken("https://hub.newsroom.example:8750/"))
    assert shown != "https://hub.newsroom.example:8750/"
    assert normalize_url(shown) == "https://hub.newsroom.example:8750"
