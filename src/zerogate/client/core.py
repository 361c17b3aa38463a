"""What both clients share: configuration, request building, error decoding and the
retry rule, so that the blocking and the asyncio client cannot drift apart.

The API key is a bearer secret: it is added to each request as it is built and is
never part of the client's repr, an exception's message, or an exception's state.
"""

from __future__ import annotations

import os

import httpx

from zerogate.client.calls import Call
from zerogate.client.errors import BY_STATUS, ApiError, Unavailable
from zerogate.client.retries import backoff, retry_after, retry_delay
from zerogate.errors import InvalidConfig

DEFAULT_URL = "http://127.0.0.1:8765"
URL_ENV = "ZEROGATE_URL"
KEY_ENV = "ZEROGATE_API_KEY"
FINISHED = frozenset({"completed", "failed", "cancelled"})
# The server sends a keepalive comment every 15 s; a stream's reads may wait that long.
STREAM_READ_S = 60.0
USER_AGENT = "zerogate-client/1"


class Core:
    """Configuration, request building, error decoding and the retry rule."""

    def __init__(self, url: str | None, key: str | None, timeout_s: float,
                 retries: int) -> None:
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise InvalidConfig(f"the server URL must start with http:// or https://, "
                                f"got {self.url!r}")
        key = key if key is not None else os.environ.get(KEY_ENV)
        if key and not (key.isascii() and key.isprintable() and " " not in key):
            # Checked here so that httpx never fails on it with the key in its message.
            raise InvalidConfig("the API key has characters an API key never has")
        self._key = key or None
        if not timeout_s > 0:
            raise InvalidConfig("timeout_s must be positive")
        if retries < 0:
            raise InvalidConfig("retries must be 0 or more")
        self.timeout_s = timeout_s
        self.retries = retries

    @property
    def has_key(self) -> bool:
        """Whether requests carry an API key (the key itself is not readable here)."""
        return self._key is not None

    @property
    def key_id(self) -> str | None:
        """The key's public id (``zg_`` and 12 hex digits), or None."""
        if self._key is None:
            return None
        head, sep, _ = self._key[3:].partition("_")
        return f"zg_{head}" if self._key.startswith("zg_") and sep and len(head) == 12 else None

    def __repr__(self) -> str:
        key = "None" if self._key is None else repr(f"{self.key_id or 'zg'}_…")
        return f"{type(self).__name__}(url={self.url!r}, key={key})"

    def _request(self, call: Call, *, stream: bool = False) -> httpx.Request:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **call.headers}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key}"
        read = max(self.timeout_s, STREAM_READ_S) if stream else self.timeout_s
        timeout = httpx.Timeout(self.timeout_s, read=read)
        return httpx.Request(call.method, self.url + call.path, params=dict(call.params),
                             json=call.body, headers=headers,
                             extensions={"timeout": timeout.as_dict()})

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _failure(self, response: httpx.Response) -> ApiError:
        """The exception for an error answer (its body already read)."""
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        reason = body.get("reason") if isinstance(body, dict) else None
        message = str(err.get("message") or reason or response.reason_phrase
                      or f"HTTP {response.status_code}")
        details = err.get("details")
        cls = BY_STATUS.get(response.status_code, ApiError)
        return cls(response.status_code, str(err.get("code") or "http_error"),
                   self._redact(message),
                   request_id=str(err.get("request_id") or response.headers.get("x-request-id")
                                  or "") or None,
                   retry_after_s=retry_after(response.headers.get("retry-after")),
                   details=details if isinstance(details, list) else None)

    def _unreachable(self, exc: httpx.TransportError, call: Call) -> Unavailable:
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        message = f"the request to the zerogate server at {self.url} {what}"
        detail = self._redact(str(exc))
        if detail:
            message += f" ({detail})"
        if not call.safe and not isinstance(exc, httpx.ConnectError):
            message += "; it may have been carried out: check before repeating it"
        error = Unavailable(None, "unreachable", message)
        error.__cause__ = exc
        return error

    def _settle(self, call: Call, attempt: int,
                outcome: httpx.Response | httpx.TransportError) -> httpx.Response | float:
        """The answer to return, or the seconds to wait before sending ``call`` again;
        raises the error once sending again is not allowed or the retries are spent."""
        if isinstance(outcome, httpx.TransportError):
            error: ApiError = self._unreachable(outcome, call)
        elif outcome.is_success:
            return outcome
        else:
            error = self._failure(outcome)
        delay = retry_delay(call, attempt, error, self.retries)
        if delay is None:
            raise error
        return delay

    def _stream_gave_out(self, drops: int) -> float:
        """Seconds before reconnecting an event stream that ended ``drops`` times in a
        row without an event; raises once that passes ``retries``."""
        if drops > self.retries:
            raise Unavailable(None, "stream_ended", f"the event stream from {self.url} "
                              f"ended {drops} times in a row")
        return backoff(drops - 1)
