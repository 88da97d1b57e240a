"""The frozen app's entry script (PyInstaller): ``alu-client`` as installed."""

import sys

from alu_client.app import main

if __name__ == "__main__":
    sys.exit(main())
