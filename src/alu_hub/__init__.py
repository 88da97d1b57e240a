"""ALU hub: the central server of the Africa Link Union news exchange.

The agency pushes items (news videos with their metadata) into a feed ordered by ``seq``;
members read the feed, download renditions with HTTP Range, upload their own footage over
tus 1.0, and report what they did as history events, from which the council's statistics are
made. Parts: ``app`` (factory), ``api`` (JSON API), ``tus`` (uploads), ``files`` (Range),
``publish`` (a file becomes an item), ``media`` (PyAV), ``db``/``models`` (SQLAlchemy +
Alembic), ``cli`` (``alu-hub``). See docs/architecture.md.
"""
