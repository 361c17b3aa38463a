"""``python -m bench``: see ``python -m bench --help`` and bench/README.md."""

from bench.cli import main

raise SystemExit(main())
