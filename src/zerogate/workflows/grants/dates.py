"""The working-day calendar of ``grant_timeline`` (Monday to Friday, numpy's business days).

Every schedule offset is in working days from ``as_of``; these turn dates into offsets
and back. ``EPS`` is the tolerance when comparing offsets and remaining efforts.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

EPS = 1e-9


def workdays(start: date, end: date) -> int:
    """Working days in [start, end) (negative when end is before start)."""
    return int(np.busday_count(start, end))


def workday(as_of: date, offset: int) -> date:
    """The working day ``offset`` working days after as_of (as_of rolled to a workday)."""
    day: np.datetime64 = np.busday_offset(as_of, offset, roll="forward")
    return date.fromisoformat(str(day))


def offset_day(as_of: date, offset: float, end: int = 0) -> str:
    """The day a start offset falls on, or (``end``) the day a finish offset ends."""
    t = round(offset, 6)
    return workday(as_of, math.ceil(t) - 1 if end else math.floor(t)).isoformat()
