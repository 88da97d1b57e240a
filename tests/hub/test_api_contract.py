"""The JSON API as a third-party developer meets it: what a 405 allows (RFC 9110 §15.5.6), the
error shape the OpenAPI contract promises, bodies that are not a JSON object, and the sign-in's
401 challenge (RFC 9110 §15.5.2)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
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
    seen_422 = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "default" in responses and "503" in responses, (method, path)
            # (the sign-in's 401 too: a wrong password)
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


# --- bodies that are not a JSON object ----------------------------------------------------------


def refusal(r: requests.Response, status: int, code: str) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def test_a_body_json_cannot_read_is_malformed_json_saying_why(live_hub: LiveHub) -> None:
    """Not UTF-8, or nested past Python's parser: ``http_error`` "There was an error parsing
    the body", where a truncated body was ``malformed_json``."""
    ktn = live_hub.login("ktn")
    json_type = {"Content-Type": "application/json"}
    not_utf8 = b'{"username": "\xff", "password": "pw-1234", "device": "x"}'
    deep = b"[" * 5000 + b"]" * 5000
    for send, body, words in (
        (requests.post, not_utf8, "not UTF-8"),
        (requests.post, deep, "nested too deeply"),
        (ktn.post, deep, "nested too deeply"),
    ):
        url = live_hub.api("/session" if send is requests.post else "/history")
        message = refusal(
            send(url, data=body, headers=json_type, timeout=10), 400, "malformed_json"
        )
        assert words in message, message
    message = refusal(
        requests.post(live_hub.api("/session"), data=b"{", headers=json_type, timeout=10),
        400,
        "malformed_json",
    )
    assert message == "The request body is not valid JSON."


def test_a_body_not_sent_as_a_json_object_says_what_to_send(live_hub: LiveHub) -> None:
    """pydantic's "Input should be a valid dictionary or object to extract fields from" was
    all a third-party developer got. JSON as text/plain is refused (415), not read: a web page
    may send text/plain to any site without asking it first."""
    live_hub.member("ktn")
    good = json.dumps({"username": "ktn", "password": "pw-1234", "device": "x"})
    url = live_hub.api("/session")
    what = "send the body as a JSON object with Content-Type: application/json"
    for content_type, sent in (
        ("text/plain", "Content-Type: text/plain"),
        (None, "no Content-Type"),
    ):
        headers = {"Content-Type": content_type} if content_type else {}
        r = requests.post(url, data=good, headers=headers, timeout=10)
        message = refusal(r, 415, "unsupported_media_type")
        assert sent in message and what in message, message
        assert r.headers["Accept-Post"] == "application/json"
    for body in ("[1, 2]", '"ktn"'):
        r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        message = refusal(r, 422, "invalid_request")
        assert "not an object" in message and what in message, message
    r = requests.post(url, headers={"Content-Type": "application/json"}, timeout=10)
    assert what in refusal(r, 422, "invalid_request")
    # an agency correction (PATCH) says so in Accept-Patch
    live_hub.member("chief", role="agency")
    chief = live_hub.login("chief")
    r = chief.patch(
        live_hub.api("/items/abc"), data="{}", headers={"Content-Type": "text/plain"}, timeout=10
    )
    refusal(r, 415, "unsupported_media_type")
    assert r.headers["Accept-Patch"] == "application/json"
    # and JSON as it should be still signs in
    assert requests.post(url, json=json.loads(good), timeout=10).status_code == 200


# --- the sign-in's 401 ------------------------------------------------------------------------


def test_a_refused_sign_in_carries_the_same_challenge_as_every_401(live_hub: LiveHub) -> None:
    """RFC 9110 §15.5.2: a 401 MUST carry ``WWW-Authenticate``; the sign-in's had none, unlike
    every other 401 of the hub (the desktop client's reading of it: tests/client/
    test_profiles.py::test_wrong_password_is_a_clear_error_and_keeps_nothing)."""
    live_hub.member("ktn")
    wrong = {"username": "ktn", "password": "not-it", "device": "x"}
    r = requests.post(live_hub.api("/session"), json=wrong, timeout=10)
    assert refusal(r, 401, "bad_credentials") == "The user name or password is wrong."
    other = requests.get(live_hub.api("/me"), timeout=10)
    assert other.status_code == 401
    assert r.headers["WWW-Authenticate"] == other.headers["WWW-Authenticate"]
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="alu-hub"'


# --- the contract against what the routes answer -------------------------------------------------


def documented(spec: dict[str, Any], path: str, r: requests.Response) -> dict[str, Any]:
    """The contract's answer for ``r`` (a request to ``path``, as the contract names it): its
    status is listed as its own (not left to ``default``), and its body's media type too."""
    method = (r.request.method or "").lower()
    answer: dict[str, Any] | None = spec["paths"][path][method]["responses"].get(str(r.status_code))
    assert answer is not None, (method, path, r.status_code, r.text[:200])
    if method == "head" or not r.content:
        assert "content" not in answer, (method, path, r.status_code)
        return answer
    media = r.headers["Content-Type"].split(";")[0].strip()
    assert any(
        key == media or (key.endswith("/*") and media.startswith(key[:-1]))
        for key in answer["content"]
    ), (method, path, r.status_code, media, list(answer["content"]))
    return answer


def test_the_contract_says_what_the_routes_really_answer(live_hub: LiveHub, clip: Path) -> None:
    """``/openapi.json`` said a rendition's 200 was ``application/json`` (it is the video's
    bytes), left the 410 of a withdrawn item to ``default``, and had no security scheme: a
    generated client parsed a video as JSON and knew of no token."""
    spec = requests.get(live_hub.url + "/openapi.json", timeout=10).json()
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    # the token where the routes ask for it (their 401's challenge is its scheme), nowhere else
    tus = {"Tus-Resumable": "1.0.0"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            url = live_hub.url + re.sub(r"\{[^}]+\}", "abc", path)
            r = requests.request(method, url, headers=tus, timeout=10)
            if (method, path) == ("post", "/api/v1/session"):
                assert "security" not in op and r.status_code != 401, r.status_code
                continue
            assert {"bearer": []} in op["security"], (method, path)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["WWW-Authenticate"].split()[0].lower() == scheme["scheme"]

    live_hub.member("chief", role="agency")
    chief = live_hub.login("chief")
    ktn = live_hub.login("ktn")
    item_id = live_hub.publish(clip, title="Contract")
    item = ktn.get(live_hub.api(f"/items/{item_id}"), timeout=10).json()
    files = "/api/v1/items/{item_id}/renditions/{name}"
    thumb = "/api/v1/items/{item_id}/thumbnail"
    link = files + "/link"
    for rendition in item["renditions"]:
        url = rendition["url"]
        whole = ktn.get(url, timeout=10)
        assert whole.content == clip.read_bytes() or rendition["name"] != "broadcast"
        assert "ETag" in documented(spec, files, whole)["headers"]
        documented(spec, files, ktn.head(url, timeout=10))
        documented(spec, files, ktn.get(url, headers={"Range": "bytes=0-99"}, timeout=10))
        etag = whole.headers["ETag"]
        documented(spec, files, ktn.get(url, headers={"If-None-Match": etag}, timeout=10))
        documented(spec, files, ktn.get(url, headers={"If-Match": '"other"'}, timeout=10))
        far = {"Range": f"bytes={len(whole.content) + 10}-"}
        documented(spec, files, ktn.get(url, headers=far, timeout=10))
    documented(spec, thumb, ktn.get(item["thumbnail_url"], timeout=10))
    documented(spec, thumb, ktn.head(item["thumbnail_url"], timeout=10))
    # a signed link is the other way in: its `sig` is the scheme's query parameter
    link_scheme = spec["components"]["securitySchemes"]["signedLink"]
    assert {"signedLink": []} in spec["paths"][files]["get"]["security"]
    proxy_url = next(r["url"] for r in item["renditions"] if r["name"] == "proxy")
    made = ktn.post(proxy_url + "/link", timeout=10)
    documented(spec, link, made)
    signed = made.json()["url"]
    assert f"{link_scheme['name']}=" in signed.split("?", 1)[1]
    documented(spec, files, requests.get(signed, timeout=10))
    # the live events are an event stream
    events = ktn.head(live_hub.api("/events"), timeout=10)
    assert events.headers["Content-Type"].startswith("text/event-stream")
    content = spec["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]

    # withdrawn: its files, their HEADs and a new link answer 410, each documented as such
    r = chief.post(live_hub.api(f"/items/{item_id}/withdraw"), json={"reason": "Wrong clip"})
    assert r.status_code == 200, r.text
    for path, r in (
        (files, ktn.get(proxy_url, timeout=10)),
        (files, ktn.head(proxy_url, timeout=10)),
        (files, requests.get(signed, timeout=10)),
        (thumb, ktn.get(item["thumbnail_url"], timeout=10)),
        (thumb, ktn.head(item["thumbnail_url"], timeout=10)),
        (link, ktn.post(proxy_url + "/link", timeout=10)),
    ):
        assert r.status_code == 410, (path, r.status_code)
        assert "withdrew" in documented(spec, path, r)["description"]
