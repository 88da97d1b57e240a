"""What the engine benchmarks share: servers in processes of their own (nginx, a tus-only hub),
the ``linkem`` link, big files, timing, and the one-line-per-figure result table.

Everything started here is a context manager that stops what it started in a ``finally``;
every wait has a deadline. Nothing listens beyond 127.0.0.1 and the linkem namespaces.
"""

from __future__ import annotations

import bisect
import contextlib
import grp
import hashlib
import json
import os
import pwd
import resource
import select
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.waiting import end_process

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
NGINX = Path("/usr/sbin/nginx")
LINKEM = ROOT.parent / "shared" / "tools" / "linkem"
NS_CLI, NS_SRV = "linkem-cli", "linkem-srv"
IP_CLI, IP_SRV = "10.77.0.1", "10.77.0.2"
#: for the processes we start (the CLI, the hub): this tree's sources first, so that a git
#: worktree run measures its own code and not the editable install the venv points at
SUBPROCESS_PYTHONPATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
MB = 1_000_000


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure, its baseline from the same run, and the target it is held to."""

    bench: str
    what: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    #: "higher" (value / baseline, or value itself, must reach ``target``) or "lower"
    better: str = "higher"
    target: float | None = None
    #: "ratio": the target applies to value / baseline_value; "value": to the value itself
    target_on: str = "ratio"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        x = self.ratio if self.target_on == "ratio" else self.value
        if x is None:
            return None
        return x >= self.target if self.better == "higher" else x < self.target

    def line(self) -> str:
        base = f"{self.baseline}: {_num(self.baseline_value)}" if self.baseline else "-"
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else "-"
        if self.target is None:
            target, verdict = "-", "info"
        else:
            sign = ">=" if self.better == "higher" else "<"
            suffix = "x" if self.target_on == "ratio" else f" {self.unit}"
            target = f"{sign} {self.target:g}{suffix}"
            verdict = "MET" if self.met else "MISSED"
        note = f" | {self.note}" if self.note else ""
        return (
            f"BENCH | {self.bench} | {self.what} | {_num(self.value)} {self.unit} | {base} | "
            f"{ratio} | {target} | {verdict}{note}"
        )


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def report(figure: Figure) -> Figure:
    """Print the figure's table line; with ``ALU_BENCH_OUT=FILE`` also append it there as JSON."""
    print(figure.line(), flush=True)
    out = os.environ.get("ALU_BENCH_OUT")
    if out:
        record = {
            **asdict(figure),
            "ratio": figure.ratio,
            "met": figure.met,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load": load_average(),
        }
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    return figure


def check_measured(figures: Sequence[Figure]) -> None:
    """A benchmark passes when every figure was measured, whether or not its target was met."""
    assert figures, "no figure was measured"
    for f in figures:
        assert f.value > 0 and f.value == f.value, f"not measured: {f.line()}"
        if f.baseline:
            assert f.baseline_value is not None and f.baseline_value > 0, f"no baseline: {f.line()}"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def note(text: str) -> None:
    print(f"BENCH-NOTE | {text}", flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> str:
    return f"{len(values)} runs, {min(values):.2f}-{max(values):.2f} s"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# --- files ---------------------------------------------------------------------------------------


def need_space(path: Path, needed: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path).free
    if free < needed + 2 * GIB:
        pytest.fail(
            f"the benchmark needs {needed / GIB:.1f} GiB free under {path} (+2 GiB spare); "
            f"{free / GIB:.1f} GiB are",
            pytrace=False,
        )


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; return their sha256 (hex)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    block = 16 * MIB
    with open(path, "wb") as f:
        left = size
        while left > 0:
            data = os.urandom(min(block, left))
            f.write(data)
            h.update(data)
            left -= len(data)
    return h.hexdigest()


def sparse_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def zeros_sha256(size: int) -> str:
    h = hashlib.sha256()
    block = bytes(4 * MIB)
    left = size
    while left > 0:
        n = min(len(block), left)
        h.update(block if n == len(block) else block[:n])
        left -= n
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    return h.hexdigest()


def hash_speed(algorithm: str, total: int = 512 * MIB) -> float:
    """A checksum's speed here (hashlib's, or zlib's crc32), in MB/s, over 1 MiB updates (as
    the engine feeds it)."""
    from alu_client.core.transfers.upload.checksums import new_digest

    block = os.urandom(MIB)
    h = new_digest(algorithm)
    t0 = time.perf_counter()
    for _ in range(total // MIB):
        h.update(block)
    return total / (time.perf_counter() - t0) / MB


def remove(path: Path) -> None:
    """Delete a big file or a folder of them (benchmarks leave nothing large behind)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --- processes ------------------------------------------------------------------------------------


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


def run_timed(
    argv: Sequence[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[float, str]:
    """Run a command to its end; (wall seconds, stdout). Fails the test on a non-zero exit."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{argv[0]}… did not finish in {timeout:.0f} s: {' '.join(argv)[:300]}")
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        pytest.fail(
            f"exit {done.returncode}: {' '.join(argv)[:300]}\n"
            f"{done.stderr.decode(errors='replace')[-2000:]}"
        )
    return elapsed, done.stdout.decode(errors="replace")


@dataclass
class Sampled:
    """A command run to its end while the byte counter of one interface of its network
    namespace was read every 0.1 s."""

    elapsed: float
    stdout: str
    #: (seconds since start, bytes counted so far: whole IP packets)
    samples: list[tuple[float, int]]

    def rates(self, window: float = 0.5) -> list[tuple[float, float]]:
        """(end of window, bytes per second over the ``window`` seconds before it)."""
        times = [t for t, _ in self.samples]
        out: list[tuple[float, float]] = []
        for t, b in self.samples:
            t0, b0 = self.samples[bisect.bisect_left(times, t - window)]
            if t - t0 >= window * 0.8:
                out.append((t, (b - b0) / (t - t0)))
        return out

    def profile(self, rate_bytes: float) -> str:
        """Where the time went: until the link was half full, how full it was while busy,
        how often it dipped meanwhile (bbr's ProbeRTT: every ~10 s the sender holds 4 packets
        in flight for 200 ms and a round trip, and the link runs dry), and how long the end
        took after it was last 80 % full (a slow last stream)."""
        win = self.rates()
        if len(win) < 3:
            return "too short to profile"
        full = [t for t, r in win if r >= 0.8 * rate_bytes]
        half = next((t for t, r in win if r >= 0.5 * rate_bytes), None)
        if half is None or not full:
            return f"link never half full (peak {max(r for _, r in win) / rate_bytes:.2f})"
        last_full = full[-1]
        b0 = next(b for t, b in self.samples if t >= half)
        b1 = next(b for t, b in self.samples if t >= last_full)
        busy = (b1 - b0) / max(last_full - half, 1e-9) / rate_bytes
        # dips: windows under 70 % of the link between the two, counted once per run of them
        dips: list[float] = []
        low = False
        for t, r in win:
            if half < t < last_full and r < 0.7 * rate_bytes:
                if not low:
                    dips.append(t)
                low = True
            else:
                low = False
        every = (dips[-1] - dips[0]) / (len(dips) - 1) if len(dips) > 1 else 0.0
        return (
            f"link half full after {half:.1f} s; {busy:.3f} of the link (IP bytes) from then "
            f"until {last_full:.1f} s, with {len(dips)} dips under 70 %"
            + (f" (one every {every:.1f} s)" if every else "")
            + f"; then {self.elapsed - last_full:.1f} s of tail below 80 %"
        )


def run_sampled(
    argv: Sequence[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    iface: str = "lkm-cli",
    direction: str = "rx",
    counter_pid: int | None = None,
) -> Sampled:
    """Like ``run_timed`` for a command run with ``ip netns exec`` (which keeps its pid), also
    sampling ``iface``'s rx or tx byte counter (every 0.1 s) from ``/proc/<pid>/net/dev`` (of the command, or
    of ``counter_pid``: a process in the other namespace). Count what arrives (rx): what is
    sent (tx) includes the packets the link then drops."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    samples: list[tuple[float, int]] = []
    column = 0 if direction == "rx" else 8
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                dev = Path(f"/proc/{counter_pid or proc.pid}/net/dev")
                for line in dev.read_text().splitlines():
                    name, _, counters = line.partition(":")
                    if name.strip() == iface:
                        samples.append((time.perf_counter() - t0, int(counters.split()[column])))
            except (OSError, ValueError, IndexError):
                pass  # not in the namespace yet, or already gone
            try:
                proc.wait(0.1)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    pytest.fail(f"did not finish in {timeout:.0f} s: {' '.join(argv)[:300]}")
        elapsed = time.perf_counter() - t0
        out, err = proc.communicate(timeout=30)
    finally:
        end_process(proc)
    if proc.returncode != 0:
        pytest.fail(
            f"exit {proc.returncode}: {' '.join(argv)[:300]}\n{err.decode(errors='replace')[-2000:]}"
        )
    return Sampled(elapsed, out.decode(errors="replace"), samples)


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds so far of ``who`` (``resource.RUSAGE_SELF``, or
    ``RUSAGE_CHILDREN``: the children waited for); a difference of two calls is what a run
    cost. On a machine of few cores a run can be bound by CPU rather than by its transport."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def settled() -> None:
    """Before a timed run: the dirty pages of the runs before it written out (``sync``,
    not timed). A run that follows a 1 GiB write otherwise pays for its writeback: the
    2026-12-07 pass of target 2 had the variant that ran right after tuspy's upload slower
    in all its runs (1.07x) than the same code run next (1.80x)."""
    os.sync()


def rotated(variants: Sequence[T], i: int) -> list[T]:
    """``variants`` in the order of pass ``i``: each starts one pass in turn, so that none is
    always the one run first (after the warm-up) or right after a given other."""
    k = i % len(variants) if variants else 0
    return [*variants[k:], *variants[:k]]


def _read_line(proc: subprocess.Popen[bytes], timeout: float, what: str, log: Path) -> str:
    """The first line a process prints, within ``timeout`` seconds."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    got = b""
    while b"\n" not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{what} did not start within {timeout:.0f} s ({_tail(log)})")
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                proc.wait(5)
                raise AssertionError(f"{what} exited ({proc.returncode}): {_tail(log)}")
            got += chunk
    return got.split(b"\n", 1)[0].decode()


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-1500:]
    except OSError:
        return "no log"


def _wait_ready(probe: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while not probe():
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited at start ({proc.returncode})")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer within 15 s")
        time.sleep(0.1)


# --- nginx ----------------------------------------------------------------------------------------


@dataclass
class Nginx:
    host: str
    port: int
    root: Path

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/{name}"


def _free_port(host: str) -> int:
    from alu_hub.server import free_port

    return free_port(host)


@contextlib.contextmanager
def nginx(
    root: Path, base: Path, *, host: str = "127.0.0.1", port: int = 0, netns: str | None = None
) -> Iterator[Nginx]:
    """nginx serving ``root`` on ``host``:``port`` (in ``netns`` if given), stopped on exit."""
    if not NGINX.exists():
        pytest.fail("nginx is needed at /usr/sbin/nginx (apt-get install nginx-light)")
    base.mkdir(parents=True, exist_ok=True)
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (base / d).mkdir(exist_ok=True)
    port = port or (_free_port(host) if netns is None else 8080)
    user = ""
    if os.geteuid() == 0:  # workers would run as nobody: no access to the temp folder
        user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};"
    conf = base / "nginx.conf"
    conf.write_text(
        f"""{user}
daemon off;
master_process on;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    sendfile on;
    keepalive_requests 10000;
    server {{
        listen {host}:{port};
        root {root};
    }}
}}
"""
    )
    log = base / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            in_netns(netns, [str(NGINX), "-p", str(base), "-c", str(conf)]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:

        def answers() -> bool:
            probe = in_netns(
                netns,
                ["curl", "-s", "-o", "/dev/null", "--max-time", "2", f"http://{host}:{port}/"],
            )
            return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0

        _wait_ready(answers, proc, "nginx")
        yield Nginx(host, port, root)
    finally:
        end_process(proc)


# --- a tus-only hub in another process ---------------------------------------------------------

_HUB_SCRIPT = """
import json, sys
from pathlib import Path
from fastapi import FastAPI
from alu_hub.auth import hash_password, issue_token
from alu_hub.db import Database
from alu_hub.errors import install_handlers
from alu_hub.hub import Hub
from alu_hub.models import Member
from alu_hub.server import serve_in_thread
from alu_hub.settings import Settings
from alu_hub.storage import LocalStorage
from alu_hub.tus import tus_router

data, host = Path(sys.argv[1]), sys.argv[2]
data.mkdir(parents=True, exist_ok=True)
db = Database(f"sqlite:///{data}/hub.sqlite3")
db.migrate()
hub = Hub(settings=Settings(data_dir=data), db=db, storage=LocalStorage(data / "storage"))
with db.session() as s:
    member = Member(username="bench", password_hash=hash_password("x"), country="KE")
    s.add(member)
    s.flush()
    token, _ = issue_token(s, member, "bench", 24 * 3600)
hub.on_upload_complete = lambda _id: None  # keep the bytes; no publishing
app = FastAPI()
app.state.hub = hub
install_handlers(app)
app.include_router(tus_router())
server = serve_in_thread(app, host)
print(json.dumps({"url": server.url, "token": token}), flush=True)
sys.stdin.read()
server.stop()
db.dispose()
"""


@dataclass
class TusHub:
    url: str
    token: str
    data: Path
    pid: int

    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/v1/uploads/"

    @property
    def uploads(self) -> Path:
        return self.data / "uploads"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def upload_path(self, url: str) -> Path:
        return self.uploads / url.rstrip("/").rsplit("/", 1)[-1]

    def state(self, url: str) -> tuple[str, int, int | None]:
        """(state, offset, length) of an upload, read from the hub's database (no request)."""
        uid = url.rstrip("/").rsplit("/", 1)[-1]
        con = sqlite3.connect(self.data / "hub.sqlite3", timeout=10)
        try:
            row = con.execute(
                'SELECT state, "offset", length FROM uploads WHERE id = ?', (uid,)
            ).fetchone()
        finally:
            con.close()
        assert row is not None, "the hub has no such upload"
        return str(row[0]), int(row[1]), row[2]

    def wait_received(self, url: str, timeout: float = 600.0) -> float:
        """Wait until the hub holds every byte of ``url`` (a final upload: assembled); the
        seconds waited."""
        t0 = time.perf_counter()
        deadline = time.monotonic() + timeout
        while True:
            state, _, _ = self.state(url)
            if state != "receiving":
                assert state in ("processing", "published"), f"upload ended {state}"
                return time.perf_counter() - t0
            if time.monotonic() > deadline:
                raise AssertionError(f"the hub did not finish the upload in {timeout:.0f} s")
            time.sleep(0.02)

    def drop(self, url: str) -> None:
        """Delete what the hub stored for ``url`` (the next run has the disk space), and let
        the disk settle: without the sync the run after a 1 GiB one shares the disk with its
        writeback (on this VM the first variant after tuspy ran ~15 % slower than the same
        code right after it)."""
        self.upload_path(url).unlink(missing_ok=True)
        if hasattr(os, "sync"):
            os.sync()


@contextlib.contextmanager
def tus_hub(data: Path, *, host: str = "127.0.0.1", netns: str | None = None) -> Iterator[TusHub]:
    """A hub with the tus router only (no publishing) in its own process, like
    ``tests/hub/test_tus.py::make_env``; one member, whose token it prints."""
    data.mkdir(parents=True, exist_ok=True)
    log = data / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            in_netns(netns, [PYTHON, "-c", _HUB_SCRIPT, str(data), host]),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": SUBPROCESS_PYTHONPATH},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        info = json.loads(_read_line(proc, 60, "the hub", log))
        yield TusHub(info["url"], info["token"], data, proc.pid)
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            end_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


# --- linkem ---------------------------------------------------------------------------------------


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.fail(
            f"{what} needs root: linkem creates network namespaces and TUN devices. "
            "Run it as root (sudo ./run bench -k linkem) on a machine with /dev/net/tun.",
            pytrace=False,
        )
    if not Path("/dev/net/tun").exists():
        pytest.fail(f"{what} needs /dev/net/tun", pytrace=False)
    if not LINKEM.exists():
        pytest.fail(f"{what} needs {LINKEM}", pytrace=False)


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


@dataclass
class Link:
    delay_ms: float
    loss: float
    rate_mbit: float
    banner: str
    stats_file: Path

    @property
    def rate_bytes(self) -> float:
        return self.rate_mbit * 1e6 / 8

    def stats(self) -> dict[str, Any]:
        """linkem's counters (written when it stops)."""
        try:
            data: dict[str, Any] = json.loads(self.stats_file.read_text())
        except (OSError, ValueError):
            return {}
        return data


@contextlib.contextmanager
def linkem(
    base: Path, *, delay_ms: float, loss: float, rate_mbit: float, cc: str = ""
) -> Iterator[Link]:
    """``linkem up`` with these figures, carried by a process of ours; stopped (which removes
    its namespaces) on exit. Refuses to start if the namespaces exist already (someone else's
    link: ``linkem up`` would tear it down)."""
    require_root("linkem")
    if {NS_CLI, NS_SRV} & netns_list() or Path("/tmp/linkem.pid").exists():
        pytest.fail(
            "linkem seems to be running already (namespaces linkem-cli/linkem-srv or "
            "/tmp/linkem.pid exist); wait for that run to end, or `linkem down` if it is stale",
            pytrace=False,
        )
    base.mkdir(parents=True, exist_ok=True)
    stats = base / "linkem-stats.json"
    log = base / "linkem.log"
    argv = [
        PYTHON,
        str(LINKEM),
        "up",
        "--delay-ms",
        str(delay_ms),
        "--loss",
        str(loss),
        "--rate-mbit",
        str(rate_mbit),
        "--stats",
        str(stats),
    ]
    if cc:
        argv += ["--cc", cc]
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    try:
        banner = _read_line(proc, 20, "linkem", log)
        if not banner.startswith("linkem up"):
            raise AssertionError(f"linkem said {banner!r}")
        if {NS_CLI, NS_SRV} - netns_list():
            raise AssertionError("linkem is up but its namespaces are not there")
        if cc and not banner.endswith(f"tcp {cc}"):
            pytest.fail(
                f"this kernel would not set TCP congestion control {cc!r} in the namespaces "
                f"({banner.rsplit(',', 1)[-1].strip()}); the figures would be mislabelled",
                pytrace=False,
            )
        note(banner)
        yield Link(delay_ms, loss, rate_mbit, banner, stats)
    finally:
        end_process(proc, 15)  # SIGTERM: linkem removes its namespaces itself
        if proc.stdout is not None:
            proc.stdout.close()
        for ns in {NS_CLI, NS_SRV} & netns_list():  # ours, in case it could not
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


# --- memory ---------------------------------------------------------------------------------------


def vm_kib(field: str, pid: int | str = "self") -> int:
    """A figure of ``/proc/<pid>/status`` in KiB (VmRSS: resident now; VmHWM: its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


# --- tuspy as a plain client would use it -----------------------------------------------------------

TUSPY_SCRIPT = """
import sys
from tusclient.client import TusClient
endpoint, token, path, sha, chunk = sys.argv[1:6]
client = TusClient(endpoint, headers={"Authorization": "Bearer " + token})
up = client.uploader(file_path=path, chunk_size=int(chunk),
                     metadata={"filename": "bench.bin", "sha256": sha})
up.upload()
print(up.url, flush=True)
"""
