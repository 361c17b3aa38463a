"""Graceful stop on SIGTERM and SIGINT, for the long-running commands."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that SIGTERM or SIGINT sets while the block runs.

    Install it before starting anything, so a signal that arrives during start-up still
    ends in a graceful stop; the handlers are removed when the block ends, so a second
    Ctrl-C during the shutdown that follows interrupts as usual.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
