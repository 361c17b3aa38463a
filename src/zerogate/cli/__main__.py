"""``python -m zerogate.cli``: the zerogate command, as ``python -m zerogate`` runs it."""

from __future__ import annotations

import sys

from zerogate.cli import main

if __name__ == "__main__":
    sys.exit(main())
