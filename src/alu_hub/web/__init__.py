"""The statistics page for agency staff: HTML, inline SVG charts and a CSV export.

``/stats`` (the page, ``?month=YYYY-MM``), ``/stats.csv`` (one row per member), and
``/stats/login`` / ``/stats/logout``. The page signs in with the hub's own accounts and tokens
(``auth.py``): the token lives in an HttpOnly, SameSite=Strict cookie (Secure behind https) and
only agency staff are let in. Pages are rendered on the server with every value escaped and
are served under a strict Content-Security-Policy: no script at all, one stylesheet allowed by
a per-response nonce, nothing loaded from anywhere else (the page works offline).
"""

from .routes import router

__all__ = ["router"]
