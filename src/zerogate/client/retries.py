"""When to send a request again, and how long to wait first.

Retrying is deliberately narrow. A 429 or 503 answer, or a connection that failed,
is retried (honouring Retry-After, capped at ``MAX_RETRY_AFTER_S``) only when a second
copy of the request cannot do anything the first did not: reads, and submissions,
which always carry an Idempotency-Key (the caller's, or one the client makes up once
per call), so a retried submission returns the first run instead of starting another.
Every other POST, PUT and DELETE is sent exactly once.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from datetime import UTC
from typing import Any

from zerogate.client.calls import Call
from zerogate.client.errors import ApiError, RateLimited, Unavailable

MAX_RETRY_AFTER_S = 30.0


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from either form the header may take."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (0-based) when the server gave no Retry-After:
    doubling, with jitter so many clients do not come back in step."""
    return min(0.25 * 2.0 ** min(attempt, 10), MAX_RETRY_AFTER_S) * (0.5 + random.random() / 2)


def retry_delay(call: Call, attempt: int, error: ApiError, retries: int) -> float | None:
    """Seconds to wait before sending ``call`` again, or None to give up."""
    if not call.safe or attempt >= retries:
        return None
    if not isinstance(error, RateLimited | Unavailable):
        return None
    if error.retry_after_s is not None:
        return min(error.retry_after_s, MAX_RETRY_AFTER_S)
    return backoff(attempt)


def poll_delay(workflow: dict[str, Any], workflow_id: int, deadline: float | None,
               timeout_s: float | None, poll_s: float) -> float:
    """Seconds ``wait`` sleeps before reading the workflow again; raises TimeoutError
    once the deadline has passed."""
    if deadline is None:
        return poll_s
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"workflow {workflow_id} is still {workflow.get('state')} "
                           f"after {timeout_s:g} s")
    return min(poll_s, left)
