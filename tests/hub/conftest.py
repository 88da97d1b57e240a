"""The hub tests use the shared live-hub helpers of tests/support/livehub.py."""

from tests.support.livehub import LiveHub, sha256_of, start_hub

__all__ = ["LiveHub", "sha256_of", "start_hub"]
