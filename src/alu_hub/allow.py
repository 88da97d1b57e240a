"""What a 405 says: the methods the addressed resource takes (RFC 9110 §15.5.6).

FastAPI makes one route per method for the same path, and Starlette's 405 names the methods of
one of them only: ``PUT /api/v1/items/{id}`` said ``Allow: PATCH`` although GET and HEAD work
there, and ``/api/v1/session`` said POST although DELETE signs out. A client that trusts
``Allow`` took those for impossible. Here the answer is the union over every route of the path
the request matched, plus HEAD wherever GET is (``head.HeadAsGet`` answers it).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Route
from starlette.types import Scope

#: the order the methods are said in (RFC 9110 §9's, then PATCH and OPTIONS)
ORDER = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """The methods the routes of the path ``scope`` addresses take; empty when no route has
    that path. Of routes with different templates matching the same path (``/items/changes``
    and ``/items/{item_id}``), the first one's template is the resource, as for routing."""
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    methods: set[str] = set()
    template: str | None = None
    for route in routes:
        if not isinstance(route, Route) or route.methods is None:
            continue
        if template is None and route.path_regex.match(path):
            template = route.path
        if route.path == template:
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods, key=lambda m: (ORDER.index(m) if m in ORDER else len(ORDER), m))


def not_allowed_message(method: str, allowed: list[str]) -> str:
    """The 405's words for people: the method refused and the ones to use instead."""
    if not allowed:
        return f"{method} is not allowed here."
    return f"{method} is not allowed here; this address takes {', '.join(allowed)}."
