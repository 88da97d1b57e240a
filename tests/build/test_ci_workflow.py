"""The GitHub workflow (.github/workflows/build.yml) against what the suite needs, checked here
because GitHub Actions itself cannot run on the project's machine:

- the Linux job installs every package ``.ci/run`` installs (but Chromium, which GitHub's Ubuntu
  image has as /usr/bin/chromium and Ubuntu packages only as a snap, and Node.js and npm,
  which ``.ci/run`` adds only where missing and the image has), and runs the suite and the
  build as root with CI=true, as ``.ci/run`` does (the disk-full cells need root);
- the Windows and macOS test step leaves out exactly the tests that need nginx or squid
  (tests/support/nginx.py and squid.py fail without them, wherever they run), runs with
  CI=false (so that a missing PostgreSQL, Chromium or root is a skip there) on SQLite, and
  what it selects can be collected with what Windows lacks hidden (an ``import fcntl`` at the
  top of a test module failed every Windows run at collection).
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
#: the helpers that start nginx or squid, or fail for want of them
SERVER_HELPERS = frozenset(
    {"start_nginx", "reverse_proxy", "ensure_nginx", "start_squid", "ensure_squid"}
)
#: in .ci/run, not in the workflow, and why
NOT_FROM_APT_ON_GITHUB = {
    "chromium": "the image's /usr/bin/chromium",
    "nodejs": "the image's",
    "npm": "the image's",
}


def steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load((ROOT / ".github/workflows/build.yml").read_text(encoding="utf-8"))
    return list(workflow["jobs"]["installer"]["steps"])


def step(named: str) -> dict[str, Any]:
    found = [s for s in steps() if str(s.get("name", "")).startswith(named)]
    assert len(found) == 1, [s.get("name") for s in steps()]
    return found[0]


def ci_run_packages() -> set[str]:
    text = (ROOT / ".ci/run").read_text(encoding="utf-8")
    return {p for group in re.findall(r"pkgs\+?=\(([^)]*)\)", text) for p in group.split()}


def apt_installed(run: str) -> set[str]:
    joined = run.replace("\\\n", " ")
    line = next(line for line in joined.splitlines() if "apt-get install" in line)
    words = line.split("apt-get install", 1)[1].split()
    return {w for w in words if not w.startswith("-")}


def test_the_linux_job_installs_what_ci_run_installs_and_runs_as_it() -> None:
    packages = step("System packages")
    assert packages["if"] == "runner.os == 'Linux'"
    assert ci_run_packages() - apt_installed(packages["run"]) == set(NOT_FROM_APT_ON_GITHUB)
    assert "command -v chromium" in packages["run"]
    for name, command in (("Tests", "./run tests"), ("Build the .deb", "./run build --self-test")):
        run = " ".join(step(name)["run"].split())
        assert (
            run == f'sudo env "PATH=$PATH" CI=true QT_QPA_PLATFORM=offscreen PYTHONUTF8=1 {command}'
        )


def core_tests_args() -> list[str]:
    core = step("Core tests")
    assert core["if"] == "runner.os != 'Linux'"
    assert core["env"] == {"CI": "false", "ALU_TEST_DATABASE": "sqlite"}
    words = shlex.split(core["run"])
    assert words[:3] == ["python", "-m", "pytest"]
    return words[3:]


@cache
def needing_servers(module: str) -> frozenset[str]:
    """The module-level functions of a test module (tests, fixtures) that use nginx or squid:
    through a helper, a fixture of the module that does, or one imported from another test
    module that does."""
    path = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    needed = set(SERVER_HELPERS)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests."):
            source = node.module or ""
            if (ROOT / (source.replace(".", "/") + ".py")).is_file() and "support" not in source:
                needed |= {a.asname or a.name for a in node.names} & needing_servers(source)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    found: set[str] = set()
    while True:
        more = {
            f.name
            for f in functions
            if f.name not in found
            and (
                {n.id for n in ast.walk(f) if isinstance(n, ast.Name)}
                | {a.arg for a in f.args.args}
            )
            & (needed | found)
        }
        if not more:
            return frozenset(found)
        found |= more


def test_windows_and_macos_leave_out_exactly_the_tests_that_need_nginx_or_squid() -> None:
    args = core_tests_args()
    ignored = {a.split("=", 1)[1] for a in args if a.startswith("--ignore=")}
    deselected = {a.split("=", 1)[1] for a in args if a.startswith("--deselect=")}
    folders = [a for a in args if a.startswith("tests/")]
    assert folders == ["tests/hub", "tests/client", "tests/build"]
    should_ignore, should_deselect = set(), set()
    for folder in folders:
        for path in sorted((ROOT / folder).glob("test_*.py")):
            rel = path.relative_to(ROOT).as_posix()
            needing = needing_servers(rel.removesuffix(".py").replace("/", "."))
            tests = {n for n in needing if n.startswith("test_")}
            if needing - tests:  # a fixture: every test of the module may use it
                should_ignore.add(rel)
            else:
                should_deselect |= {f"{rel}::{t}" for t in tests}
    assert ignored == should_ignore
    assert deselected == should_deselect


def test_what_windows_runs_can_be_collected_there() -> None:
    env = {
        **os.environ,
        "CI": "false",
        "ALU_TEST_DATABASE": "sqlite",
        "QT_QPA_PLATFORM": "offscreen",
    }
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.support.as_on_windows",
            "-p",
            "no:cacheprovider",
            "--collect-only",
            "-q",
            *core_tests_args(),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in r.stdout.splitlines() if line.startswith("ERROR")]
    assert r.returncode == 0 and not errors, r.stdout[-5000:] + r.stderr[-2000:]
