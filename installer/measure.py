"""Size and start-up time of a built ALU Desk (the one-folder app).

    ./run python installer/measure.py [dist/alu-client/alu-client] [--runs 3] [--drop-caches]

Prints the size of the app folder (and of the packages in dist/ beside it), then, for each
run, two start-up times of the built app, each a fresh process:

- ``self-test``: from exec to the self-test's first check line (Python, Qt and the app's
  modules loaded, the QApplication made, the platform check done); the run is then ended;
- ``window``: ``--demo`` with ``ALU_CLIENT_EXIT_AFTER=1`` on a demo folder seeded beforehand,
  from exec to the line the app prints one second after its main window is up, less that
  second: the start to a usable window (embedded hub, sign-in, engine, panels).

``--drop-caches`` (Linux, root) empties the page cache before each run: a cold start as
after a reboot; without it the runs after the first are warm. Everything runs offscreen in
temporary folders; nothing talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB ({n / 2**20:.0f} MiB)"


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def time_to_line(cmd: list[str], env: dict[str, str], marker: str, timeout: float) -> float:
    """Seconds from exec to the first stdout line containing ``marker``; the process is ended
    after it."""
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 - the app under test
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line:
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                break
        raise RuntimeError(f"{marker!r} never came from {' '.join(cmd)}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("app", nargs="?", default="dist/alu-client/alu-client")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--drop-caches", action="store_true")
    args = p.parse_args()
    app = Path(args.app).resolve()
    if not app.is_file():
        print(f"measure.py: {app} is not a built app (./run build first)", file=sys.stderr)
        return 2
    print(f"app folder {app.parent}: {mb(folder_size(app.parent))}")
    for pkg in sorted(app.parent.parent.glob("alu-desk*")):
        print(f"{pkg.name}: {mb(pkg.stat().st_size)}")

    with tempfile.TemporaryDirectory(prefix="alu-measure-") as tmp:
        base = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "ALU_DEMO_CLIP_SECONDS": "0.5",
            "ALU_DEMO_CLIP_SIZE": "160x96",
        }
        base.pop("ALU_CLIENT_HOME", None)
        demo = Path(tmp) / "demo"
        seed = dict(base, ALU_CLIENT_EXIT_AFTER="1")
        subprocess.run(  # noqa: S603 - seeds the demo folder once, not timed
            [str(app), "--demo", "--data", str(demo)],
            env=seed,
            check=True,
            capture_output=True,
            timeout=600,
        )
        cold = ""
        for run in range(1, args.runs + 1):
            run_tmp = Path(tmp) / f"run{run}"
            run_tmp.mkdir()
            env = dict(base, TMPDIR=str(run_tmp), TMP=str(run_tmp), TEMP=str(run_tmp))
            if args.drop_caches:
                cold = " (page cache dropped)" if drop_caches() else " (could not drop caches)"
            first = time_to_line([str(app), "--self-test"], env, " platform ", 120)
            if args.drop_caches:
                drop_caches()
            window = time_to_line(
                [str(app), "--demo", "--data", str(demo)],
                dict(env, ALU_CLIENT_EXIT_AFTER="1"),
                "ALU_CLIENT_EXIT_AFTER:",
                120,
            )
            print(
                f"run {run}{cold}: self-test first check line {first:.2f} s; "
                f"demo window up {window - 1:.2f} s"
            )
            shutil.rmtree(run_tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
