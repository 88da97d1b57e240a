"""``alu-hub serve`` as an operator reads it: its access log says when and who (never a
token), and a stop after a member's upload was published says nothing that looks like a fault
(``resource_tracker: There appear to be 5 leaked semaphore objects``)."""

from __future__ import annotations

import base64
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from alu_hub.mediapool import MediaPool, MediaPoolClosed
from alu_hub.server import free_port
from tests.support.livehub import hub_env, sha256_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(240)

HUB_CLI = (sys.executable, "-m", "alu_hub.cli")
PASSWORD = "pw-12345678"


def _tus_upload(url: str, token: str, clip: Path) -> str:
    """A member's upload of ``clip`` in one PATCH; its upload URL."""
    data = clip.read_bytes()
    h = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {
            "filename": "clip.mp4",
            "title": "Member clip",
            "sha256": sha256_of(clip),
        }.items()
    )
    r = requests.post(
        f"{url}/api/v1/uploads/",
        headers={**h, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    where = r.headers["Location"]
    p = requests.patch(
        where,
        data=data,
        headers={**h, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        timeout=60,
    )
    assert p.status_code == 204, p.text
    return str(where)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_logs_time_and_account_and_stops_quietly_after_a_member_upload(
    tmp_path: Path, clip: Path, workers: int
) -> None:
    data = tmp_path / "hub"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ALU_HUB_")}, **hub_env(data)}
    env["PYTHONUNBUFFERED"] = "1"
    added = subprocess.run(
        [*HUB_CLI, "member", "add", "ktn", "--data", str(data), "--country", "KE",
         "--password-stdin"],
        input=PASSWORD, text=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [*HUB_CLI, "serve", "--data", str(data), "--port", str(port),
             "--workers", str(workers)],
            stdout=stdout, stderr=stderr, env=env,
        )  # fmt: skip
    try:

        def up() -> bool:
            assert proc.poll() is None, err.read_text(errors="replace")
            try:
                return requests.get(f"{url}/openapi.json", timeout=5).ok
            except requests.ConnectionError:
                return False

        wait_until(up, timeout=90)
        r = requests.post(
            f"{url}/api/v1/session",
            json={"username": "ktn", "password": PASSWORD, "device": "newsroom-1"},
            timeout=30,
        )
        r.raise_for_status()
        token = str(r.json()["token"])
        where = _tus_upload(url, token, clip)
        h = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
        wait_until(
            lambda: (
                requests.head(where, headers=h, timeout=30).headers.get("Alu-Upload-State")
                == "published"
            ),
            timeout=120,
        )
        # a signed link (a player's): no token, the member it was made for is in the log
        item = requests.get(f"{url}/api/v1/items", headers=h, timeout=30).json()["items"][0]
        name = item["renditions"][0]["name"]
        link = requests.post(
            f"{url}/api/v1/items/{item['id']}/renditions/{name}/link", headers=h, timeout=30
        )
        assert link.ok, link.text
        signed = link.json()["url"]
        assert requests.get(signed, headers={"Range": "bytes=0-9"}, timeout=30).status_code == 206
        me = requests.get(f"{url}/api/v1/me?token=s3cret-in-query", headers=h, timeout=30)
        assert me.ok
        requests.get(f"{url}/api/v1/me", timeout=30)  # not signed in: 401
        wait_until(lambda: '/api/v1/me HTTP/1.1" 401' in out.read_text(errors="replace"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
    log = out.read_text(errors="replace") + err.read_text(errors="replace")
    assert proc.returncode == 0, log  # (a stop asked for: no failure for a service manager)
    # the stop: nothing an operator takes for a fault
    assert "resource_tracker" not in log and "leaked" not in log, log
    assert "Traceback" not in log, log
    assert token not in log and "s3cret-in-query" not in log, log
    sig = signed.partition("sig=")[2]
    assert sig and sig not in log, log
    by_link = [line for line in log.splitlines() if f"/renditions/{name}?" in line]
    assert len(by_link) == 1, log
    assert re.search(r"127\.0\.0\.1:\d+ ktn \"GET /api/v1/items/", by_link[0]), by_link
    access = [line for line in log.splitlines() if '"GET /api/v1/me' in line]
    assert len(access) == 2, log
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.search(
        rf"^{stamp} .*127\.0\.0\.1:\d+ ktn \"GET /api/v1/me\?token=REDACTED", access[0]
    ), access
    assert re.search(
        rf"^{stamp} .*127\.0\.0\.1:\d+ - \"GET /api/v1/me HTTP/1.1\" 401", access[1]
    ), access


def _sleep(seconds: float) -> float:
    time.sleep(seconds)  # (a transcode that takes long, in the worker)
    return seconds


def test_closing_the_media_pool_ends_a_running_job_and_its_workers() -> None:
    """The stop does not leave the pool to end in the background (its queues' semaphores
    were what the resource tracker called leaked): a job running is ended with its worker,
    its caller told the hub is stopping (the upload is published at the next start)."""
    pool = MediaPool(1, nice=0)
    assert pool.run(_sleep, 0.0) == 0.0  # the worker is up
    workers = list(multiprocessing.active_children())
    assert workers
    outcome: list[BaseException | float] = []

    def job() -> None:
        try:
            outcome.append(pool.run(_sleep, 120.0))
        except BaseException as e:
            outcome.append(e)

    caller = threading.Thread(target=job)
    caller.start()
    wait_until(lambda: pool._pool is not None and pool._pool._pending_work_items, timeout=30)
    started = time.monotonic()
    pool.close()
    caller.join(30)
    assert time.monotonic() - started < 20
    assert len(outcome) == 1 and isinstance(outcome[0], MediaPoolClosed), outcome
    assert not any(w.is_alive() for w in workers)
