"""Languages: Arabic lays the app out right to left and speaks Arabic, French replaces English
at run time, the catalogues are complete and up to date with the sources."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, Qt, QTranslator, QUrl
from PySide6.QtGui import QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QTabWidget,
    QTextEdit,
    QToolButton,
    QWidget,
)

from alu_client.core.hub import Rendition
from alu_client.core.library import LibraryItem
from alu_client.core.transfers.queue import TransferQueue
from alu_client.ui import formats
from alu_client.ui.i18n import (
    build_translations,
    install_translators,
    qt_tool,
    resolve_language,
    resources_dir,
    translations_dir,
)
from alu_client.ui.models.transfers import COL_NAME, COL_STATE
from alu_client.ui.views.item_detail import ItemDetail
from alu_client.ui.views.transfers import TransfersPanel
from alu_client.ui.views.upload import collect_files
from tests.gui.conftest import add
from tests.gui.test_feed_model import make_item
from tests.gui.test_upload_form_fields import MIXED_DIRECTIONS, MIXED_SCRIPT, laid_out

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def test_arabic_is_right_to_left_and_translated(
    qtbot: Any, qapp: QApplication, queue: TransferQueue
) -> None:
    tid = add(queue, "CAIRO-ELECTIONS")
    assert install_translators(qapp, "ar") == "ar"
    assert qapp.layoutDirection() == Qt.LayoutDirection.RightToLeft
    panel = TransfersPanel(queue)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert panel.view.isRightToLeft()
    assert panel.pause_action.text() == "إيقاف مؤقت"
    assert panel.pause_all_action.text() == "إيقاف الكل مؤقتًا"
    assert panel.model.headerData(COL_NAME, Qt.Orientation.Horizontal) == "الاسم"
    assert [panel.filter_box.itemText(i) for i in range(4)] == [
        "الكل",
        "الجارية",
        "المكتملة",
        "الفاشلة",
    ]
    assert panel.limit_box.itemText(0) == "بلا حدّ"
    assert panel.view.accessibleName() == "عمليات النقل"
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    assert panel.current_index_for(tid).siblingAtColumn(COL_STATE).data() == "في الانتظار"
    assert formats.speed_text(250_000) == f"{QLocale().toString(2)} ميغابت/ث"
    # Qt's own strings (dialog buttons) come from its qtbase catalogue
    assert QCoreApplication.translate("QPlatformTheme", "OK") != "OK"
    panel.view.viewport().grab()
    panel.tasks.wait_for_done()


def test_language_changes_while_running(
    qtbot: Any, qapp: QApplication, panel: TransfersPanel
) -> None:
    assert panel.resume_action.text() == "Resume"
    install_translators(qapp, "fr")
    qtbot.waitUntil(lambda: panel.resume_action.text() == "Reprendre")
    assert qapp.layoutDirection() == Qt.LayoutDirection.LeftToRight
    assert panel.model.headerData(COL_NAME, Qt.Orientation.Horizontal) == "Nom"
    assert panel.limit_box.itemText(0) == "Illimité"
    assert panel.filter_box.itemText(2) == "Terminés"
    more = panel.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")  # (its "»")
    assert more is not None and more.accessibleName() == "Plus de commandes"
    assert formats.size_text(1_500_000) == "1,5 Mo"
    install_translators(qapp, "en")
    qtbot.waitUntil(lambda: panel.resume_action.text() == "Resume")
    assert panel.limit_box.itemText(0) == "Unlimited"


def test_language_setting() -> None:
    assert resolve_language("fr") == "fr"
    assert resolve_language("system") in ("en", "fr", "ar")
    assert resources_dir() == ROOT / "resources"
    assert translations_dir().is_dir()


def messages(ts: Path) -> list[tuple[str, str, ET.Element]]:
    root = ET.parse(ts).getroot()
    return [
        (ctx.findtext("name") or "", msg.findtext("source") or "", msg)
        for ctx in root.iter("context")
        for msg in ctx.iter("message")
    ]


#: the plural forms of a count in each catalogue (Qt's rules for the language): Arabic has
#: zero, one, two, 3-10, 11-99 and 100-102…; ``alu_en.ts`` holds English's plural forms only
NUMERUS_FORMS = {"en": 2, "fr": 2, "ar": 6}


def translations_of(msg: ET.Element) -> list[str]:
    """The translation of a message, or each of its plural forms."""
    tr = msg.find("translation")
    assert tr is not None
    if msg.get("numerus") == "yes":
        return [form.text or "" for form in tr.iter("numerusform")]
    return [tr.text or ""]


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_every_string_is_translated_with_its_placeholders(lang: str) -> None:
    found = messages(translations_dir() / f"alu_{lang}.ts")
    assert len(found) > (8 if lang == "en" else 50)
    for context, source, msg in found:
        tr = msg.find("translation")
        assert tr is not None and tr.get("type") is None, (context, source)
        texts = translations_of(msg)
        counted = msg.get("numerus") == "yes"
        assert counted or lang != "en", (context, source)  # English: plural forms only
        # a count is a plural form (tr(text, "", n)), never formatted into the text
        assert counted == ("%Ln" in source or "%n" in source), (context, source)
        if counted:
            assert len(texts) == NUMERUS_FORMS[lang], (context, source, texts)
            assert all("%Ln" in t for t in texts[3:]), (context, source)  # 3 and more: digits
        for text in texts:
            assert text, (context, source)
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (
                context,
                source,
            )


def test_every_count_has_plural_forms_in_english_too() -> None:
    def counted(lang: str) -> set[tuple[str, str]]:
        found = messages(translations_dir() / f"alu_{lang}.ts")
        return {(c, s) for c, s, m in found if m.get("numerus") == "yes"}

    assert len(counted("fr")) >= 10
    assert counted("en") == counted("fr") == counted("ar")


@pytest.mark.parametrize(
    ("lang", "context", "source", "said"),
    [
        ("en", "HistoryPanel", "%Ln events waiting to be sent to the hub",
         {1: "1 event waiting to be sent to the hub", 2: "2 events waiting to be sent to the hub"}),
        ("en", "LibraryPanel", "Copied %Ln files to {folder}",
         {1: "Copied 1 file to {folder}", 3: "Copied 3 files to {folder}"}),
        ("fr", "FeedPanel", "%Ln unread", {0: "0 non lu", 1: "1 non lu", 2: "2 non lus"}),
        ("fr", "FeedPanel", "Already downloaded: “{title}” and %Ln more",
         {1: "Déjà téléchargés : « {title} » et 1 autre",
          4: "Déjà téléchargés : « {title} » et 4 autres"}),
        ("fr", "LibraryPanel", "Copied %Ln of {total} files to {folder}; not copied: {failed}",
         {1: "1 fichier sur {total} copié dans {folder} ; non copiés : {failed}"}),
        ("ar", "TransfersPanel", "Cancel %Ln transfers?",
         {2: "هل تريد إلغاء عمليتَي نقل؟", 3: "هل تريد إلغاء ٣ عمليات نقل؟",
          11: "هل تريد إلغاء ١١ عملية نقل؟", 100: "هل تريد إلغاء ١٠٠ عملية نقل؟"}),
        ("ar", "_Ago", "%Ln d ago", {1: "منذ يوم", 2: "منذ يومين", 6: "منذ ٦ أيام"}),
        # how far the clock is off: the status bar and the upload form say it alike
        ("fr", "ClockWords", "%Ln hours", {1: "1 heure", 2: "2 heures"}),
        ("ar", "ClockWords", "%Ln days", {2: "يومان", 3: "٣ أيام", 11: "١١ يومًا"}),
    ],
)  # fmt: skip
def test_a_count_takes_the_languages_plural_form(
    qapp: QApplication, lang: str, context: str, source: str, said: dict[int, str]
) -> None:
    """ "1 non lus", "… et 1 autres", "1 fichiers sur 3 copiés", "1 events waiting…": the
    catalogues had no plural forms, and Arabic's dual and 11-99 were never said right."""
    install_translators(qapp, lang)
    for n, text in said.items():
        assert QCoreApplication.translate(context, source, "", n) == text, (lang, n)


def test_catalogues_are_up_to_date_with_the_sources(tmp_path: Path) -> None:
    """``python tools/i18n.py update`` would add nothing: no string is left untranslated."""
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "src/alu_client/ui").rglob("*.py"))
    for lang in ("en", "fr", "ar"):
        ts = tmp_path / f"alu_{lang}.ts"
        shutil.copy(translations_dir() / ts.name, ts)
        only = ["-pluralonly"] if lang == "en" else []
        subprocess.run(
            [
                str(qt_tool("lupdate")),
                "-locations",
                "none",
                "-no-obsolete",
                *only,
                *sources,
                "-ts",
                str(ts),
            ],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        pending = [s for _, s, m in messages(ts) if m.find("translation").get("type")]  # type: ignore[union-attr]
        assert pending == [], f"run `python tools/i18n.py update` and translate: {pending}"


#: a call that makes a text translatable (what a translator note must sit right above)
TRANSLATED_CALL = re.compile(r"\b(?:tr|translate|QT_TRANSLATE_NOOP3?|QT_TR_NOOP)\s*\(")


def translator_notes(source: Path) -> tuple[set[str], list[tuple[int, str]]]:
    """The ``#:`` comment blocks of a source as lupdate joins them: those right above a
    translatable text (its translator's note), and the others (by line)."""
    notes: set[str] = set()
    others: list[tuple[int, str]] = []
    lines = source.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("#:"):
            i += 1
            continue
        start, said = i + 1, []
        while i < len(lines) and lines[i].lstrip().startswith("#:"):
            said.append(lines[i].lstrip()[2:].strip())
            i += 1
        text = " ".join(said)
        if i < len(lines) and TRANSLATED_CALL.search(lines[i]):
            notes.add(text)
        else:
            others.append((start, text))
    return notes, others


def test_a_translator_note_is_the_one_above_its_text(tmp_path: Path) -> None:
    """lupdate takes every ``#:`` comment as a translator note, and gives each to the next
    text to translate, however far: the French and Arabic translators read notes of the code
    (the hot folders' table, a history's paging) on unrelated texts, such as Settings › Hot
    folders' intro sentence (review of diff34). A ``#:`` comment in the UI is a note right
    above its text; any other comment there is a plain ``#``."""
    sources = sorted((ROOT / "src/alu_client/ui").rglob("*.py"))
    notes: set[str] = set()
    others: dict[str, str] = {}
    for source in sources:
        mine, not_notes = translator_notes(source)
        notes |= mine
        for line, text in not_notes:
            others[text] = f"{source.relative_to(ROOT)}:{line}"
    ts = tmp_path / "notes.ts"
    subprocess.run(
        [
            str(qt_tool("lupdate")),
            "-locations",
            "none",
            *(str(s.relative_to(ROOT)) for s in sources),
            "-ts",
            str(ts),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    wrong = {}
    for context, source, msg in messages(ts):
        note = msg.findtext("extracomment")
        if note and note not in notes:
            wrong[f"{context}: {source[:40]}"] = [at for text, at in others.items() if text in note]
    assert wrong == {}, "make these comments plain '#' ones (the note they are part of)"
    assert {'an audio sampling rate: "48,000 Hz"'} <= notes  # (the notes are read)


def test_build_only_when_the_source_is_newer(tmp_path: Path) -> None:
    shutil.copy(translations_dir() / "alu_fr.ts", tmp_path / "alu_fr.ts")
    assert build_translations(tmp_path) == [tmp_path / "alu_fr.qm"]
    assert (tmp_path / "alu_fr.qm").stat().st_size > 0
    assert build_translations(tmp_path) == []
    assert build_translations(tmp_path, force=True) == [tmp_path / "alu_fr.qm"]


# --- right to left: numbers and names keep their order -----------------------------------------

LRI, FSI, PDI, LRM = "\u2066", "\u2068", "\u2069", "\u200e"


def drawn_at(text: str, start: int, length: int, *, rtl: bool) -> float:
    """Where the glyphs of ``text[start:start + length]`` are drawn (their left edge), the
    text laid out in a paragraph of that direction by Qt (the Unicode bidi algorithm)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    layout = QTextLayout(text, app.font())
    option = QTextOption()
    option.setTextDirection(
        Qt.LayoutDirection.RightToLeft if rtl else Qt.LayoutDirection.LeftToRight
    )
    layout.setTextOption(option)
    layout.beginLayout()
    layout.createLine().setLineWidth(10_000)
    layout.endLayout()
    return min(run.boundingRect().left() for run in layout.glyphRuns(start, length))


def reads_width_first(text: str, width: str, height: str) -> bool:
    """Whether the frame size ``width``×``height`` in ``text`` is drawn width at the left,
    each number's digits in order, in a left-to-right and a right-to-left paragraph."""
    w, h = text.index(width), text.index(height, text.index(width) + len(width))
    for rtl in (False, True):
        if not drawn_at(text, w, len(width), rtl=rtl) < drawn_at(text, h, len(height), rtl=rtl):
            return False
        for number, at in ((width, w), (height, h)):  # the digits of each left to right
            xs = [drawn_at(text, at + i, 1, rtl=rtl) for i in range(len(number))]
            if xs != sorted(xs):
                return False
    return True


class _FrenchColons(QTranslator):
    """A stand-in catalogue: the French colon (no-break space before it) and list comma."""

    def translate(
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        if context == "ItemDetail" and source == "{rendition}: {details}":
            return "{rendition}\u00a0: {details}"
        if context == "ItemDetail" and source == ", ":
            return " ; "
        return None  # not here: the French catalogue answers


def test_arabic_keeps_frame_sizes_and_file_names_in_order(
    qtbot: Any, qapp: QApplication, tmp_path: Path
) -> None:
    assert install_translators(qapp, "ar") == "ar"
    # width first, left to right, in the digits of the rest of the screen: the isolate alone
    # drew "٣٢٠×١٨٠" height first (Arabic-Indic digits are right to left around the ×)
    assert formats.frame_size(640, 360) == f"{LRI}٦٤٠{LRM}×{LRM}٣٦٠{PDI}"
    assert formats.frame_size(1920, 1080) == f"{LRI}١٩٢٠{LRM}×{LRM}١٠٨٠{PDI}"  # no grouping
    assert reads_width_first(formats.frame_size(320, 180), "٣٢٠", "١٨٠")
    assert reads_width_first(formats.frame_size(1920, 1080), "١٩٢٠", "١٠٨٠")
    assert formats.isolated("024 (2).mp4") == f"{FSI}024 (2).mp4{PDI}"
    item = make_item(7, renditions=(
        Rendition("broadcast", "http://hub/b", "b.mp4", 160_000, "0" * 64, "video/mp4", 640, 360),
        Rendition("proxy", "http://hub/p", "p.mp4", 39_000, "0" * 64, "video/mp4", 320, 180),
    ))  # fmt: skip
    detail = ItemDetail(show_file=True)
    qtbot.addWidget(detail)
    detail.set_item(LibraryItem(item, 1, 0.0, None, True))
    renditions = detail.values["renditions"].text()
    assert formats.frame_size(640, 360) in renditions
    assert formats.frame_size(320, 180) in renditions
    assert "640" not in renditions
    for line in renditions.split("\n"):  # in the Arabic sentence too
        if "٦٤٠" in line:
            assert reads_width_first(line, "٦٤٠", "٣٦٠"), line
        else:
            assert reads_width_first(line, "٣٢٠", "١٨٠"), line
    # a file name dropped into an Arabic sentence stays one left-to-right piece
    (tmp_path / "024 (2).txt").write_text("notes")
    _files, skipped = collect_files([QUrl.fromLocalFile(str(tmp_path / "024 (2).txt"))])
    assert skipped == [f"{FSI}024 (2).txt{PDI} ليس ملف فيديو."]
    # the separators of a rendition's line are the language's
    install_translators(qapp, "fr")
    french = _FrenchColons(qapp)
    qapp.installTranslator(french)
    try:
        detail.set_item(detail.item)
        lines = detail.values["renditions"].text().split("\n")
        assert lines[0] == f"Diffusion\u00a0: 160 ko ; {formats.frame_size(640, 360)}"
        assert reads_width_first(lines[0], "640", "360")
    finally:
        qapp.removeTranslator(french)


def drawn_in_order(edit: QWidget, parts: list[str]) -> bool:
    """Whether ``parts`` (each found once in the text of ``edit``'s line edit) are drawn left
    to right in that order, laid out in the edit's own direction."""
    line = edit.findChild(QLineEdit)
    assert line is not None
    text = line.text()
    rtl = line.layoutDirection() == Qt.LayoutDirection.RightToLeft
    xs = [drawn_at(text, text.index(part), len(part), rtl=rtl) for part in parts]
    return xs == sorted(xs)


def test_arabic_times_and_dates_keep_their_order(qtbot: Any, qapp: QApplication) -> None:
    """The weekly schedule showed 07:00 as ٠٠:٠٧ (minutes first) and the upload form's
    recording date had its sections reversed: Qt reverses a date-time edit's sections in a
    right-to-left layout, though Arabic-Indic digits are drawn left to right."""
    from PySide6.QtCore import QDate, QDateTime, QTime

    from alu_client.ui.views.settings_transfers import ScheduleRuleDialog
    from alu_client.ui.views.upload_form import UploadForm

    assert install_translators(qapp, "ar") == "ar"
    dialog = ScheduleRuleDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.start.time() == QTime(7, 0) and dialog.end.time() == QTime(19, 0)
    assert drawn_in_order(dialog.start, ["٠٧", "٠٠"])
    assert drawn_in_order(dialog.end, ["١٩", "٠٠"])
    form = UploadForm()
    qtbot.addWidget(form)
    form.show()
    form.recorded_known.setChecked(True)
    form.recorded.setDateTime(QDateTime(QDate(2026, 11, 22), QTime(14, 30)))
    assert drawn_in_order(form.recorded, ["٢٠٢٦", "١١", "٢٢", "١٤", "٣٠"])
    assert form.recorded.dateTime() == QDateTime(QDate(2026, 11, 22), QTime(14, 30))
    # the rest of the form stays right to left
    assert form.isRightToLeft() and form.title.isRightToLeft()


ARABIC_SCRIPT = (
    "وصلت إلى ميناء بورتسودان شحنة تضم أكثر من مليون جرعة من لقاحات الأطفال الروتينية، في إطار "
    "حملة تطعيم وطنية. وتشمل الشحنة لقاحات ضد الحصبة وشلل الأطفال، على أن توزّع على المراكز "
    "الصحية في عدة ولايات خلال الأسابيع المقبلة."
)
ENGLISH_SCRIPT = (
    "A shipment of more than a million doses of routine childhood vaccines arrived at Port "
    "Sudan, part of a national campaign. It includes measles and polio vaccines, to be sent "
    "to health centres in several states over the coming weeks."
)


def line_edges(box: QWidget) -> list[tuple[float, float]]:
    """The left and right edge of each line of the first paragraph of a text box."""
    assert isinstance(box, QTextEdit)
    layout = box.document().firstBlock().layout()
    rects = [layout.lineAt(i).naturalTextRect() for i in range(layout.lineCount())]
    return [(r.left(), r.right()) for r in rects]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_script_is_flush_with_its_own_start(qtbot: Any, qapp: QApplication, lang: str) -> None:
    """An Arabic script was laid out right to left but flush left (ragged right edge, its
    last line at the left), in the Arabic app as in the English one."""
    install_translators(qapp, lang)
    detail = ItemDetail()
    qtbot.addWidget(detail)
    detail.resize(420, 700)
    detail.show()
    detail.set_item(
        LibraryItem(
            make_item(1, language="ar", script=ARABIC_SCRIPT, shotlist=ENGLISH_SCRIPT),
            1, 0.0, None, True,
        )
    )  # fmt: skip
    qtbot.waitUntil(lambda: len(line_edges(detail.script)) > 2)
    edges = line_edges(detail.script)
    rights, lefts = [r for _l, r in edges], [left for left, _r in edges]
    assert max(rights) - min(rights) <= 2, edges  # flush right
    assert lefts[-1] > max(lefts[:-1]) + 20, edges  # the short last line ends at the right
    qtbot.waitUntil(lambda: len(line_edges(detail.shotlist)) > 2)
    edges = line_edges(detail.shotlist)  # English stays flush left
    lefts, rights = [left for left, _r in edges], [r for _l, r in edges]
    assert max(lefts) - min(lefts) <= 2, edges
    assert rights[-1] < min(rights[:-1]) - 20, edges


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_each_paragraph_of_a_shown_script_reads_in_its_own_direction(
    qtbot: Any, qapp: QApplication, lang: str
) -> None:
    """Review (i18n) finding 6, in the Feed's and the Library's detail: an Arabic script with
    an English and a French line drew them right to left (".The minister spoke in French",
    "Plan moyen du ministre .2"), flush right. Each paragraph of the script, the shot list
    and the restrictions now has its own direction and is flush with its own start."""
    install_translators(qapp, lang)
    detail = ItemDetail()
    qtbot.addWidget(detail)
    detail.resize(460, 800)
    detail.show()
    latin_first = "\n".join(reversed(MIXED_SCRIPT.split("\n")))
    restrictions = "لا يبث في السودان قبل الساعة 18:00.\nNo use in Sudan before 18:00 GMT."
    item = make_item(
        1, language="ar", script=MIXED_SCRIPT, shotlist=latin_first, restrictions=restrictions
    )
    detail.set_item(LibraryItem(item, 1, 0.0, None, True))
    assert laid_out(detail.script.document()) == MIXED_DIRECTIONS
    assert laid_out(detail.shotlist.document()) == list(reversed(MIXED_DIRECTIONS))
    label = detail.restrictions.document()
    assert label is not None
    assert laid_out(label) == ["rtl", "ltr"]
    # the same text again (the app's language changed, the item was refreshed): the same
    detail.set_item(detail.item)
    assert laid_out(detail.script.document()) == MIXED_DIRECTIONS


# --- mnemonics: Alt+letter reaches one control -----------------------------------------------


def mnemonic(text: str) -> str | None:
    """The Alt+letter of a label ("Mot de &passe" → "p"; "Cat&égorie" → "e")."""
    found = re.search(r"&([^&\s])", text.replace("&&", ""))
    if found is None:
        return None
    return unicodedata.normalize("NFD", found.group(1).lower())[0]


def clashes(texts: list[str]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for text in texts:
        if (key := mnemonic(text)) is not None:
            seen.setdefault(key, []).append(text)
    return {k: v for k, v in seen.items() if len(v) > 1}


def labelled(root: QWidget) -> list[str]:
    """The texts with a mnemonic a user can reach in ``root`` as shown."""
    texts = []
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisibleTo(root):
            continue
        if isinstance(w, QLabel | QAbstractButton):
            texts.append(w.text())
        if isinstance(w, QGroupBox) and w.isCheckable():
            texts.append(w.title())
        if isinstance(w, QTabWidget):
            texts += [w.tabText(i) for i in range(w.count())]
    return texts


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_no_two_controls_share_an_alt_letter(
    qtbot: Any, qapp: QApplication, tmp_path: Path, lang: str
) -> None:
    """The translations gave two controls the same Alt+letter: "&Affichage" and "&Aide" in
    the French menu bar, "Mot de &passe" and "ce &poste" at sign-in, and in Arabic every
    label of the upload form its article ("&ال…")."""
    from PySide6.QtWidgets import QMainWindow

    from alu_client.core.credentials import MemorySecrets
    from alu_client.core.profiles import Profiles
    from alu_client.core.store import Store
    from alu_client.ui.signin import SignInDialog
    from alu_client.ui.statusbar import ShellActions
    from alu_client.ui.views.settings_hot import HotFolderDialog
    from alu_client.ui.views.upload_form import UploadForm

    install_translators(qapp, lang)
    store = Store(tmp_path / "library.sqlite3")
    signin = SignInDialog(Profiles(store), MemorySecrets())
    hot = HotFolderDialog(set())
    upload = UploadForm()
    for w in (signin, hot, upload):
        qtbot.addWidget(w)
        w.show()
    signin.advanced.setChecked(True)
    window = QMainWindow()
    qtbot.addWidget(window)
    actions = ShellActions(window)
    actions.build_menus(window.menuBar())
    actions.retranslate()
    found = {
        "sign-in": clashes(labelled(signin)),
        "hot folder": clashes(labelled(hot)),
        "upload form": clashes(labelled(upload)),
        "menu bar": clashes([m.title() for m in actions.menus.values()]),
    }
    for key, menu in actions.menus.items():
        found[f"menu {key}"] = clashes([a.text() for a in menu.actions() if a.text()])
    assert {where: c for where, c in found.items() if c} == {}
    signin.tasks.wait_for_done()
    store.close()


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_transfers_tab_labels_and_menu_bar_take_different_letters(
    qapp: QApplication, lang: str
) -> None:
    """On the Transfers tab the menu bar and the tab's labels answer Alt+letter together:
    French "&Afficher :" and "&Affichage", Arabic "&عرض:" and "&عرض" took the same one."""
    install_translators(qapp, lang)

    def tr(context: str, source: str) -> str:
        return QCoreApplication.translate(context, source)

    texts = [tr("ShellActions", s) for s in ("&File", "&Transfers", "&View", "T&ools", "&Help")] + [
        tr("TransfersPanel", s) for s in ("&Show:", "&Limit:")
    ]
    assert clashes(texts) == {}


def test_french_names_each_thing_the_same_everywhere(qapp: QApplication) -> None:
    """The menu and toolbar said "Paramètres…" where the dialog and the messages say
    "Réglages"; the upload form said "Dateline" (English) and "Catégorie" where the Feed, the
    item's detail and the hot folders say "Lieu et date" and "Rubrique"."""
    found = messages(translations_dir() / "alu_fr.ts")
    texts = [text for _c, _s, msg in found for text in translations_of(msg)]
    assert [t for t in texts if "aramètre" in t] == []
    install_translators(qapp, "fr")

    def tr(context: str, source: str) -> str:
        return QCoreApplication.translate(context, source).replace("&", "")

    assert tr("ShellActions", "&Settings…") == tr("SettingsDialog", "Settings") + "…"
    for context, source, detail in (
        ("UploadForm", "&Dateline:", "Dateline:"),
        ("UploadForm", "Cat&egory:", "Category:"),
        ("HotFolderDialog", "&Category:", "Category:"),
        ("UploadForm", "&Priority:", "Priority:"),
    ):
        assert tr(context, source) == tr("ItemDetail", detail), source


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_priorities_and_cancel_have_one_word_each(
    qtbot: Any, qapp: QApplication, lang: str
) -> None:
    """The Arabic rule editor and hot-folder dialog called Flash "عاجلة" (the Feed's word for
    Urgent, feminine) and Urgent "هامة": ticking "urgent" there asked for flashes only. French
    said "Urgente", "Normale" there, "Urgent", "Routine" elsewhere. Qt's own Cancel button said
    "ألغِ" beside the app's "إلغاء"."""
    found = messages(translations_dir() / f"alu_{lang}.ts")
    for word in ("Flash", "Urgent", "Routine", "Cancel"):
        said = {
            text.replace("&", "")
            for _c, source, msg in found
            if source == word
            for text in translations_of(msg)
        }
        assert len(said) == 1, (word, said)
    install_translators(qapp, lang)
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(box)
    cancel = box.button(QDialogButtonBox.StandardButton.Cancel).text().replace("&", "")
    gnome = QCoreApplication.translate("QGnomeTheme", "&Cancel").replace("&", "")  # (GTK desktops)
    assert {cancel, gnome} == {
        text.replace("&", "")
        for _c, source, msg in found
        if source == "Cancel" and _c not in ("QPlatformTheme", "QGnomeTheme")
        for text in translations_of(msg)
    }
    install_translators(qapp, "en")


def test_no_text_to_translate_is_inside_an_f_string() -> None:
    """lupdate does not read inside an f-string: a ``self.tr("…")`` there never reached the
    catalogues, and the French and Arabic apps showed it in English (the status bar's "Click
    to sign in" line). A text to translate is a string of its own, joined afterwards."""
    import io
    import tokenize

    call = re.compile(r"\{[^{}]*\b(?:tr|translate)\(")
    found = []
    for source in sorted((ROOT / "src/alu_client").rglob("*.py")):
        tokens = tokenize.generate_tokens(io.StringIO(source.read_text(encoding="utf-8")).readline)
        for tok in tokens:
            prefix = re.match(r"[A-Za-z]*", tok.string)
            is_f = tok.type == tokenize.STRING and prefix is not None and "f" in prefix[0].lower()
            if is_f and call.search(tok.string):
                found.append(f"{source.relative_to(ROOT)}:{tok.start[0]}")
    assert found == []
