"""What `alu tus-put` is given, checked before anything is queued or sent (``cli.tus_args``),
and a rerun's ``--chunk-size`` taken by the upload under way."""

from __future__ import annotations

import base64
import builtins
import errno
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest

from alu_client.core.paths import default_paths
from alu_client.core.store import Store
from alu_client.core.transfers.queue import TransferQueue
from tests.client.test_cli import run_alu
from tests.support.tinytus import TinyTus

KIB = 1024
MIB = 1024 * KIB
ENDPOINT = "http://127.0.0.1:9/files/"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # one PATCH per byte (~4 KB/s on loopback), and every later run resumed with it
        (["--chunk-size", "1"], "'1' is too small: the smallest chunk size accepted is 64K"),
        (["--chunk-size", "63K"], "the smallest chunk size accepted is 64K"),
        # "The upload detail 'a b' has a name a hub cannot take." from the queued upload, of
        # a server that is no hub
        (["--metadata", "a b=c"], "the name 'a b' cannot be sent: a tus metadata name holds"),
        (["--metadata", "a,b=c"], "no space, comma or other character"),
        (["--metadata", "tïtle=x"], "holds ASCII letters"),
        (["--metadata", "a\tb=x"], "holds ASCII letters"),
        # sent as is: a hub checking it refused the file once all of it had gone
        (["--metadata", "sha256=abc"], "sha256= takes the file's sha256 as 64 hexadecimal"),
        (["--metadata", "sha256=" + "g" * 64], "64 hexadecimal"),
        (["--metadata", "novalue"], "takes key=value, not 'novalue'"),
    ],
)
def test_what_tus_cannot_take_is_refused_before_anything_is_queued(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    home = tmp_path / "home"
    r = run_alu(home, "tus-put", ENDPOINT, __file__, *extra)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "hub" not in r.stderr and "data folder" not in r.stderr
    assert not list(home.rglob("*.sqlite3"))  # nothing queued: the library not even made


@pytest.fixture
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``ALU_CLIENT_HOME`` for this test, in this process too."""
    home = tmp_path / "home"
    monkeypatch.setenv("ALU_CLIENT_HOME", str(home))
    return home


def _queued_upload(path: Path, endpoint: str, chunk_size: int) -> None:
    """An upload of ``path`` queued with ``chunk_size``, as an earlier `alu tus-put` (one
    stopped before it sent anything, or one of a version without a floor) leaves it."""
    store = Store(default_paths().ensure().db_path)
    try:
        TransferQueue(store).add_upload(
            path, endpoint, {"filename": path.name}, chunk_size=chunk_size, label=path.name
        )
    finally:
        store.close()


def test_a_rerun_with_another_chunk_size_sends_the_rest_with_it(
    tmp_path: Path, data_folder: Path
) -> None:
    # the queued upload was resumed with its own chunk size, the new --chunk-size ignored
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(3 * MIB))
    with TinyTus() as server:
        _queued_upload(path, server.endpoint, 256 * KIB)
        r = run_alu(data_folder, "tus-put", server.endpoint, str(path), "--chunk-size", "1M")
        assert r.returncode == 0, r.stderr
        assert server.only_upload() == path.read_bytes()
        assert server.patch_lengths == [MIB] * 3, server.patch_lengths
        assert server.metadata[0].startswith("filename ")  # the queued upload, not a new one


def test_a_chunk_size_below_the_floor_queued_earlier_is_not_used(
    tmp_path: Path, data_folder: Path
) -> None:
    # queued with --chunk-size 1 before there was a floor: every rerun crawled, a byte a PATCH
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(256 * KIB))
    with TinyTus() as server:
        _queued_upload(path, server.endpoint, 1)
        r = run_alu(data_folder, "tus-put", server.endpoint, str(path))
        assert r.returncode == 0, r.stderr
        assert server.only_upload() == path.read_bytes()
        assert len(server.patch_lengths) <= 2, server.patch_lengths[:10]


def test_a_sha256_that_is_not_the_files_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(100 * KIB))
    own = hashlib.sha256(path.read_bytes()).hexdigest()
    home = tmp_path / "home"
    with TinyTus() as server:
        r = run_alu(home, "tus-put", server.endpoint, str(path), "--metadata", "sha256=" + "0" * 64)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == (
            f"alu: clip.mp4: the sha256= given is not this file's (its sha256 is {own}); "
            "nothing was sent. Check that it is the right file, or leave sha256= out."
        )
        assert server.seen == []
        assert '"id"' not in run_alu(home, "queue", "list", "--json").stdout
        # the file's own, in capitals: sent as the hub and this computer compare it
        r = run_alu(
            home, "tus-put", server.endpoint, str(path), "--metadata", f"sha256={own.upper()}"
        )
        assert r.returncode == 0, r.stderr
        pairs = dict(p.split(" ") for p in server.metadata[0].split(","))
        assert base64.b64decode(pairs["sha256"]).decode() == own


def _unreadable(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """``path`` cannot be opened by this process (as a file chmod 000 for user nobody)."""
    if os.name == "posix" and os.geteuid() != 0:
        path.chmod(0)
        return
    # root reads any file: its opening is refused here instead
    real_open = builtins.open

    def refusing(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and Path(file) == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)
    monkeypatch.setattr(io, "open", refusing)


def test_a_file_that_cannot_be_read_is_said_as_the_file_not_the_data_folder(
    tmp_path: Path,
    data_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from alu_client.cli import main

    path = tmp_path / "unread.bin"
    path.write_bytes(b"x" * 1000)
    _unreadable(monkeypatch, path)
    assert main(["tus-put", ENDPOINT, str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"alu: {path} cannot be read (Permission denied): check the file's permissions; "
        "nothing was sent."
    ), err
    assert not list(data_folder.rglob("*.sqlite3"))  # checked before anything was queued
