"""The JSON API as a third-party developer meets it: what a 405 allows (RFC 9110 §15.5.6), the
error shape the OpenAPI contract promises, bodies that are not a JSON object, and the sign-in's
401 challenge (RFC 9110 §15.5.2)."""

from __future__ import annotations

import re
from collections import defaultdict

import requests
from starlette.routing import Route

from alu_hub.api import router as api_router

from .conftest import LiveHub

#: methods a 405 is asked with: the first one a path does not take
PROBES = ("PUT", "DELETE", "POST", "PATCH")


def registered_methods() -> dict[str, set[str]]:
    """Every JSON API path (tus is tests/hub/test_tus.py's) and the methods its routes take,
    HEAD wherever GET is (the hub answers it: ``head.HeadAsGet``)."""
    paths: dict[str, set[str]] = defaultdict(set)
    for route in api_router.routes:
        assert isinstance(route, Route) and route.methods
        paths[route.path] |= route.methods
    for methods in paths.values():
        if "GET" in methods:
            methods.add("HEAD")
    return paths


def test_a_405_allows_every_method_of_the_resource(live_hub: LiveHub) -> None:
    """``PUT /api/v1/items/{id}`` said ``Allow: PATCH`` though GET and HEAD work there, and
    ``/session`` said POST though DELETE signs out: Starlette named one route's method only."""
    paths = registered_methods()
    assert {"GET", "HEAD", "PATCH"} <= paths["/api/v1/items/{item_id}"]
    assert paths["/api/v1/session"] == {"POST", "DELETE"}
    ktn = live_hub.login("ktn")
    for path, methods in sorted(paths.items()):
        method = next(m for m in PROBES if m not in methods)
        r = ktn.request(method, live_hub.url + re.sub(r"\{[^}]+\}", "abc", path), timeout=10)
        assert r.status_code == 405, (method, path, r.status_code)
        allowed = [m.strip() for m in r.headers["Allow"].split(",")]
        assert set(allowed) == methods and len(allowed) == len(methods), (path, allowed)
        error = r.json()["error"]
        assert error["code"] == "method_not_allowed"
        assert error["message"] == (
            f"{method} is not allowed here; this address takes {', '.join(allowed)}."
        )
    # a HEAD where no GET is: 405 too, with the same list
    r = requests.head(live_hub.api("/session"), timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "POST, DELETE"
