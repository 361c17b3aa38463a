"""``python -m zerogate``: the ``zerogate`` command, for when the script is not on PATH
(and for tests, which run the interpreter they were started with)."""

from __future__ import annotations

import sys

from zerogate.cli import main

if __name__ == "__main__":
    sys.exit(main())
