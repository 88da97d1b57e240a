"""The desktop app (PySide6) on top of ``alu_client.core``, which it observes and commands.

- ``models/``: item models over core data (no widgets), one per list, with ``COL_*`` constants,
  an object role and a sort role; fed by batched core updates, never a signal per chunk.
- ``views/``: the panels (QWidget) showing those models through a sort/filter proxy.
- ``delegates.py``: painting (the progress bar); never a widget per row.
- ``tasks.py``: every call into the core that touches disk or network runs off the GUI thread
  and reports back on it.
- ``formats.py``: sizes, speeds and durations for people; ``i18n.py``: languages (EN/FR/AR,
  right to left for Arabic) and the translation catalogues in ``resources/translations``.

Every user-visible string goes through ``tr()``.
"""
