"""Translation catalogues of the desktop app (Qt Linguist).

    python tools/i18n.py update   # tr() strings of src/alu_client/ui → resources/translations/*.ts
    python tools/i18n.py build    # each .ts → .qm when the .ts is newer (--force: all)

``update`` keeps the translations already made, marks new strings unfinished and old ones
vanished (``-no-obsolete`` drops those), without source line numbers so a moved line does
not churn the catalogues. ``alu_en.ts`` holds English's plural forms only (a count's
"%Ln files" has "%Ln file" for one there). Translate with
``pyside6-linguist resources/translations/alu_fr.ts`` (or by editing the XML), then
``build``. The ``.qm`` files are build output: not committed; the app builds missing ones at
start-up from a source checkout, installers ship them built.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from alu_client.ui.i18n import (  # noqa: E402 - after the path to a checkout's src
    CATALOG,
    PLURALS_ONLY,
    TRANSLATED,
    build_translations,
    qt_tool,
    translations_dir,
)

SOURCES = ROOT / "src" / "alu_client" / "ui"


def update(*, drop_obsolete: bool = False) -> list[Path]:
    """Refresh every ``.ts`` from the strings in the UI sources."""
    folder = translations_dir()
    folder.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.relative_to(ROOT)) for p in SOURCES.rglob("*.py"))
    written = []
    for lang in (*PLURALS_ONLY, *TRANSLATED):
        ts = folder / f"{CATALOG}_{lang}.ts"
        cmd = [str(qt_tool("lupdate")), "-locations", "none", "-source-language", "en"]
        cmd += ["-target-language", lang]
        if drop_obsolete:
            cmd.append("-no-obsolete")
        if lang in PLURALS_ONLY:
            cmd.append("-pluralonly")
        cmd += [*files, "-ts", str(ts.relative_to(ROOT))]
        subprocess.run(cmd, check=True, cwd=ROOT)  # noqa: S603 - our tool, our files
        written.append(ts)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("update", help="refresh the .ts files from the sources")
    up.add_argument("--no-obsolete", action="store_true", help="drop strings no longer used")
    b = sub.add_parser("build", help="compile .ts into .qm")
    b.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    if args.command == "update":
        for ts in update(drop_obsolete=args.no_obsolete):
            print(f"updated {ts.relative_to(ROOT)}")
    else:
        built = build_translations(force=args.force)
        for qm in built:
            print(f"built {qm.relative_to(ROOT)}")
        if not built:
            print("translations are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
