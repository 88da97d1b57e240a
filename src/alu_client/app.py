"""``alu-client``: the desktop app's entry point (the composition root).

The desktop window is not built yet (issue 5). Until it is, ``alu-client --demo`` starts the
embedded demo hub — the same content the app will open on — and says so plainly.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="alu-client", description="ALU Desk, the member's transfer client."
    )
    parser.add_argument("--demo", action="store_true", help="run on the embedded demo hub")
    parser.add_argument("--port", type=int, default=8750, help="demo hub port (default 8750)")
    args = parser.parse_args(argv)
    if not args.demo:
        print(
            "alu-client: the desktop window is not built yet; run `alu-client --demo` to start "
            "the demo hub it will use.",
            file=sys.stderr,
        )
        return 2
    from alu_hub.cli import main as hub_main

    print("alu-client: the desktop window is not built yet; starting the demo hub it will use.")
    return hub_main(["demo", "--port", str(args.port)])


if __name__ == "__main__":
    sys.exit(main())
