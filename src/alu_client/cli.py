"""``alu``: the headless command line of ALU Desk (transfer verbs arrive with the engine)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print(
        "alu: the command line is not built yet (it comes with the transfer engine).",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
