"""A proxy's login kept beside a profile's token: how it is written into a proxy address, taken
out of one, chosen from a form's fields, kept, and never shown."""

from __future__ import annotations

import logging

import pytest

from alu_client.core import proxy_login
from alu_client.core.credentials import MemorySecrets
from alu_client.core.hub import Connection
from alu_client.core.proxy_login import ProxyLogin


@pytest.mark.parametrize(
    ("proxy", "login", "address"),
    [
        ("http://proxy:3128", ProxyLogin("desk", "s3cret"), "http://desk:s3cret@proxy:3128"),
        # what would end the user name or the password is quoted
        (
            "http://proxy:3128",
            ProxyLogin("agence@rtb", "p:w @/x"),
            "http://agence%40rtb:p%3Aw%20%40%2Fx@proxy:3128",
        ),
        ("https://[::1]:8080", ProxyLogin("d", ""), "https://d:@[::1]:8080"),
        ("http://proxy:3128", None, "http://proxy:3128"),
        ("http://proxy:3128", ProxyLogin("", "x"), "http://proxy:3128"),  # no user: none
        ("", ProxyLogin("desk", "s3cret"), ""),  # no profile proxy: the system's
    ],
)
def test_with_login(proxy: str, login: ProxyLogin | None, address: str) -> None:
    assert proxy_login.with_login(proxy, login) == address
    if login is not None and login.user and proxy:
        assert proxy_login.split(address) == (proxy, login)  # and back


def test_split_an_address_without_a_login() -> None:
    assert proxy_login.split(" http://proxy:3128 ") == ("http://proxy:3128", None)


def test_what_a_forms_fields_mean() -> None:
    kept = ProxyLogin("desk", "s3cret")
    assert proxy_login.chosen(kept, "", "") is None  # no user name: forget it
    assert proxy_login.chosen(kept, " desk ", "") == kept  # the password left empty: kept
    assert proxy_login.chosen(kept, "desk", "new") == ProxyLogin("desk", "new")
    assert proxy_login.chosen(kept, "other", "") == ProxyLogin("other", "")
    assert proxy_login.chosen(None, "desk", "") == ProxyLogin("desk", "")


def test_kept_loaded_and_forgotten_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = MemorySecrets()
    key = "test-proxy-login:ktn@https://hub.example.org"
    login = ProxyLogin("desk", "s3cret-kept")
    proxy_login.save(secrets, key, login)
    try:
        assert proxy_login.load(secrets, key) == login
        assert "s3cret-kept" not in repr(login) and "s3cret-kept" not in str(login)
        secrets.set(proxy_login.key_for(key), "not json")  # damaged: ignored, said
        assert proxy_login.load(secrets, key) is None
        assert "not readable" in caplog.text
        proxy_login.save(secrets, key, login)
        proxy_login.save(secrets, key, None)
        assert proxy_login.load(secrets, key) is None
        assert "s3cret-kept" not in caplog.text
    finally:
        secrets.delete(proxy_login.key_for(key))


def test_a_connection_carrying_a_login_does_not_show_it() -> None:
    proxy = proxy_login.with_login("http://proxy:3128", ProxyLogin("desk", "s3cret-in-conn"))
    conn = Connection("https://hub.example.org", proxy=proxy)
    assert conn.proxy == proxy  # what the session uses
    assert "s3cret-in-conn" not in repr(conn)
