"""Password checks (Argon2, 64 MiB each) take turns: 31 members signing in at once peaked a
hub at 1.4 GB, and 60 wrong passwords — no account needed — at 1.8 GB, one hash per worker
thread (40). At most ``auth.CHECKS_AT_ONCE`` run at once; the others wait, holding no
database connection, and all are answered."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from alu_hub import auth
from tests.support.livehub import LiveHub


class _Counting:
    """The hasher, counting how many checks run at once (each made to take 0.2 s)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def verify(self, stored: str, password: str) -> bool:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.2)  # (an Argon2 check's time on a busy hub, so that they overlap)
            return bool(self.real.verify(stored, password))
        finally:
            with self.lock:
                self.now -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_sign_ins_at_once_check_their_passwords_a_few_at_a_time(
    live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"member{n:02d}" for n in range(12)]
    for name in names:
        live_hub.member(name, "pa55word-" + name)
    counting = _Counting(auth._hasher)
    monkeypatch.setattr(auth, "_hasher", counting)

    def sign_in(name: str) -> int:
        body = {"username": name, "password": "pa55word-" + name, "device": "desk"}
        return requests.post(live_hub.api("/session"), json=body, timeout=60).status_code

    with ThreadPoolExecutor(len(names)) as pool:
        statuses = list(pool.map(sign_in, names))
    assert statuses == [200] * len(names)
    assert 1 <= counting.most <= auth.CHECKS_AT_ONCE < len(names)
