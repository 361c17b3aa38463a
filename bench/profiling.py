"""cProfile over every thread: the event loop and the threads it starts (the SQLite
store runs all its statements on a thread of its own, invisible to a plain cProfile).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import threading
from types import FrameType, TracebackType
from typing import Any


class AllThreads:
    """Profile the calling thread, and each thread started while this is active."""

    def __init__(self) -> None:
        self.main = cProfile.Profile()
        self.threads: list[tuple[str, cProfile.Profile]] = []

    def __enter__(self) -> AllThreads:
        threading.setprofile(self._adopt)
        self.main.enable()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.main.disable()
        threading.setprofile(None)

    def _adopt(self, frame: FrameType, event: str, arg: Any) -> None:
        # Runs at a new thread's first profiling event: enabling a profiler there
        # replaces this hook for that thread.
        profile = cProfile.Profile()
        self.threads.append((threading.current_thread().name, profile))
        profile.enable()

    def report(self, top: int = 25) -> str:
        parts = [_section("main thread (event loop)", self.main, top)]
        parts += [_section(f"thread {name}", prof, top) for name, prof in self.threads]
        return "\n".join(p for p in parts if p)


def _section(title: str, profile: cProfile.Profile, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    if not stats.total_calls:  # type: ignore[attr-defined]
        return ""
    out.write(f"==== {title}: top {top} by cumulative time ====\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"==== {title}: top 15 by own time ====\n")
    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue()
