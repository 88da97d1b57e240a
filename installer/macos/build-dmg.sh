#!/usr/bin/env bash
# ALU Desk for macOS: "ALU Desk.app" from the one spec (installer/alu-client.spec, with
# installer/macos/Info.plist), then dist/alu-desk-VERSION-macos-ARCH.dmg (hdiutil): the app
# and a link to /Applications, to drag it across.
#
#   installer/macos/build-dmg.sh [--self-test]
#
# Needs Python 3.11+ with the project and its build extra installed (pip install -e '.[build]'
# from requirements.lock) as $PYTHON or python3. --self-test then mounts the .dmg and runs the
# app's --self-test from it (offscreen). The app is signed ad hoc only (PyInstaller's default):
# a copy downloaded from elsewhere needs a Developer ID signature and notarization to open
# without Gatekeeper's warning (set ALU_CODESIGN_IDENTITY for the first; the second is not done).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
self_test=0
[[ "${1:-}" == "--self-test" ]] && self_test=1
python="${PYTHON:-python3}"

version="$(sed -n 's/^__version__ = "\([^"]*\)"/\1/p' src/alu_client/__init__.py)"
arch="$(uname -m)"
app="dist/ALU Desk.app"
dmg="dist/alu-desk-$version-macos-$arch.dmg"
stage="build/dmg"

echo "== ALU Desk $version: the app (PyInstaller)" >&2
rm -rf build/pyinstaller "$stage" dist/alu-client "$app" "$dmg"
"$python" tools/i18n.py build >/dev/null
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller installer/alu-client.spec
plutil -lint "$app/Contents/Info.plist"
echo "app: $(du -sh "$app" | cut -f1)" >&2

echo "== the disk image (hdiutil)" >&2
mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
hdiutil create -volname "ALU Desk $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"
echo "$dmg: $(du -h "$dmg" | cut -f1)" >&2

if ((self_test)); then
  echo "== self-test of the app on the mounted image" >&2
  mount="$(mktemp -d)"
  hdiutil attach -nobrowse -readonly -mountpoint "$mount" "$dmg" >/dev/null
  trap 'hdiutil detach "$mount" -quiet || true' EXIT
  QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" "$mount/ALU Desk.app/Contents/MacOS/alu-client" --self-test
fi
