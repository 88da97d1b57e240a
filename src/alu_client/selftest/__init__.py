"""``alu-client --self-test``: check this installation from end to end and print a short report.

For CI (the built installers, run as they will be installed) and for support staff on a
member's workstation: it changes nothing in the user's profile, keyring or downloads. It
starts offscreen (``QT_QPA_PLATFORM=offscreen`` unless set), in a temporary data folder, and
checks, each on one line of the report (``ok``, ``warning`` or ``FAILED`` and a figure):

- platform: Qt starts, the image formats the app shows (JPEG, PNG, SVG) and its icon load;
- desktop (Linux): the libraries of Qt's xcb and wayland platform plugins are on this system
  (``ldd``), so the window can open outside offscreen; FAILED names the missing ones and the
  ``apt install`` line; "not checked" when this Qt has no xcb plugin where PySide6 keeps it;
- translations: the French and Arabic catalogues (``alu_fr.qm``, ``alu_ar.qm``) and Qt's own;
- keyring: the keyring backends of this OS are in the build; which one this session offers
  (a plain-text one, or none, is a warning: the app then asks before keeping a sign-in);
- hub: an embedded demo hub on 127.0.0.1, seeded with small clips;
- sign-in, feed, update check: as the demo member, through the real client core;
- download: one item through the transfer queue, then its sha256 computed again here;
- playback: one second of it in the Library's player (QtMultimedia's FFmpeg backend),
  QMediaPlayer playing and its position advancing;
- upload: a small clip through tus, until the hub has published it and it is in the feed;
- window: the main window with its real panels, its feed showing the items.

Exit status 0 only when no check failed (warnings allowed), 1 otherwise. The report is also
saved to ``<temp>/alu-client-self-test-USER.txt`` (a Windows app started from a shortcut has no
console), and the log beside it (``.log``), one pair per account (``/tmp`` is shared); the last
line printed says where (``report_paths``).

``ALU_SELFTEST_HUB=URL`` runs the hub checks against a hub on this machine that has the demo
accounts instead of the embedded one (tests); ``ALU_SELFTEST_TIMEOUT`` (seconds, default 300)
ends a run that hangs, with a FAILED line naming the check; ``ALU_DEMO_CLIP_SECONDS`` and
``ALU_DEMO_CLIP_SIZE`` change the seed (default 2 s at 320x180: about ten seconds to make).
"""

from .basics import (
    FAILED,
    KEYRING_MODULES,
    OK,
    WARNING,
    CheckFailed,
    Result,
    Warn,
    check_keyring,
    check_platform,
    check_translations,
    loopback_url,
    report_paths,
)
from .session import SelfTest, run_self_test

__all__ = [
    "FAILED",
    "KEYRING_MODULES",
    "OK",
    "WARNING",
    "CheckFailed",
    "Result",
    "SelfTest",
    "Warn",
    "check_keyring",
    "check_platform",
    "check_translations",
    "loopback_url",
    "report_paths",
    "run_self_test",
]
