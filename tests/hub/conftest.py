"""The hub tests use the shared live-hub helpers of tests/support/livehub.py.

The modules in BOTH_DATABASES run on SQLite and on PostgreSQL in every default run (a
representative set: the API, tus uploads, security and publishing), so that each run checks
both without doubling its time (a test there marked ``one_database`` touches no database,
and runs once); ``ALU_TEST_DATABASE=postgresql ./run pytest tests/hub
tests/client`` runs every hub test on PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from tests.conftest import hub_db_mode
from tests.support.livehub import LiveHub, sha256_of, start_hub

__all__ = ["LiveHub", "sha256_of", "start_hub"]

BOTH_DATABASES = {
    "tests.hub.test_api",
    "tests.hub.test_audit",
    "tests.hub.test_database",
    "tests.hub.test_feed_pages",
    "tests.hub.test_input_edges",
    "tests.hub.test_item_changes",
    "tests.hub.test_security",
    "tests.hub.test_stats_figures",
    "tests.hub.test_stats_late",
    "tests.hub.test_tus",
    "tests.hub.test_tus_restart",
    "tests.hub.test_upload_publish",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if (
        metafunc.module.__name__ in BOTH_DATABASES
        and hub_db_mode(metafunc.config) == "both"
        # a test of such a module that starts no hub and asks no database (the media pool's):
        # the same on both, so once
        and metafunc.definition.get_closest_marker("one_database") is None
    ):
        metafunc.parametrize("hub_db", ["sqlite", "postgresql"], indirect=True)
