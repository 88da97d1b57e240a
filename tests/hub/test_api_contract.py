"""The JSON API as a third-party developer meets it: what a 405 allows (RFC 9110 §15.5.6), the
error shape the OpenAPI contract promises, bodies that are not a JSON object, and the sign-in's
401 challenge (RFC 9110 §15.5.2)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

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


# --- the contract's error shape ---------------------------------------------------------------


def conforms(value: Any, schema: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """Whether ``value`` has the shape of ``schema`` (the subset of JSON Schema the Error
    schema uses: ``$ref``, objects with required properties, strings), nothing more."""
    if "$ref" in schema:
        return conforms(value, schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    if schema.get("type") == "object":
        props = schema.get("properties", {})
        return (
            isinstance(value, dict)
            and all(k in value for k in schema.get("required", ()))
            and set(value) <= set(props)
            and all(conforms(value[k], props[k], schemas) for k in value)
        )
    if schema.get("type") == "string":
        return isinstance(value, str)
    raise AssertionError(f"the Error schema uses more than this test reads: {schema}")


def test_the_contract_documents_the_errors_the_hub_sends(live_hub: LiveHub) -> None:
    """``/openapi.json`` said 422 was FastAPI's ``{"detail": [...]}``, which the hub never
    sends, and gave no other error a body: a generated client could parse none of them."""
    r = requests.get(live_hub.url + "/openapi.json", timeout=10)
    spec = r.json()
    assert "HTTPValidationError" not in r.text and "ValidationError" not in r.text
    schemas = spec["components"]["schemas"]
    error_ref = {"$ref": "#/components/schemas/Error"}
    unprotected = {("post", "/api/v1/session")}
    seen_422 = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "default" in responses and "503" in responses, (method, path)
            if (method, path) not in unprotected:
                assert "WWW-Authenticate" in json.dumps(responses["401"]), (method, path)
            for status, answer in responses.items():
                if status != "default" and status < "400":
                    continue
                if method == "head":  # an answer without a body
                    assert "content" not in answer, (method, path, status)
                    continue
                assert answer["content"] == {"application/json": {"schema": error_ref}}, (
                    method,
                    path,
                    status,
                )
                seen_422 += status == "422"
    assert seen_422 >= 15
    # what the hub really sends fits it
    ktn = live_hub.login("ktn")
    for wrong in (
        ktn.get(live_hub.api("/items"), params={"limit": 0}, timeout=10),
        ktn.post(live_hub.api("/history"), json={"events": "none"}, timeout=10),
        requests.get(live_hub.api("/me"), timeout=10),
        ktn.put(live_hub.api("/me"), timeout=10),
    ):
        assert wrong.status_code in (401, 405, 422), wrong.status_code
        assert conforms(wrong.json(), error_ref, schemas), wrong.text


def test_the_contract_gives_the_tus_routes_their_own_answers(live_hub: LiveHub) -> None:
    """They were "200 application/json" with an empty schema; they answer 201/204 with tus
    headers, and 409/412/415/460… with the hub's Error body."""
    paths = requests.get(live_hub.url + "/openapi.json", timeout=10).json()["paths"]
    create = paths["/api/v1/uploads/"]["post"]
    assert "Location" in create["responses"]["201"]["headers"]
    assert "tus.io" in create["externalDocs"]["url"] and "tus 1.0" in create["description"]
    patch = paths["/api/v1/uploads/{upload_id}"]["patch"]["responses"]
    assert {"204", "409", "412", "415", "460"} <= set(patch) and "200" not in patch
    assert "Upload-Offset" in patch["204"]["headers"]
    head = paths["/api/v1/uploads/{upload_id}"]["head"]["responses"]["200"]
    assert "content" not in head and "Alu-Upload-State" in head["headers"]
    status = paths["/api/v1/uploads/{upload_id}"]["get"]["responses"]["200"]["content"]
    assert "state" in status["application/json"]["schema"]["properties"]
