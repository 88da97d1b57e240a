"""installer/linux/install.sh (the per-user install from the archive) and the menu entry it
installs, on a stand-in for the unpacked archive: no build needed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "resources" / "alu-client.desktop"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("sh") is None, reason="Linux installer"
)

# --- the Desktop Entry spec, as a desktop reads it --------------------------------------------


def desktop_entry(path: Path) -> dict[str, str]:
    """The [Desktop Entry] group's keys, values unescaped as strings (``\\s \\n \\t \\r \\\\``)."""
    keys: dict[str, str] = {}
    group = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            group = line
            continue
        if group == "[Desktop Entry]":
            key, _, value = line.partition("=")
            keys[key.strip()] = re.sub(
                r"\\(.)",
                lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]),
                value.strip(),
            )
    return keys


def exec_argv(value: str, files: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """An Exec value (already string-unescaped) split into arguments as the spec says: double
    quotes group, a backslash inside them takes the next of " ` $ \\ literally; %f %F %u %U
    take the files, other field codes go, %% is %."""
    argv: list[str] = []
    i, n = 0, len(value)
    while i < n:
        if value[i] == " ":
            i += 1
            continue
        arg, quoted = "", False
        while i < n and value[i] != " ":
            if value[i] == '"':
                i += 1
                quoted = True
                while value[i] != '"':
                    if value[i] == "\\" and value[i + 1] in '"`$\\':
                        i += 1
                    arg += value[i]
                    i += 1
                i += 1
            else:
                assert value[i] not in "\"'\\><~|&;$*?#()`", f"reserved character unquoted: {value}"
                arg += value[i]
                i += 1
        if not quoted and re.fullmatch(r"%[fFuU]", arg):
            argv += files[:1] if arg in ("%f", "%u") else list(files)
            continue
        if not quoted and re.fullmatch(r"%[a-zA-Z]", arg):
            continue
        argv.append(arg.replace("%%", "%"))
    return argv


# --- the archive and its install ---------------------------------------------------------------


def fake_archive(tmp_path: Path) -> Path:
    """The unpacked archive's layout, the app a script that writes its arguments down."""
    stage = tmp_path / "alu-desk-9.9.9-linux-x86_64"
    (stage / "alu-client").mkdir(parents=True)
    (stage / "share" / "icons").mkdir(parents=True)
    shutil.copy(ROOT / "installer" / "linux" / "install.sh", stage / "install.sh")
    shutil.copy(DESKTOP, stage / "share" / "alu-client.desktop")
    for icon in ("alu-client-256.png", "alu-client.svg"):
        shutil.copy(ROOT / "resources" / "icons" / icon, stage / "share" / "icons" / icon)
    app = stage / "alu-client" / "alu-client"
    app.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && { echo "ALU Desk 9.9.9"; exit 0; }\n'
        'printf "%s\\n" "started" "$@" > "$ALU_TEST_RAN"\n',
        encoding="utf-8",
    )
    app.chmod(0o755)
    return stage


def run_install(
    stage: Path,
    home: Path,
    *args: str,
    check: bool = True,
    cwd: Path | None = None,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **extra_env,
    }
    return subprocess.run(
        ["sh", str(stage / "install.sh"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def start_from_menu(home: Path, tmp_path: Path, files: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """Start the app as a menu does from the installed entry; what the app was given."""
    entry = desktop_entry(home / ".local" / "share" / "applications" / "alu-client.desktop")
    argv = exec_argv(entry["Exec"], files)
    assert Path(entry["TryExec"]).is_file() and os.access(entry["TryExec"], os.X_OK)
    ran = tmp_path / "ran.txt"
    subprocess.run(argv, env={**os.environ, "ALU_TEST_RAN": str(ran)}, check=True, timeout=30)
    return ran.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    "home_name", ["home", "home é with spaces", 'o\'brien $HOME `x` \\ "q" 100%']
)
def test_the_menu_entry_starts_the_app_from_any_home(tmp_path: Path, home_name: str) -> None:
    """A home folder whose path has a space: the menu entry's Exec was not quoted and could
    not start the app."""
    stage = fake_archive(tmp_path)
    home = tmp_path / home_name
    home.mkdir()
    run_install(stage, home)
    assert start_from_menu(home, tmp_path) == ["started"]
    entry = desktop_entry(home / ".local" / "share" / "applications" / "alu-client.desktop")
    assert exec_argv(entry["Exec"])[0] == str(home / ".local" / "bin" / "alu-client")
    assert entry["TryExec"] == str(home / ".local" / "bin" / "alu-client")


def test_the_command_line_is_installed_as_alu_and_removed_with_the_app(tmp_path: Path) -> None:
    """An installed workstation had no ``alu`` command (support asks for ``alu doctor``): the
    program started under that name is the command line (installer/launcher.py)."""
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    done = run_install(stage, home)
    cli = home / ".local" / "bin" / "alu"
    program = home / ".local" / "opt" / "alu-desk" / "alu-client"
    assert cli.is_symlink() and os.readlink(cli) == str(program)
    assert f"Command line: {cli} --help" in done.stdout
    ran = tmp_path / "ran.txt"
    env = {**os.environ, "ALU_TEST_RAN": str(ran)}
    subprocess.run([str(cli), "doctor"], env=env, check=True, timeout=30)
    assert ran.read_text(encoding="utf-8").splitlines() == ["started", "doctor"]

    run_install(stage, home)  # an update keeps it
    assert cli.is_symlink() and os.readlink(cli) == str(program)
    run_install(stage, home, "--uninstall")
    assert not cli.exists() and not cli.is_symlink()


def test_another_program_called_alu_is_left_alone(tmp_path: Path) -> None:
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    other = home / ".local" / "bin" / "alu"
    other.write_text("#!/bin/sh\necho another alu\n", encoding="utf-8")
    done = run_install(stage, home)
    assert other.read_text(encoding="utf-8") == "#!/bin/sh\necho another alu\n"
    assert "is another program" in done.stdout
    run_install(stage, home, "--uninstall")
    assert other.read_text(encoding="utf-8") == "#!/bin/sh\necho another alu\n"


# --- options -----------------------------------------------------------------------------------


def test_help_shows_the_usage_and_installs_nothing(tmp_path: Path) -> None:
    """``--help`` installed the app (every option but --uninstall was ignored)."""
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    done = run_install(stage, home, "--help")
    assert "./install.sh --uninstall" in done.stdout
    assert not done.stdout.startswith("#!")
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("option", ["--uninstal", "-u", "uninstall"])
def test_an_unknown_option_is_refused(tmp_path: Path, option: str) -> None:
    """A mistyped ``--uninstal`` re-installed the app instead of removing it."""
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    done = run_install(stage, home, option, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == f"install.sh: unknown option {option} (try --help)"
    assert list(home.iterdir()) == []


# --- the commands in the bin folder ------------------------------------------------------------

OTHER = "#!/bin/sh\necho another program\n"


def test_another_program_called_alu_client_is_left_alone(tmp_path: Path) -> None:
    """``pip install --user`` leaves alu-client and alu in ~/.local/bin: alu was left alone,
    alu-client overwritten, and --uninstall deleted it."""
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("alu-client", "alu"):
        (bin_dir / name).write_text(OTHER, encoding="utf-8")
    done = run_install(stage, home)
    program = home / ".local" / "opt" / "alu-desk" / "alu-client"
    for name in ("alu-client", "alu"):
        assert (bin_dir / name).read_text(encoding="utf-8") == OTHER
        assert f"{bin_dir / name} is another program" in done.stdout
    assert "remove or rename it, then run" in done.stdout
    assert f"run: {program}" in done.stdout
    assert start_from_menu(home, tmp_path) == ["started"]  # the menu starts ours
    entry = desktop_entry(home / ".local" / "share" / "applications" / "alu-client.desktop")
    assert entry["TryExec"] == str(program)

    run_install(stage, home, "--uninstall")
    for name in ("alu-client", "alu"):
        assert (bin_dir / name).read_text(encoding="utf-8") == OTHER


@pytest.mark.parametrize("name", ["alu-client", "alu"])
def test_a_link_of_an_earlier_install_is_replaced(tmp_path: Path, name: str) -> None:
    """A dangling alu from an install in a renamed home (or another PREFIX) was kept as
    "another program"."""
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    program = home / ".local" / "opt" / "alu-desk" / "alu-client"
    for i, old in enumerate(["/gone/.local/opt/alu-desk/alu-client", "/gone/elsewhere"]):
        link = bin_dir / name
        link.unlink(missing_ok=True)
        link.symlink_to(old)
        done = run_install(stage, home)
        assert os.readlink(link) == str(program), i
        assert "another program" not in done.stdout
    live = tmp_path / "other" / "opt" / "alu-desk" / "alu-client"  # another prefix's install
    live.parent.mkdir(parents=True)
    live.write_text(OTHER, encoding="utf-8")
    (bin_dir / name).unlink()
    (bin_dir / name).symlink_to(live)
    run_install(stage, home)
    assert os.readlink(bin_dir / name) == str(program)


def test_uninstall_removes_only_links_that_are_ours(tmp_path: Path) -> None:
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    live = tmp_path / "other" / "opt" / "alu-desk" / "alu-client"  # another prefix's install
    live.parent.mkdir(parents=True)
    live.write_text(OTHER, encoding="utf-8")
    (bin_dir / "alu-client").symlink_to(live)
    (bin_dir / "alu").symlink_to("/gone/.local/opt/alu-desk/alu-client")  # a leftover of ours
    run_install(stage, home, "--uninstall")
    assert os.readlink(bin_dir / "alu-client") == str(live)
    assert not (bin_dir / "alu").is_symlink()


# --- the desktop's libraries ------------------------------------------------------------------


def test_missing_desktop_libraries_are_named_with_the_apt_line(tmp_path: Path) -> None:
    """A Debian without libxcb-icccm4: installed without a word, then the window never opened."""
    stage = fake_archive(tmp_path)
    platforms = stage / "alu-client" / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    (platforms / "libqxcb.so").write_bytes(b"\x7fELF")
    tools = tmp_path / "tools"
    tools.mkdir()
    ldd = tools / "ldd"  # as Debian's, for the bundle's library folder first
    ldd.write_text(
        '#!/bin/sh\ncase "$LD_LIBRARY_PATH" in */opt/alu-desk/_internal) ;; *) exit 1 ;; esac\n'
        "printf '\\t%s => not found\\n' libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-icccm.so.4\n",
        encoding="utf-8",
    )
    ldd.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    path = os.pathsep.join((str(tools), os.environ.get("PATH", "/usr/bin:/bin")))
    done = run_install(stage, home, PATH=path)
    assert (
        "The app's window cannot open: this system lacks libxcb-icccm.so.4 libxcb-keysyms.so.1.\n"
        "Install them with: sudo apt install libxcb-icccm4 libxcb-keysyms1\n"
    ) in done.stdout
    assert "cannot open" not in run_install(fake_archive(tmp_path / "b"), home, PATH=path).stdout


# --- relative folders ----------------------------------------------------------------------------


def test_a_relative_prefix_is_taken_from_the_current_folder(tmp_path: Path) -> None:
    """``PREFIX=apps ./install.sh`` made links relative to apps/bin (dangling) and a menu
    entry with ``Exec="apps/bin/alu-client"``, reported as installed."""
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    done = run_install(stage, home, cwd=tmp_path, PREFIX="apps", XDG_DATA_HOME="share")
    program = tmp_path / "apps" / "opt" / "alu-desk" / "alu-client"
    assert f"installed in {program.parent}" in done.stdout
    for name in ("alu-client", "alu"):
        assert os.readlink(tmp_path / "apps" / "bin" / name) == str(program)
    assert start_from_menu(home, tmp_path) == ["started"]  # the relative XDG_DATA_HOME ignored
    assert not (tmp_path / "share").exists()
    run_install(stage, home, "--uninstall", cwd=tmp_path, PREFIX="./apps")
    assert not program.exists() and not (tmp_path / "apps" / "bin" / "alu").is_symlink()


# --- start at login and the uninstall -----------------------------------------------------------


def login_entry(home: Path, program: Path) -> Path:
    """The entry the app's Settings write for "Start at login" (ui/autostart.py)."""
    from alu_client.ui import autostart

    assert "XDG_CONFIG_HOME" not in os.environ
    path = autostart.enable([str(program)], environment={}, platform="linux", home=home)
    assert path == home / ".config" / "autostart" / "alu-client.desktop"
    return path


@pytest.mark.parametrize("home_name", ["home", "home with spaces", 'a\\b "c" $d'])
def test_uninstall_removes_the_start_at_login_of_this_install(
    tmp_path: Path, home_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login entry outlived ./install.sh --uninstall, pointing at a removed program."""
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    stage = fake_archive(tmp_path)
    home = tmp_path / home_name
    home.mkdir()
    run_install(stage, home)
    program = home / ".local" / "opt" / "alu-desk" / "alu-client"  # sys.executable, frozen
    entry = login_entry(home, program)
    keys = desktop_entry(entry)
    assert keys["TryExec"] == str(program)
    assert exec_argv(keys["Exec"]) == [str(program)]

    done = run_install(stage, home, "--uninstall")
    assert not program.exists()
    assert not entry.exists(), done.stdout
    assert "start at login" in done.stdout


def test_uninstall_removes_an_older_login_entry_without_tryexec(tmp_path: Path) -> None:
    """Entries written before TryExec: known by their Exec."""
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    run_install(stage, home)
    entry = home / ".config" / "autostart" / "alu-client.desktop"
    entry.parent.mkdir(parents=True)
    program = home / ".local" / "opt" / "alu-desk" / "alu-client"
    entry.write_text(f"[Desktop Entry]\nType=Application\nExec={program}\n", encoding="utf-8")
    run_install(stage, home, "--uninstall")
    assert not entry.exists()


def test_uninstall_leaves_a_login_entry_of_another_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The .deb's app (/opt/alu-desk) started at login: not this install's to remove."""
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    run_install(stage, home)
    entry = login_entry(home, Path("/opt/alu-desk/alu-client"))
    done = run_install(stage, home, "--uninstall")
    assert entry.exists()
    assert "start at login" not in done.stdout


# --- the menu entry itself -------------------------------------------------------------------------


def test_the_menu_entry_does_not_offer_to_open_files(tmp_path: Path) -> None:
    """Exec=alu-client %U told desktops the app opens files ("Open With", a file dropped on
    the dock icon), but ``alu-client FILE`` exits 2 (unrecognized arguments)."""
    from alu_client.app import parse_args

    with pytest.raises(SystemExit) as refused:
        parse_args(["/home/u/clip.mp4"])
    assert refused.value.code == 2
    keys = desktop_entry(DESKTOP)
    assert "MimeType" not in keys
    assert exec_argv(keys["Exec"], ["/home/u/clip.mp4"]) == ["alu-client"]

    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    run_install(stage, home)
    assert start_from_menu(home, tmp_path, ["/home/u/clip.mp4"]) == ["started"]


#: the keys of the Desktop Entry spec 1.4, the newest desktop-file-utils 0.26 (Debian 12) knows
SPEC_1_4_KEYS = {
    "Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden",
    "OnlyShowIn", "NotShowIn", "DBusActivatable", "TryExec", "Exec", "Path", "Terminal",
    "Actions", "MimeType", "Categories", "Implements", "Keywords", "StartupNotify",
    "StartupWMClass", "URL", "PrefersNonDefaultGPU",
}  # fmt: skip


def check_entry(path: Path) -> None:
    """The entry validates as desktop-file-utils 0.26 does: ``./run build`` stopped on
    Version=1.5 and SingleMainWindow (a 1.5 key) where desktop-file-validate is installed."""
    keys = desktop_entry(path)
    assert keys.get("Version", "1.0") in ("1.0", "1.1", "1.2", "1.3", "1.4")  # optional
    for key in keys:
        assert key.split("[")[0] in SPEC_1_4_KEYS or key.startswith("X-"), key
    validate = shutil.which("desktop-file-validate")
    if validate:
        done = subprocess.run([validate, str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "error:" not in done.stdout + done.stderr


def test_the_menu_and_login_entries_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_entry(DESKTOP)  # the .deb's
    stage = fake_archive(tmp_path)
    home = tmp_path / "home with spaces"
    home.mkdir()
    run_install(stage, home)
    check_entry(home / ".local" / "share" / "applications" / "alu-client.desktop")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    check_entry(login_entry(home, home / ".local" / "opt" / "alu-desk" / "alu-client"))


# --- what install.sh says when it cannot, and how to remove it later ---------------------------


def test_an_exported_cdpath_does_not_stop_the_install(tmp_path: Path) -> None:
    # "run me from the unpacked ALU Desk archive (alu-client/ is missing)": cd printed the
    # folder it found through CDPATH, and the path was read twice
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    r = subprocess.run(
        ["sh", os.path.relpath(stage / "install.sh", tmp_path)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
             "CDPATH": f"{tmp_path}:."},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (home / ".local" / "opt" / "alu-desk" / "alu-client").is_file()


def test_a_program_that_does_not_run_there_is_not_installed(tmp_path: Path) -> None:
    # a home mounted noexec: "installed", then "Permission denied" from the menu and the PATH
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    run_install(stage, home)  # a version that runs, installed before
    app = stage / "alu-client" / "alu-client"
    app.write_text("#!/bin/sh\necho 'cannot execute: Permission denied' >&2\nexit 126\n")
    r = run_install(stage, home, check=False)
    assert r.returncode == 1 and "installed in" not in r.stdout
    assert "not installed: the program does not run from" in r.stderr
    assert "mounted noexec" in r.stderr and "PREFIX=" in r.stderr
    opt = home / ".local" / "opt"
    assert sorted(p.name for p in opt.iterdir()) == ["alu-desk"]  # no half copy left
    assert "ALU Desk 9.9.9" in (opt / "alu-desk" / "alu-client").read_text()  # the old kept


def test_uninstall_later_from_the_install_and_its_words(tmp_path: Path) -> None:
    # the archive's install.sh was needed to uninstall; it said "removed" of nothing and named
    # ~/.local/share/alu-client whatever XDG_DATA_HOME said
    stage = fake_archive(tmp_path)
    home = tmp_path / "home"
    r = run_install(stage, home, "--uninstall")
    assert "was not installed in" in r.stdout and "removed. Your data" not in r.stdout
    r = run_install(stage, home)
    kept = home / ".local" / "opt" / "alu-desk" / "install.sh"
    assert f"To remove it: {kept} --uninstall" in r.stdout
    shutil.rmtree(stage)  # the download deleted after installing
    xdg = tmp_path / "xdg"
    gone = subprocess.run(
        ["sh", str(kept), "--uninstall"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
             "XDG_DATA_HOME": str(xdg)},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"ALU Desk removed. Your data ({xdg / 'alu-client'}) and downloads were kept." in (
        gone.stdout
    )
    assert not (home / ".local" / "opt" / "alu-desk").exists()


def test_no_room_for_the_new_copy_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    # a full disk: ~270 lines of cp errors, and a half copy left filling the disk
    stage = fake_archive(tmp_path)
    (stage / "alu-client" / "big").write_bytes(b"x" * 3 * 1024 * 1024)
    home = tmp_path / "home"
    tools = tmp_path / "tools"
    tools.mkdir()
    df = tools / "df"
    df.write_text(
        "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\n"
        "echo '/dev/vdb 100000 99000 1000 99% /home'\n"
    )
    df.chmod(0o755)
    r = run_install(
        stage, home, check=False, PATH=f"{tools}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    )
    assert r.returncode == 1, r.stdout
    assert r.stderr.count("\n") == 1 and "not installed: " in r.stderr and "0 MB free" in r.stderr
    assert not (home / ".local" / "opt" / "alu-desk.new").exists()
    assert not (home / ".local" / "opt" / "alu-desk").exists()
