"""A Python client for the zerogate HTTP API: ``Client`` (sync) and ``AsyncClient``.

>>> with Client() as zg:  # ZEROGATE_URL and ZEROGATE_API_KEY from the environment
...     run = zg.submit("document_analysis", {"doc": 1})
...     print(zg.wait(run["id"])["state"])

Every endpoint is written once, in ``Endpoints`` (``endpoints.py``), as a ``Call``
(``calls.py``): a description of the request (method, path, query, body) that also
says whether sending it twice is harmless. Each class turns a call into an HTTP
exchange in its one ``_send``, and the same functions decode answers and errors for
both (``core.py``, ``answers.py``), so the two clients cannot drift apart. Only loops
that sleep or stream (``wait``, ``iter_workflows``, ``events``) exist once per class
(``sync.py``, ``aio.py``), because waiting is either blocking or awaited.

Only requests that cannot repeat an effect are retried: reads, and submissions, which
always carry an Idempotency-Key (``retries.py`` has the rule). The API key is never
part of the client's repr, an exception's message, or an exception's state
(``core.py``). The errors form one tree under ``ApiError`` (``errors.py``).
"""

from __future__ import annotations

from zerogate.client.aio import AsyncClient
from zerogate.client.core import DEFAULT_URL, FINISHED, KEY_ENV, URL_ENV
from zerogate.client.errors import (
    ApiError,  # the root
    Conflict,  # 409
    Forbidden,  # 403
    InvalidRequest,  # 413, 422
    NotFoundError,  # 404
    RateLimited,  # 429
    Unauthorized,  # 401
    Unavailable,  # 503, or no answer
)
from zerogate.client.retries import MAX_RETRY_AFTER_S
from zerogate.client.sync import Client

__all__ = [
    "DEFAULT_URL",
    "FINISHED",
    "KEY_ENV",
    "MAX_RETRY_AFTER_S",
    "URL_ENV",
    "ApiError",
    "AsyncClient",
    "Client",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "NotFoundError",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
]
