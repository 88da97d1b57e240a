#!/bin/sh
# ALU Desk for one user, without root: run this from the unpacked archive.
#
#   ./install.sh              install (or update) into ~/.local/opt/alu-desk, with a menu entry
#   ./install.sh --uninstall  remove it, and its start at login (your data, downloads and
#                             sign-in stay); ~/.local/opt/alu-desk/install.sh --uninstall too
#   ./install.sh --help       show this text
#
# The app goes to $PREFIX/opt/alu-desk (PREFIX defaults to ~/.local; a relative one is taken
# from the current folder), the commands to $PREFIX/bin/alu-client (the app) and $PREFIX/bin/alu
# (its command-line verbs: alu doctor …). Another program already called alu-client or alu there
# is left alone: remove or rename it and run ./install.sh again to get ours. The menu entry and
# icon go to the XDG data folder (${XDG_DATA_HOME:-~/.local/share}). When this system lacks
# libraries the app's window needs, it says which, and the apt install line that adds them.
# Check the installation with: alu-client --self-test
set -eu

action=install
for arg in "$@"; do
  case "$arg" in
    --uninstall) action=uninstall ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *)
      echo "install.sh: unknown option $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

# A relative path is taken from the current folder (links and the menu entry need a full one).
absolute() {
  case "$1" in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$(pwd)" "${1#./}" ;;
  esac
}

# (CDPATH= : an exported CDPATH made cd print the folder, and the path was read twice)
here="$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)"
prefix="$(absolute "${PREFIX:-$HOME/.local}")"
# A relative XDG_DATA_HOME is ignored, as desktops do (the XDG Base Directory spec)
case "${XDG_DATA_HOME:-}" in
  /*) data="$XDG_DATA_HOME" ;;
  *) data="$HOME/.local/share" ;;
esac
app_dir="$prefix/opt/alu-desk"
bin="$prefix/bin/alu-client"
cli="$prefix/bin/alu"
desktop="$data/applications/alu-client.desktop"
icon_png="$data/icons/hicolor/256x256/apps/alu-client.png"
icon_svg="$data/icons/hicolor/scalable/apps/alu-client.svg"
# "Start at login" (the app's Settings) writes this entry; a relative XDG_CONFIG_HOME is ignored
case "${XDG_CONFIG_HOME:-}" in
  /*) config="$XDG_CONFIG_HOME" ;;
  *) config="$HOME/.config" ;;
esac
autostart="$config/autostart/alu-client.desktop"

# A path as a Desktop Entry string value (the spec's escapes: a backslash is written \\).
desktop_string() {
  printf '%s' "$1" | sed -e 's/\\/\\\\/g'
}

# A path as one argument of a Desktop Entry Exec key: in double quotes (a home folder with a
# space in its name), with \ " ` $ escaped by a backslash and % doubled, then the string
# escapes above (so a backslash in the path is written as four).
desktop_exec_arg() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g' -e 's/%/%%/g')"
}

# The login entry starts this install (its TryExec, or its Exec naming our program), not the
# .deb's /opt/alu-desk or another prefix.
autostart_is_ours() {
  [ -f "$autostart" ] || return 1
  for target in "$app_dir/alu-client" "$bin"; do
    grep -F -q -x -e "TryExec=$(desktop_string "$target")" "$autostart" && return 0
    grep '^Exec=' "$autostart" | grep -F -q -e " $target" -e "=$target" \
      -e "$(desktop_exec_arg "$target")" && return 0
  done
  return 1
}

# The command $1 in the bin folder is ours to replace: absent, a dangling link (an earlier
# install moved or removed), or a link to an ALU Desk program (any …/opt/alu-desk/alu-client).
link_is_replaceable() {
  [ -e "$1" ] || [ -L "$1" ] || return 0
  [ -L "$1" ] || return 1
  [ -e "$1" ] || return 0
  case "$(readlink "$1")" in */opt/alu-desk/alu-client) return 0 ;; esac
  return 1
}

# The command $1 is ours to remove: a link to this install's program, or a dangling link to an
# ALU Desk program. Another program, or another working install, is left alone.
link_is_removable() {
  [ -L "$1" ] || return 1
  target="$(readlink "$1")"
  [ "$target" = "$app_dir/alu-client" ] && return 0
  case "$target" in */opt/alu-desk/alu-client) [ ! -e "$1" ] ;; *) return 1 ;; esac
}

# Links $1 to the app when it is ours; otherwise says what is there and how to get ours.
link_command() {
  if link_is_replaceable "$1"; then
    ln -sf "$app_dir/alu-client" "$1"
    return 0
  fi
  echo "($1 is another program and was left alone: to have ALU Desk's $(basename "$1") there," \
    "remove or rename it, then run $here/install.sh again.)"
  return 1
}

# The libraries Qt's xcb and wayland platform plugins need that this system lacks, one a line
# (the app cannot open its window without them; alu-client --self-test checks the same).
missing_libraries() {
  command -v ldd >/dev/null 2>&1 || return 0
  platforms="$app_dir/_internal/PySide6/Qt/plugins/platforms"
  for plugin in "$platforms/libqxcb.so" "$platforms/libqwayland.so"; do
    [ -f "$plugin" ] || continue
    LD_LIBRARY_PATH="$app_dir/_internal" ldd "$plugin" 2>/dev/null |
      sed -n 's/^[[:space:]]*\([^[:space:]]*\) => not found.*/\1/p'
  done | sort -u
}

# Debian's package of each library named on stdin: libfoo.so.4 -> libfoo4, libfoo2.so.1 -> libfoo2-1.
debian_packages() {
  tr 'A-Z_' 'a-z-' | sed -e 's/^\(lib[^.]*[0-9]\)\.so\.\([0-9]*\).*/\1-\2/;t' \
    -e 's/^\(lib[^.]*\)\.so\.\([0-9]*\).*/\1\2/' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

refresh_menus() {
  command -v update-desktop-database >/dev/null 2>&1 &&
    update-desktop-database -q "$data/applications" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 &&
    gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
}

# The app's data folder, as the app finds it (an absolute XDG_DATA_HOME, else ~/.local/share).
case "${XDG_DATA_HOME:-}" in
  /*) app_data="$XDG_DATA_HOME/alu-client" ;;
  *) app_data="$HOME/.local/share/alu-client" ;;
esac

if [ "$action" = uninstall ]; then
  was_installed=""
  [ -d "$app_dir" ] && was_installed=1
  for command in "$bin" "$cli"; do
    if link_is_removable "$command"; then rm -f "$command"; fi
  done
  rm -rf "$app_dir"
  rm -f "$desktop" "$icon_png" "$icon_svg"
  if autostart_is_ours; then
    rm -f "$autostart"
    echo "Removed the start at login ($autostart)."
  fi
  refresh_menus
  if [ -z "$was_installed" ]; then  # (it said "removed" of an install that was not there)
    echo "ALU Desk was not installed in $app_dir (another PREFIX?); its leftovers, if any," \
      "were removed."
    exit 0
  fi
  echo "ALU Desk removed. Your data ($app_data) and downloads were kept."
  exit 0
fi

[ -x "$here/alu-client/alu-client" ] || {
  echo "install.sh: run me from the unpacked ALU Desk archive (alu-client/ is missing)" >&2
  exit 1
}

# A new version replaces the old one whole. A running app keeps its program file open
# (installer/launcher.py) and goes on reading its modules from the old one until restarted.
mkdir -p "$prefix/opt" "$prefix/bin" "$data/applications" "$(dirname "$icon_png")" "$(dirname "$icon_svg")"
rm -rf "$app_dir.new"
# Room for the new copy first (the old one goes only once the new one is whole): a full disk
# printed hundreds of cp errors and left a half copy filling it.
need_kb="$(du -sk "$here/alu-client" | cut -f1)"
free_kb="$(df -Pk "$prefix/opt" | awk 'NR == 2 { print $4 }')"
if [ -n "$free_kb" ] && [ "$free_kb" -lt "$need_kb" ]; then
  echo "install.sh: not installed: $prefix/opt has $((free_kb / 1024)) MB free, the app needs" \
    "$((need_kb / 1024)) MB (beside the installed version, kept until the new one is whole)." >&2
  exit 1
fi
errors="$(mktemp)"
if ! cp -a "$here/alu-client" "$app_dir.new" 2>"$errors"; then
  rm -rf "$app_dir.new"
  echo "install.sh: not installed: the copy into $prefix/opt failed ($(head -n 1 "$errors"));" \
    "the installed version, if any, was not changed." >&2
  rm -f "$errors"
  exit 1
fi
rm -f "$errors"
# The program must run from there (a home mounted noexec on hardened workstations)
if ! ran="$("$app_dir.new/alu-client" --version 2>&1)"; then
  rm -rf "$app_dir.new"
  echo "install.sh: not installed: the program does not run from $prefix/opt ($ran)." >&2
  case "$ran" in
    *"ermission denied"*) echo "Its file system is mounted noexec: install elsewhere," \
      "PREFIX=/a/folder/where/programs/run $here/install.sh" >&2 ;;
  esac
  exit 1
fi
cp "$0" "$app_dir.new/install.sh" 2>/dev/null || cp "$here/install.sh" "$app_dir.new/install.sh"
rm -rf "$app_dir"
mv "$app_dir.new" "$app_dir"
# The menu starts the program itself when alu-client in the bin folder is another program.
if link_command "$bin"; then program="$bin"; else program="$app_dir/alu-client"; fi
if link_command "$cli"; then cli_ok=1; else cli_ok=""; fi
cp "$here/share/icons/alu-client-256.png" "$icon_png"
cp "$here/share/icons/alu-client.svg" "$icon_svg"
# The menu entry names the command by its full path: ~/.local/bin may not be on the PATH.
exec_arg="$(desktop_exec_arg "$program")"
try_exec="$(desktop_string "$program")"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=alu-client*) printf 'Exec=%s%s\n' "$exec_arg" "${line#Exec=alu-client}" ;;
    TryExec=alu-client) printf 'TryExec=%s\n' "$try_exec" ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$here/share/alu-client.desktop" >"$desktop"
chmod 0644 "$desktop"
refresh_menus

echo "ALU Desk installed in $app_dir"
echo "Start it from the menu, or run: $program"
if [ -n "$cli_ok" ]; then echo "Command line: $cli --help"; fi
echo "To remove it: $app_dir/install.sh --uninstall"
missing="$(missing_libraries)"
if [ -n "$missing" ]; then
  libs="$(printf '%s\n' "$missing" | tr '\n' ' ' | sed 's/ $//')"
  echo "The app's window cannot open: this system lacks $libs."
  echo "Install them with: sudo apt install $(printf '%s\n' "$missing" | debian_packages)"
fi
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "($prefix/bin is not on your PATH: use the full path above or add it.)" ;;
esac
