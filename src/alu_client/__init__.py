"""ALU Desk client.

``core`` is the transfer client without widgets (the CLI and most tests drive it headless);
``ui`` is the PySide6 desktop app on top of it; ``app`` is the composition root.
See docs/architecture.md.
"""

__version__ = "0.1.0"
