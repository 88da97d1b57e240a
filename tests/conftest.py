"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Qt tests run without a screen (CI has none); set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.support import livehub, postgres

# A real hub on loopback (`live_hub`) and one short real clip (`clip`), for every test folder.
from tests.support.livehub import clip, live_hub, other_clip  # noqa: F401

#: ``--hub-db`` / ``ALU_TEST_DATABASE``: ``postgresql`` puts every hub the tests start on the
#: session's PostgreSQL server, ``sqlite`` every hub on SQLite; unset, hubs use SQLite and the
#: modules listed in tests/hub/conftest.py (BOTH_DATABASES) run on both.
HUB_DB_MODES = ("both", "sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hub-db",
        choices=HUB_DB_MODES,
        default=None,
        help="the hubs' database: postgresql (every hub, on a throwaway PostgreSQL server), "
        "sqlite (every hub), or both (default: SQLite, a representative set of hub tests on "
        "both). Also ALU_TEST_DATABASE.",
    )


def hub_db_mode(config: pytest.Config) -> str:
    mode = config.getoption("hub_db") or os.environ.get("ALU_TEST_DATABASE", "") or "both"
    if mode not in HUB_DB_MODES:
        raise pytest.UsageError(f"ALU_TEST_DATABASE={mode!r}: one of {', '.join(HUB_DB_MODES)}")
    return str(mode)


def _session_database(config: pytest.Config) -> str:
    return "postgresql" if hub_db_mode(config) == "postgresql" else "sqlite"


def pytest_configure(config: pytest.Config) -> None:
    livehub.use_database(_session_database(config))
    # (here, not in pyproject.toml, whose every change makes ./run set up .venv again)
    config.addinivalue_line(
        "markers",
        "one_database: in a hub module run on both databases (tests/hub/conftest.py), a test "
        "that touches neither: run once",
    )


def pytest_report_header(config: pytest.Config) -> str:
    mode = hub_db_mode(config)
    bindir = postgres.find_bindir()
    pg = f"PostgreSQL from {bindir}" if bindir else "PostgreSQL not installed"
    what = {
        "both": "SQLite; tests/hub/conftest.py BOTH_DATABASES on PostgreSQL too",
        "sqlite": "SQLite",
        "postgresql": "PostgreSQL",
    }[mode]
    return f"hub database: {what} ({pg})"


def pytest_sessionfinish(session: pytest.Session) -> None:
    postgres.stop_shared()


def _require_postgres(config: pytest.Config) -> None:
    """Start the session's PostgreSQL server (once). Without PostgreSQL the test is skipped,
    unless PostgreSQL was asked for by name or this is CI (CI=true): then it fails."""
    try:
        postgres.shared_cluster()
    except postgres.PostgresUnavailable as e:
        if os.environ.get("CI") == "true" or hub_db_mode(config) == "postgresql":
            pytest.fail(f"{e} (PostgreSQL is required with CI=true or ALU_TEST_DATABASE)")
        pytest.skip(f"{e}; its PostgreSQL side is skipped (with CI=true this fails)")


@pytest.fixture(autouse=True)
def hub_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database of the hubs this test starts: the session's (``--hub-db``), or the
    parameter tests/hub/conftest.py gives the tests it runs on both."""
    kind = str(getattr(request, "param", None) or _session_database(request.config))
    if kind == "postgresql":
        _require_postgres(request.config)
    previous = livehub.use_database(kind)
    yield kind
    livehub.use_database(previous)


@pytest.fixture(autouse=True, scope="module")
def _hub_databases_dropped() -> Iterator[None]:
    """A module's PostgreSQL databases are dropped when it ends (its hubs are gone by then)."""
    with postgres.databases_dropped_after():
        yield
