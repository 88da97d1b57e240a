#!/usr/bin/env bash
# The Linux installers of ALU Desk, from the one PyInstaller spec (installer/alu-client.spec):
#
#   dist/alu-client/                               the one-folder app
#   dist/alu-desk_VERSION_ARCH.deb                 Debian/Ubuntu: sudo apt install ./alu-desk_….deb
#   dist/alu-desk-VERSION-linux-MACHINE.tar.gz     without root: unpack, then ./install.sh
#
# Run it as `./run build [--self-test]` (the environment has PyInstaller). It starts from a
# clean build folder every time. --self-test then runs `alu-client --self-test` from the
# unpacked .deb and from a per-user install of the archive (into a temporary HOME).
# Needs dpkg-deb (any Debian or Ubuntu); takes a few minutes on two cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

self_test=0
for arg in "$@"; do
  case "$arg" in
    --self-test) self_test=1 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-linux.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

python="${PYTHON:-python}"
if ! "$python" -c "import PyInstaller" 2>/dev/null; then
  echo "build-linux.sh: PyInstaller is missing; run it as ./run build (the environment has it)" >&2
  exit 2
fi
command -v dpkg-deb >/dev/null || { echo "build-linux.sh: dpkg-deb is needed for the .deb" >&2; exit 2; }

version="$(sed -n 's/^__version__ = "\([^"]*\)"/\1/p' src/alu_client/__init__.py)"
[[ -n "$version" ]] || { echo "build-linux.sh: no __version__ in src/alu_client/__init__.py" >&2; exit 1; }
arch="$(dpkg --print-architecture)"
machine="$(uname -m)"
work="$root/build/installer"
dist="$root/dist"
app="$dist/alu-client"
deb="$dist/alu-desk_${version}_${arch}.deb"
name="alu-desk-$version-linux-$machine"
tarball="$dist/$name.tar.gz"
step() { printf '\n== %s\n' "$*" >&2; }

step "ALU Desk $version: a clean build folder"
rm -rf "$work" "$app" "$deb" "$tarball"
mkdir -p "$work" "$dist"
"$python" tools/i18n.py build >/dev/null

step "the one-folder app (PyInstaller)"
started=$SECONDS
nice -n 10 "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$dist" --workpath "$work/pyinstaller" installer/alu-client.spec
echo "built in $((SECONDS - started)) s" >&2

step "the .deb"
pkg="$work/deb"
install -d "$pkg/DEBIAN" "$pkg/opt" "$pkg/usr/bin" "$pkg/usr/share/applications" \
  "$pkg/usr/share/icons/hicolor/256x256/apps" "$pkg/usr/share/icons/hicolor/scalable/apps" \
  "$pkg/usr/share/doc/alu-desk"
cp -a "$app" "$pkg/opt/alu-desk"
ln -s /opt/alu-desk/alu-client "$pkg/usr/bin/alu-client"
# the command-line verbs (alu doctor, alu get …): the same program, started under that name
ln -s /opt/alu-desk/alu-client "$pkg/usr/bin/alu"
install -m 0644 resources/alu-client.desktop "$pkg/usr/share/applications/alu-client.desktop"
install -m 0644 resources/icons/alu-client-256.png "$pkg/usr/share/icons/hicolor/256x256/apps/alu-client.png"
install -m 0644 resources/icons/alu-client.svg "$pkg/usr/share/icons/hicolor/scalable/apps/alu-client.svg"
cat >"$pkg/usr/share/doc/alu-desk/copyright" <<'EOF'
ALU Desk: Africa Link Union. Proprietary; all rights reserved.
It bundles Python, Qt for Python (PySide6, LGPLv3), FFmpeg (LGPL, in Qt Multimedia and PyAV)
and other open-source libraries, each under its own licence.
EOF
depends="$("$python" installer/linux/depends.py "$app")"
installed_kb="$(du -sk "$pkg" | cut -f1)"
cat >"$pkg/DEBIAN/control" <<EOF
Package: alu-desk
Version: $version
Architecture: $arch
Maintainer: Africa Link Union <alu-desk@localhost>
Installed-Size: $installed_kb
Depends: $depends
Suggests: gnome-keyring | kwalletmanager
Section: video
Priority: optional
Description: ALU Desk, the Africa Link Union news exchange client
 The feed of the agency's pushes, resumable and verified downloads and tus
 uploads over slow and flaky links, and a local library with its history.
 Check an installation with: alu-client --self-test
 The command-line verbs for support and scripts: alu --help (alu doctor …).
EOF
chmod -R u+rwX,go+rX,go-w "$pkg"
# the files' sums, as Debian packages have them: `dpkg --verify alu-desk` (and debsums) find a
# damaged or changed file under /opt/alu-desk; without them dpkg checked nothing
(cd "$pkg" && find opt usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$pkg/usr/share/applications/alu-client.desktop"
fi
nice -n 10 dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null

step "the archive for an install without root"
stage="$work/tar/$name"
mkdir -p "$stage/share/icons"
cp -a "$app" "$stage/alu-client"
install -m 0755 installer/linux/install.sh "$stage/install.sh"
install -m 0644 resources/alu-client.desktop "$stage/share/alu-client.desktop"
install -m 0644 resources/icons/alu-client-256.png resources/icons/alu-client.svg "$stage/share/icons/"
cat >"$stage/README.txt" <<EOF
ALU Desk $version for Linux ($machine)

Without root:  ./install.sh               (into ~/.local; ./install.sh --uninstall, or
                ~/.local/opt/alu-desk/install.sh --uninstall, removes it)
               ./install.sh --help        (the options: PREFIX=DIR ./install.sh installs elsewhere)
Or run it in place:  ./alu-client/alu-client
Check it:      alu-client --self-test     (on a temporary demo hub, and the desktop libraries; exit 0 = all passed)
Command line:  alu --help                 (alu doctor checks hub, sign-in, keyring, clock, disk)

Needs the X11 or Wayland libraries of any desktop (on a bare system:
$depends).
EOF
chmod -R u+rwX,go+rX,go-w "$stage"
tar -C "$work/tar" --owner=0 --group=0 --numeric-owner -czf "$tarball" "$name"

step "sizes"
printf '%-48s %s\n' "one-folder app (du -sh dist/alu-client)" "$(du -sh "$app" | cut -f1)" \
  "$(basename "$deb")" "$(du -h "$deb" | cut -f1)" \
  "$(basename "$tarball")" "$(du -h "$tarball" | cut -f1)"
echo "Depends: $depends"

# The installed `alu` command: the CLI's verbs from the frozen program (not the window), on a
# data folder of its own: the store opens, and the doctor reads it.
cli_check() {
  local alu="$1" home="$2" out
  out="$(ALU_CLIENT_HOME="$home" "$alu" queue list)"
  [[ "$out" == "The queue is empty." ]] || { echo "alu queue list said: $out" >&2; return 1; }
  out="$(ALU_CLIENT_HOME="$home" "$alu" doctor || true)"
  grep -q "library: The library database is intact." <<<"$out" ||
    { echo "alu doctor said: $out" >&2; return 1; }
  echo "alu (the command line) from $alu: ok"
}

if ((self_test)); then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"

  step "self-test of the unpacked .deb (/opt/alu-desk/alu-client)"
  dpkg-deb -x "$deb" "$tmp/deb"
  dpkg-deb -e "$deb" "$tmp/deb-control"
  (cd "$tmp/deb" && md5sum --quiet -c "$tmp/deb-control/md5sums")
  "$tmp/deb/opt/alu-desk/alu-client" --self-test
  test "$(readlink "$tmp/deb/usr/bin/alu")" = /opt/alu-desk/alu-client
  ln -s "$tmp/deb/opt/alu-desk/alu-client" "$tmp/alu"
  cli_check "$tmp/alu" "$tmp/cli-deb"

  step "self-test of a per-user install of the archive (temporary HOME)"
  mkdir -p "$tmp/tar" "$tmp/home"
  tar -xzf "$tarball" -C "$tmp/tar"
  HOME="$tmp/home" XDG_DATA_HOME="$tmp/home/.local/share" "$tmp/tar/$name/install.sh"
  test -f "$tmp/home/.local/share/applications/alu-client.desktop"
  HOME="$tmp/home" XDG_DATA_HOME="$tmp/home/.local/share" "$tmp/home/.local/bin/alu-client" --self-test
  cli_check "$tmp/home/.local/bin/alu" "$tmp/cli-tar"
fi
