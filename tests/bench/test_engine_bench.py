"""Benchmarks of the transfer engine (issue 3): against curl and tuspy on loopback, over linkem
(20 Mbit/s, 300 ms RTT, 2 % loss), and its memory with four large transfers at once.

Run on demand, never in ``./run tests``: ``./run bench -k engine`` (all), or one of
``-k loopback_download``, ``-k loopback_upload``, ``-k linkem_download``, ``-k linkem_upload``,
``-k peak_rss``. Each prints one ``BENCH |`` line per figure: the figure, its baseline measured
in the same run, their ratio, the target and MET or MISSED. A benchmark passes when its figures
were measured; a missed target is printed, not failed. The linkem ones need root.

Sizes (env): ``ALU_BENCH_MIB`` (loopback, 1024), ``ALU_BENCH_REPEAT`` (loopback runs of each
variant, 3; the median counts), ``ALU_BENCH_LINK_MB`` (linkem file, 100 MB),
``ALU_BENCH_LINK_REPEAT`` (1), ``ALU_BENCH_LINK_CC`` (TCP congestion control on the link, e.g.
cubic; default: the kernel's), ``ALU_BENCH_RSS_MIB`` (each of the four transfers, 2048).
``ALU_BENCH_OUT=FILE`` appends every figure to FILE as JSON.

The loopback ones run their variants in turn, ``ALU_BENCH_REPEAT`` passes, the order rotated from
pass to pass, each timed run after a ``sync`` (not timed): a run is not charged for the writeback
of the one before it. Start from dropped caches (``sync; echo 3 > /proc/sys/vm/drop_caches``, root):
a page cache full of other files more than doubled the download's CPU (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from alu_client.core.transfers import download, upload
from alu_client.core.transfers.base import (
    Control,
    MemoryCheckpoint,
    SessionPool,
    TransferContext,
    Tuning,
)
from tests.bench.helpers import (
    IP_SRV,
    MB,
    MIB,
    NS_CLI,
    NS_SRV,
    PYTHON,
    ROOT,
    SUBPROCESS_PYTHONPATH,
    TUSPY_SCRIPT,
    Figure,
    check_measured,
    cpu_seconds,
    env_int,
    file_sha256,
    hash_speed,
    in_netns,
    linkem,
    load_average,
    median,
    need_space,
    nginx,
    note,
    random_file,
    remove,
    report,
    require_root,
    rotated,
    run_sampled,
    run_timed,
    settled,
    sparse_file,
    spread,
    timed,
    tus_hub,
    zeros_sha256,
)

pytestmark = pytest.mark.bench

LINK = {"delay_ms": 150.0, "loss": 0.02, "rate_mbit": 20.0}


def link_cc() -> str:
    """TCP congestion control for both namespaces (``ALU_BENCH_LINK_CC``); "" = the kernel's."""
    return os.environ.get("ALU_BENCH_LINK_CC", "").strip()


def link_timeout(variants: int, floor: float) -> float:
    """Seconds allowed for one linkem run (``variants=1``) or a whole test: the file at a third
    of the link rate per variant, and never less than ``floor`` (the 100 MB default's limits),
    so that ``ALU_BENCH_LINK_MB=1024`` (tuspy alone takes ~17 min there) is not cut short."""
    size = env_int("ALU_BENCH_LINK_MB", 100) * MB
    rate = LINK["rate_mbit"] * 1e6 / 8
    per_run = size / (rate / 3)
    repeat = env_int("ALU_BENCH_LINK_REPEAT", 1) if variants > 1 else 1
    return max(floor, variants * repeat * per_run + 300)


#: the best TCP can do on linkem: its rate counts whole IP packets, and of a 1500-byte packet
#: 52 bytes are IP and TCP headers (with timestamps)
TCP_CEILING = 1448 / 1500


def context() -> TransferContext:
    """A job context as a one-shot run builds it: default tuning, checkpoint in memory."""
    return TransferContext(
        control=Control(),
        checkpoint=MemoryCheckpoint(),
        sessions=SessionPool(),
        tuning=Tuning(),
    )


def fetch(url: str, dest: Path, sha: str, segments: int | None) -> download.DownloadResult:
    ctx = context()
    try:
        return download.run(download.DownloadSpec(url, dest, sha256=sha, segments=segments), ctx)
    finally:
        ctx.sessions.close()


#: one upload of target 2 in a process of its own
UPLOAD_ONCE = Path(__file__).with_name("upload_once.py")

#: the CLI's compiled modules (outside the tree), made once per run: see ``cli_env``
_PYCACHE = Path(tempfile.gettempdir()) / "alu-bench-pycache"
_compiled: list[bool] = []


def cli_env(home: Path) -> dict[str, str]:
    """The CLI's environment: its data folder, this tree's sources, and run from compiled
    modules as an installed app is. A machine that sets ``PYTHONDONTWRITEBYTECODE`` (this one
    does) made every ``alu`` run compile its ~130 modules again: 0.2 s of each timed run."""
    env = {
        **os.environ,
        "ALU_CLIENT_HOME": str(home),
        "PYTHONPATH": SUBPROCESS_PYTHONPATH,
        "PYTHONPYCACHEPREFIX": str(_PYCACHE),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not _compiled:
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "src")], env=env, check=True)
        _compiled.append(True)
    return env


def alu(*args: str) -> list[str]:
    return [PYTHON, "-m", "alu_client.cli", *args]


def in_turn(
    bench: str,
    variants: list[tuple[str, Callable[[int], None]]],
    repeat: int,
    times: dict[str, list[float]],
) -> None:
    """``repeat`` passes of every variant (each records its time under its key in ``times``),
    the order rotated from pass to pass, each run after a ``sync``; every run's time is noted
    in the order they ran, so that a slow pass (the first after dropping caches) shows."""
    for i in range(repeat):
        for key, variant in rotated(variants, i):
            settled()
            variant(i)
            note(f"{bench}: pass {i + 1}: {key} {times[key][-1]:.2f} s")


# --- 1: 1 GiB loopback download vs curl ----------------------------------------------------------


@pytest.mark.timeout(1800)
def test_loopback_download_vs_curl(tmp_path: Path) -> None:
    size = env_int("ALU_BENCH_MIB", 1024) * MIB
    repeat = env_int("ALU_BENCH_REPEAT", 3)
    work = tmp_path / "work"
    need_space(work, 3 * size)
    bench = f"1 loopback download {size // MIB} MiB"
    note(f"{bench}: load {load_average()}, {os.cpu_count()} CPUs")
    figures: list[Figure] = []
    try:
        sha = random_file(work / "www" / "big.bin", size)
        sha_speed = hash_speed("sha256")
        out = work / "out"
        out.mkdir()
        times: dict[str, list[float]] = defaultdict(list)
        # CPU seconds (user + system) of each run: the machine's cores are shared by the
        # client, the server and the hash, and a run bound by them is not bound by its transfer
        cpu: dict[str, list[float]] = defaultdict(list)
        with nginx(work / "www", work / "nginx") as ng:
            url = ng.url("big.bin")
            run_timed(["curl", "-sS", "--fail", "-o", "/dev/null", url], timeout=300)  # warm-up

            def run_curl_null(_i: int) -> None:
                t, _ = run_timed(["curl", "-sS", "--fail", "-o", "/dev/null", url], timeout=300)
                times["curl_null"].append(t)

            def run_curl_file(_i: int) -> None:
                f = out / "curl.bin"
                c0 = cpu_seconds(resource.RUSAGE_CHILDREN)
                t_get, _ = run_timed(["curl", "-sS", "--fail", "-o", str(f), url], timeout=300)
                cpu["curl_file"].append(cpu_seconds(resource.RUSAGE_CHILDREN) - c0)
                # what curl leaves undone that we do: the data on disk (fsync) before it counts
                t_sync, _ = run_timed(["sync", str(f)], timeout=300)
                t_sum, printed = run_timed(["sha256sum", str(f)], timeout=300)
                assert printed.split()[0] == sha
                times["curl_file"].append(t_get)
                times["curl_file_sync"].append(t_get + t_sync)
                times["sha256sum"].append(t_sum)
                times["curl_verified"].append(t_get + t_sum)
                remove(f)

            def run_engine(label: str, segments: int | None) -> Callable[[int], None]:
                def one(_i: int) -> None:
                    dest = out / f"{label}.bin"
                    c0 = cpu_seconds(resource.RUSAGE_SELF)
                    t, result = timed(lambda: fetch(url, dest, sha, segments))
                    cpu[label].append(cpu_seconds(resource.RUSAGE_SELF) - c0)
                    assert result.sha256 == sha and result.size == size
                    assert dest.stat().st_size == size
                    times[label].append(t)
                    remove(dest)

                return one

            def run_cli(i: int) -> None:
                dest = out / "cli.bin"
                c0 = cpu_seconds(resource.RUSAGE_CHILDREN)
                t, _ = run_timed(
                    alu("fetch", url, str(dest), "--sha256", sha),
                    timeout=300,
                    env=cli_env(work / f"home{i}"),
                )
                cpu["ours_cli"].append(cpu_seconds(resource.RUSAGE_CHILDREN) - c0)
                assert dest.stat().st_size == size
                times["ours_cli"].append(t)
                remove(dest)

            variants = [
                ("curl_null", run_curl_null),
                ("curl_file", run_curl_file),
                ("ours_auto", run_engine("ours_auto", None)),
                ("ours_1", run_engine("ours_1", 1)),
                ("ours_cli", run_cli),
            ]
            in_turn(bench, variants, repeat, times)

        def rate(key: str) -> float:
            return size / median(times[key]) / MB

        sha256sum = rate("sha256sum")
        curl_null, curl_verified = rate("curl_null"), rate("curl_verified")
        serial_bound = 1 / (1 / curl_null + 1 / sha_speed)
        for what, value in (
            ("hashlib sha256 (this VM, same run)", sha_speed),
            ("sha256sum (coreutils) on the downloaded file", sha256sum),
            (f"curl -o /dev/null (transport only; {spread(times['curl_null'])})", curl_null),
            (f"curl -o FILE, no hash ({spread(times['curl_file'])})", rate("curl_file")),
            (
                f"curl -o FILE && sync FILE (on disk, as ours; {spread(times['curl_file_sync'])})",
                rate("curl_file_sync"),
            ),
            (
                f"curl -o FILE && sha256sum FILE ({spread(times['curl_verified'])})",
                curl_verified,
            ),
            ("bound: transfer at curl's speed, then hashlib sha256 (serial)", serial_bound),
        ):
            figures.append(report(Figure(bench, what, value, "MB/s")))
        hash_alone = size / MB / sha_speed  # (CPU seconds: hashlib is bound by the CPU)
        for label, what, hashes in (
            ("curl_file", "CPU of curl -o FILE (user + system)", False),
            (
                "ours_auto",
                "CPU of download.run, segments auto (this process, sha256 included)",
                True,
            ),
            ("ours_cli", "CPU of alu fetch --sha256 (user + system, start included)", True),
        ):
            figures.append(
                report(
                    Figure(
                        bench,
                        f"{what} ({spread(cpu[label])}; {os.cpu_count()} CPUs)",
                        median(cpu[label]),
                        "CPU s",
                        baseline="hashlib sha256 of the file alone" if hashes else "",
                        baseline_value=hash_alone if hashes else None,
                    )
                )
            )
        for label, what in (
            ("ours_auto", "download.run, sha256, segments auto (4 for a large file)"),
            ("ours_1", "download.run, sha256, segments=1"),
            ("ours_cli", "alu fetch --sha256 (queue + store), segments auto"),
        ):
            for base_key, base_name in (
                ("curl_verified", "curl -o FILE + sha256sum"),
                # the fair curl: it writes the file as we do, but hashes nothing
                ("curl_file", "curl -o FILE (writes, no hash)"),
                ("curl_null", "curl -o /dev/null (no hash)"),
            ):
                figures.append(
                    report(
                        Figure(
                            bench,
                            f"{what} ({spread(times[label])})",
                            rate(label),
                            "MB/s",
                            baseline=base_name,
                            baseline_value=rate(base_key),
                            target=0.9,
                        )
                    )
                )
    finally:
        remove(work)
    check_measured(figures)


# --- 2: 1 GiB loopback tus upload vs tuspy -------------------------------------------------------


@pytest.mark.timeout(1800)
def test_loopback_upload_vs_tuspy(tmp_path: Path) -> None:
    size = env_int("ALU_BENCH_MIB", 1024) * MIB
    repeat = env_int("ALU_BENCH_REPEAT", 3)
    work = tmp_path / "work"
    need_space(work, 4 * size)  # the source, the hub's parts and the file it joins them into
    bench = f"2 loopback upload {size // MIB} MiB"
    note(f"{bench}: load {load_average()}, {os.cpu_count()} CPUs")
    figures: list[Figure] = []
    try:
        src = work / "src" / "big.bin"
        sha = random_file(src, size)
        speeds = {alg: hash_speed(alg) for alg in ("crc32", "sha1", "sha256", "md5")}
        t_fp, _ = timed(lambda: upload.fingerprint(src, sha))
        times: dict[str, list[float]] = defaultdict(list)
        with tus_hub(work / "hub") as hub:

            def upload_once(client: str) -> tuple[float, str]:
                """One upload in a process of its own (``upload_once.py``): its seconds from
                start to end there, and its URL."""
                _, printed = run_timed(
                    [PYTHON, str(UPLOAD_ONCE), client, hub.endpoint, hub.token, str(src), sha],
                    timeout=600,
                    env={**os.environ, "PYTHONPATH": SUBPROCESS_PYTHONPATH},
                )
                said = json.loads(printed.strip().splitlines()[-1])
                return float(said["seconds"]), str(said["url"])

            def run_tuspy(_i: int) -> None:
                t, url = upload_once("tuspy")
                t += hub.wait_received(url)
                assert hub.upload_path(url).stat().st_size == size
                times["tuspy"].append(t)
                hub.drop(url)

            def run_ours(label: str, parallel: int | None, checksums: str) -> Callable[[int], None]:
                def one(i: int) -> None:
                    # where the time goes: the same runs with sha1 (the choice before crc32)
                    # and without Upload-Checksum (as against a hub that does not offer it)
                    client = f"ours:{parallel or 'auto'}:{checksums}"
                    t_run, url = upload_once(client)
                    t_hub = hub.wait_received(url)  # a final upload: joined by the hub
                    landed = hub.upload_path(url)
                    assert landed.stat().st_size == size
                    if i == 0:  # every byte right, once per variant (outside the timing)
                        assert file_sha256(landed) == sha
                    times[label].append(t_run + t_hub)
                    times[label + "_run"].append(t_run)
                    hub.drop(url)

                return one

            variants = [
                ("tuspy", run_tuspy),
                ("ours_default", run_ours("ours_default", None, "default")),
                ("ours_1", run_ours("ours_1", 1, "default")),
                ("ours_4", run_ours("ours_4", 4, "default")),
                ("ours_1_sha1", run_ours("ours_1_sha1", 1, "sha1")),
                ("ours_1_nock", run_ours("ours_1_nock", 1, "")),
            ]
            in_turn(bench, variants, repeat, times)

        def rate(key: str) -> float:
            return size / median(times[key]) / MB

        checksum = upload.fastest_checksum(speeds, upload.CHECKSUM_PREFERENCE)
        for alg, speed in speeds.items():
            figures.append(
                report(Figure(bench, f"hashlib {alg} (this VM, same run)", speed, "MB/s"))
            )
        figures.append(
            report(
                Figure(
                    bench,
                    "upload.fingerprint(): the caller's sha256 + a sampled sha256 before sending",
                    size / t_fp / MB,
                    "MB/s",
                    note=f"{t_fp:.3f} s of every run of ours",
                )
            )
        )
        tuspy_rate = rate("tuspy")
        figures.append(
            report(
                Figure(
                    bench,
                    f"tuspy 1.1.0 Uploader, 8 MiB chunks, no checksum ({spread(times['tuspy'])})",
                    tuspy_rate,
                    "MB/s",
                )
            )
        )
        for label, what, target in (
            (
                "ours_default",
                "upload.run defaults (auto: one stream, the round trip being under "
                f"{Tuning().parallel_upload_min_rtt * 1000:.0f} ms; adaptive chunks, "
                f"{checksum} per chunk)",
                1.2,
            ),
            ("ours_1", f"upload.run parallel=1 (adaptive chunks, {checksum} per chunk)", 1.2),
            (
                "ours_4",
                "diagnosis: upload.run parallel=4 (4 streams taking parts from a queue, "
                "joined by the hub; the default before 2026-12-03)",
                None,
            ),
            ("ours_1_sha1", "diagnosis: upload.run parallel=1 with sha1 per chunk", None),
            ("ours_1_nock", "diagnosis: upload.run parallel=1 without Upload-Checksum", None),
        ):
            figures.append(
                report(
                    Figure(
                        bench,
                        f"{what}, until the hub holds the file ({spread(times[label])})",
                        rate(label),
                        "MB/s",
                        baseline="tuspy 8 MiB",
                        baseline_value=tuspy_rate,
                        target=target,
                        note=f"run() returned after {median(times[label + '_run']):.1f} s",
                    )
                )
            )
    finally:
        remove(work)
    check_measured(figures)


# --- 3: over linkem: 20 Mbit/s, 300 ms RTT, 2 % loss ------------------------------------------


def _link_figures(
    bench: str,
    size: int,
    rate_bytes: float,
    runs: dict[str, list[float]],
    baseline: str,
    target: float,
) -> list[Figure]:
    def fraction(key: str) -> float:
        return size / median(runs[key]) / rate_bytes

    figures = [
        report(
            Figure(
                bench,
                f"{baseline} ({spread(runs[baseline])})",
                fraction(baseline),
                "of link",
                note=f"{size / median(runs[baseline]) / MB:.2f} MB/s",
            )
        )
    ]
    for key in runs:
        if key == baseline:
            continue
        figures.append(
            report(
                Figure(
                    bench,
                    f"{key} ({spread(runs[key])})",
                    fraction(key),
                    "of link",
                    baseline=baseline,
                    baseline_value=fraction(baseline),
                    target=target,
                    target_on="value",
                    note=f"{size / median(runs[key]) / MB:.2f} MB/s; TCP ceiling {TCP_CEILING:.3f}",
                )
            )
        )
    return figures


def _link_stats(bench: str, stats: dict[str, dict[str, int]]) -> None:
    for way, c in stats.items():
        note(
            f"{bench}: linkem {way}: {c.get('packets', 0)} packets, {c.get('lost', 0)} lost, "
            f"{c.get('queue_drops', 0)} dropped at the 100 ms queue"
        )


@pytest.mark.timeout(link_timeout(4, 1800))
def test_linkem_download(tmp_path: Path) -> None:
    require_root("test_linkem_download")
    size = env_int("ALU_BENCH_LINK_MB", 100) * MB
    repeat = env_int("ALU_BENCH_LINK_REPEAT", 1)
    work = tmp_path / "work"
    need_space(work, 3 * size)
    bench = f"3 linkem download {size // MB} MB{' ' + link_cc() if link_cc() else ''}"
    note(f"{bench}: load {load_average()}")
    figures: list[Figure] = []
    runs: dict[str, list[float]] = defaultdict(list)
    try:
        sha = random_file(work / "www" / "f.bin", size)
        with (
            linkem(work / "link", **LINK, cc=link_cc()) as link,
            nginx(work / "www", work / "nginx", host=IP_SRV, port=8080, netns=NS_SRV) as ng,
        ):
            url = ng.url("f.bin")
            variants: list[tuple[str, Callable[[Path, Path], list[str]]]] = [
                ("curl, one stream", lambda d, _h: ["curl", "-sS", "--fail", "-o", str(d), url]),
                (
                    "alu fetch --sha256, segments default (4)",
                    lambda d, _h: alu("fetch", url, str(d), "--sha256", sha),
                ),
                (
                    "alu fetch --sha256 --segments 8",
                    lambda d, _h: alu("fetch", url, str(d), "--sha256", sha, "--segments", "8"),
                ),
                (
                    "alu fetch --sha256 --segments 1",
                    lambda d, _h: alu("fetch", url, str(d), "--sha256", sha, "--segments", "1"),
                ),
            ]
            for i in range(repeat):
                for n, (key, argv) in enumerate(variants):
                    dest, home = work / "out" / f"{i}-{n}.bin", work / f"home-{i}-{n}"
                    dest.parent.mkdir(exist_ok=True)
                    got = run_sampled(
                        in_netns(NS_CLI, argv(dest, home)),
                        timeout=link_timeout(1, 600),
                        env=cli_env(home),
                    )
                    assert dest.stat().st_size == size
                    if n == 0:
                        assert file_sha256(dest) == sha  # alu fetch --sha256 checks itself
                    t = got.elapsed
                    runs[key].append(t)
                    note(
                        f"{bench}: {key}: {t:.1f} s, {size / t / link.rate_bytes:.3f} of link; "
                        + got.profile(link.rate_bytes)
                    )
                    remove(dest)
        figures += _link_figures(bench, size, link.rate_bytes, runs, "curl, one stream", 0.95)
        _link_stats(bench, link.stats())
    finally:
        remove(work)
    check_measured(figures)


@pytest.mark.timeout(link_timeout(3, 1800))
def test_linkem_upload(tmp_path: Path) -> None:
    require_root("test_linkem_upload")
    size = env_int("ALU_BENCH_LINK_MB", 100) * MB
    repeat = env_int("ALU_BENCH_LINK_REPEAT", 1)
    work = tmp_path / "work"
    need_space(work, 4 * size)
    bench = f"3 linkem upload {size // MB} MB{' ' + link_cc() if link_cc() else ''}"
    note(f"{bench}: load {load_average()}")
    figures: list[Figure] = []
    runs: dict[str, list[float]] = defaultdict(list)
    try:
        src = work / "src" / "f.bin"
        sha = random_file(src, size)
        with (
            linkem(work / "link", **LINK, cc=link_cc()) as link,
            tus_hub(work / "hub", host=IP_SRV, netns=NS_SRV) as hub,
        ):
            auth = f"Authorization: Bearer {hub.token}"
            chunk = str(8 * MIB)
            put_argv = ["tus-put", hub.endpoint, str(src), "--header", auth]
            put_argv += ["--metadata", f"sha256={sha}"]
            variants = [
                (
                    "tuspy, 8 MiB chunks",
                    [PYTHON, "-c", TUSPY_SCRIPT, hub.endpoint, hub.token, str(src), sha, chunk],
                ),
                (
                    "alu tus-put, parallel default (auto: 4 streams, parts from a queue, "
                    "at this round trip)",
                    alu(*put_argv),
                ),
                ("alu tus-put --parallel 1", alu(*put_argv, "--parallel", "1")),
            ]
            for i in range(repeat):
                for n, (key, argv) in enumerate(variants):
                    home = work / f"home-{i}-{n}"
                    got = run_sampled(
                        in_netns(NS_CLI, argv),
                        timeout=link_timeout(1, 900),
                        env=cli_env(home),
                        iface="lkm-srv",
                        counter_pid=hub.pid,  # what reaches the hub's side of the link
                    )
                    url = got.stdout.strip().splitlines()[-1]
                    t_join = hub.wait_received(url)  # a final upload: until joined
                    t = got.elapsed + t_join
                    landed = hub.upload_path(url)
                    assert landed.stat().st_size == size
                    if i == 0:
                        assert file_sha256(landed) == sha
                    runs[key].append(t)
                    note(
                        f"{bench}: {key}: {t:.1f} s, {size / t / link.rate_bytes:.3f} of link; "
                        + got.profile(link.rate_bytes)
                        + f"; then {t_join:.1f} s until the hub held the file (its join of parts)"
                    )
                    hub.drop(url)
        figures += _link_figures(bench, size, link.rate_bytes, runs, "tuspy, 8 MiB chunks", 0.90)
        _link_stats(bench, link.stats())
    finally:
        remove(work)
    check_measured(figures)


# --- 4: peak RSS with four 2 GiB transfers at once -----------------------------------------------


@pytest.mark.timeout(1800)
def test_peak_rss_four_transfers(tmp_path: Path) -> None:
    size = env_int("ALU_BENCH_RSS_MIB", 2048) * MIB
    work = tmp_path / "work"
    # two downloaded files; on the hub two uploads' parts and the two files joined from them
    need_space(work, 6 * size)
    bench = f"4 peak RSS, 2 downloads + 2 uploads of {size // MIB} MiB at once"
    note(f"{bench}: load {load_average()}")
    figures: list[Figure] = []
    try:
        for name in ("a.bin", "b.bin"):
            sparse_file(work / "www" / name, size)
            sparse_file(work / "up" / name, size)
        sha = zeros_sha256(size)
        with nginx(work / "www", work / "nginx") as ng, tus_hub(work / "hub") as hub:
            args = {
                "home": str(work / "home"),
                "token": hub.token,
                "timeout": 1200,
                "downloads": [
                    [ng.url(n), str(work / "out" / n), sha, size] for n in ("a.bin", "b.bin")
                ],
                "uploads": [[str(work / "up" / n), hub.endpoint, sha] for n in ("a.bin", "b.bin")],
            }
            (work / "home").mkdir()
            _, printed = run_timed(
                [PYTHON, "-m", "tests.bench.rss_driver", json.dumps(args)],
                timeout=1500,
                cwd=ROOT,
                env=cli_env(work / "home"),
            )
            info = json.loads(printed.strip().splitlines()[-1])
            for tr in info["transfers"]:
                assert tr["state"] == "done", tr
                if tr["direction"] == "upload":
                    hub.wait_received(tr["url"])
                    assert hub.upload_path(tr["url"]).stat().st_size == size
                    hub.drop(tr["url"])
            for name in ("a.bin", "b.bin"):  # verified against sha256 by the engine
                assert (work / "out" / name).stat().st_size == size
        hwm = info["hwm_kib"] * 1024 / MB
        idle = info["idle_rss_kib"] * 1024 / MB
        note(
            f"{bench}: {info['elapsed']:.0f} s, at most {info['active_max']} transfers active "
            f"at once, sampled RSS max {info['rss_max_kib'] * 1024 / MB:.0f} MB"
        )
        figures.append(
            report(
                Figure(
                    bench,
                    "peak RSS (VmHWM) of the engine's process",
                    hwm,
                    "MB",
                    baseline="same process idle (imports, queue, store)",
                    baseline_value=idle,
                    better="lower",
                    target=200,
                    target_on="value",
                    note=f"{info['active_max']} active at once; growth {hwm - idle:.0f} MB",
                )
            )
        )
        assert info["active_max"] == 4, "the four transfers did not run at the same time"
    finally:
        remove(work)
    check_measured(figures)
