"""HTML built from templates whose every value is escaped unless it is already ``Html``."""

from __future__ import annotations

import html
from collections.abc import Iterable


class Html(str):
    """Text that is already HTML (made here, from escaped values); everything else is text."""

    __slots__ = ()


def esc(value: object) -> Html:
    """``value`` as HTML: escaped (quotes too, so it is safe in attributes), unless it is Html."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def render(template: str, /, **values: object) -> Html:
    """Fill ``{name}`` fields of a template with escaped values. Templates are literals in this
    package; values (names from the database, numbers, other Html) are never trusted."""
    return Html(template.format(**{k: esc(v) for k, v in values.items()}))


def join(parts: Iterable[Html], sep: str = "") -> Html:
    return Html(sep.join(esc(p) for p in parts))
