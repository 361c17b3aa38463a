"""The errors of the client: one branch of the project's tree, whose root is
``zerogate.errors.ZerogateError``::

    ApiError               the server refused a request, or could not be reached
    ├── Unauthorized       401
    ├── Forbidden          403
    ├── NotFoundError      404
    ├── Conflict           409
    ├── InvalidRequest     413, 422
    ├── RateLimited        429
    └── Unavailable        503, or no answer at all
"""

from __future__ import annotations

from typing import Any

from zerogate.errors import ZerogateError


class ApiError(ZerogateError):
    """The server refused a request, or could not be reached.

    ``status`` is the HTTP status (None when no answer came back), ``code`` the
    machine-readable reason from the error body, ``request_id`` the id the server
    logged the request under (quote it when reporting a problem), ``retry_after_s``
    the server's Retry-After in seconds, and ``details`` the per-field problems of
    a 422. None of them ever holds the API key.
    """

    def __init__(self, status: int | None, code: str, message: str, *,
                 request_id: str | None = None, retry_after_s: float | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after_s = retry_after_s
        self.details = details

    def __str__(self) -> str:
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        rid = f", request {self.request_id}" if self.request_id else ""
        return f"{self.message} ({answer}, {self.code}{rid})"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
                f"message={self.message!r}, request_id={self.request_id!r})")


class Unauthorized(ApiError):
    """401: no key, or a key the server does not accept (unknown, revoked, expired)."""


class Forbidden(ApiError):
    """403: the key's role may not do this (or a cross-origin change was refused)."""


class NotFoundError(ApiError):
    """404: no such record, or it belongs to another tenant."""


class Conflict(ApiError):
    """409: the state forbids it (retrying a completed workflow, a reused
    Idempotency-Key with another template, the governor is off ...)."""


class InvalidRequest(ApiError):
    """413 or 422: the request was malformed or too big; nothing was stored."""


class RateLimited(ApiError):
    """429: a quota of the key's tenant; ``retry_after_s`` says when to try again."""


class Unavailable(ApiError):
    """503, or no answer at all: the server is overloaded, stopping, or unreachable."""


BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFoundError, 409: Conflict,
    413: InvalidRequest, 422: InvalidRequest, 429: RateLimited, 503: Unavailable,
}
