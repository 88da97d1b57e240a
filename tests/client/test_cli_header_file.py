"""`--header @FILE` (and `@-`): credentials for `alu fetch` and `alu tus-put` read from a file,
as curl's `-H @FILE`, since a credential on the command line is in `ps` for every local account
for as long as the transfer runs (hours on a member's link)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from alu_client.cli.common import CliError, headers_given
from tests.client.test_cli import run_alu
from tests.support.tinytus import Bends, TinyTus


def test_a_file_of_headers_is_read_one_a_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "headers.txt"
    given.write_text(
        "# the agency's CDN\r\nAuthorization: Bearer s3cret\r\n\r\nX-Api-Key:  k1 \n",
        encoding="utf-8",
    )
    assert headers_given([f"@{given}", "X-Trace: on"]) == {
        "Authorization": "Bearer s3cret",
        "X-Api-Key": "k1",
        "X-Trace": "on",
    }
    monkeypatch.setattr("sys.stdin", io.StringIO("Authorization: Basic dTpw\n"))
    assert headers_given(["@-"]) == {"Authorization": "Basic dTpw"}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "--header @{path}: No such file or directory"),
        (b"\xff\xfe not text", "--header @{path}: the file is not UTF-8 text"),
        (b"Authorization Bearer x\n", "--header takes 'Name: value'"),
    ],
)
def test_a_file_that_cannot_be_used_is_said_without_its_content(
    tmp_path: Path, content: bytes | None, said: str
) -> None:
    path = tmp_path / "headers.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CliError) as refused:
        headers_given([f"@{path}"])
    assert said.format(path=path) in str(refused.value)
    assert "Bearer x" not in str(refused.value)


def test_tus_put_sends_the_credentials_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    headers = tmp_path / "headers.txt"
    headers.write_text("Authorization: Bearer right\n", encoding="utf-8")
    headers.chmod(0o600)
    with TinyTus(Bends(auth="Bearer right")) as server:
        r = run_alu(
            tmp_path / "home", "tus-put", server.endpoint, str(path), "--header", f"@{headers}"
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().startswith(server.endpoint.rstrip("/")), r.stdout
