"""How errors leave the API: one JSON shape, the right status, never a bare 500.

``{"error": {"code": ..., "message": ..., "request_id": ..., "details": [...]}}``

| raised | status |
|---|---|
| malformed body, unknown field, bad template parameters | 422, details list each problem |
| NotFound, and another tenant's id | 404 |
| a lifecycle move the state machine forbids | 409 |
| a quota or the request rate | 429 + Retry-After |
| store unavailable, engine stopping, server saturated | 503 + Retry-After |
| anything unexpected | 500 with the request id; the traceback goes to the log only |
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from zerogate.api.quotas import QuotaExceeded
from zerogate.errors import (
    EngineClosed,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StoreCorrupt,
    StoreUnavailable,
)
from zerogate.templates import TemplateParamsInvalid

log = logging.getLogger("zerogate.api")
STORE_RETRY_S = 2


class ApiError(Exception):
    """An answer decided by the API itself (401, 403, 409 ...)."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, *, request_id: str | None,
                   headers: dict[str, str] | None = None,
                   details: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def request_id_of(request: Request) -> str | None:
    rid = request.scope.get("state", {}).get("request_id")
    return str(rid) if rid else None


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the one error shape."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message,
                              request_id=request_id_of(request), headers=exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {400: "invalid_request", 404: "not_found",
                405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail),
                              request_id=request_id_of(request),
                              headers=dict(exc.headers or {}))

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                    "type": e.get("type", "")} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return error_response(422, "invalid_request", f"{where}: {first['msg']}",
                              request_id=request_id_of(request), details=details)

    async def invalid(request: Request, exc: Exception) -> Response:
        details = exc.errors if isinstance(exc, TemplateParamsInvalid) else None
        return error_response(422, "invalid_input", str(exc),
                              request_id=request_id_of(request), details=details)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(404, "not_found", str(exc), request_id=request_id_of(request))

    async def conflict(request: Request, exc: Exception) -> Response:
        return error_response(409, "conflict", str(exc), request_id=request_id_of(request))

    async def quota(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, QuotaExceeded)
        return error_response(429, "quota_exceeded", str(exc),
                              request_id=request_id_of(request),
                              headers=retry_after(exc.retry_after_s))

    async def unavailable(request: Request, exc: Exception) -> Response:
        what = "the store is unavailable" if isinstance(exc, StoreUnavailable) else str(exc)
        log.warning("answering 503: %s", exc)
        return error_response(503, "unavailable", f"{what}; retry later",
                              request_id=request_id_of(request),
                              headers=retry_after(STORE_RETRY_S))

    async def internal(request: Request, exc: Exception) -> Response:
        rid = request_id_of(request)
        log.error("unexpected error answering %s %s (request %s)", request.method,
                  request.url.path, rid, exc_info=exc)
        return error_response(500, "internal", "internal error; the server log has the "
                              f"details under request id {rid}", request_id=rid)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(InvalidInput, invalid)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(InvalidTransition, conflict)
    app.add_exception_handler(QuotaExceeded, quota)
    app.add_exception_handler(StoreUnavailable, unavailable)
    app.add_exception_handler(EngineClosed, unavailable)
    app.add_exception_handler(StoreCorrupt, internal)
    app.add_exception_handler(Exception, internal)
