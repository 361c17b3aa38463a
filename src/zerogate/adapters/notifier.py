"""Send alert notifications to Python callbacks and to one allow-listed webhook.

``notify`` never blocks the governor: callbacks run at once, each isolated (a failure
is logged and the others still run), and webhook posts wait on a bounded queue that
drops the oldest when full. ``run`` is the loop, owned by the engine's task group,
that posts them with one HTTP client that never follows redirects: a redirect could
carry the alert to a host nobody allow-listed. Failures are logged, never raised, and
the logs show the webhook without its query string or credentials.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from zerogate.domain.alerts import Notification
from zerogate.errors import InvalidConfig

log = logging.getLogger("zerogate.governor")

_SCHEMES = ("http", "https")


def _parse(url: str) -> httpx.URL | None:
    """``url`` as the HTTP client itself will read it (dot segments removed), or None."""
    try:
        return httpx.URL(url)
    except httpx.InvalidURL:
        return None


def _is_allowed(url: str, entry: str) -> bool:
    """Exactly ``entry``; or under ``entry`` ending in "/", on the same scheme and host."""
    if url == entry:
        return True
    wanted, allowed = _parse(url), _parse(entry)
    if wanted is None or allowed is None or not entry.endswith("/") or allowed.query:
        return False
    # httpx lowers scheme and host and drops a default port, so these compare as origins.
    same_origin = (wanted.scheme, wanted.host, wanted.port) == (
        allowed.scheme, allowed.host, allowed.port)
    # The client resolves /hooks/../admin itself; an encoded %2e%2e only a server would.
    is_traversal = bool({".", ".."} & set(wanted.path.split("/")))
    return same_origin and wanted.path.startswith(allowed.path) and not is_traversal


def check_webhook_url(url: str, allowed_urls: Sequence[str]) -> None:
    """Raise InvalidConfig unless ``url`` is http(s) and allow-listed in ``allowed_urls``."""
    parsed = _parse(url)
    if parsed is None:
        raise InvalidConfig(f"the webhook URL cannot be parsed: {safe_url(url)}")
    if parsed.scheme not in _SCHEMES:
        raise InvalidConfig(f"the webhook scheme must be http or https, got {parsed.scheme!r}")
    if not parsed.host:
        raise InvalidConfig(f"the webhook URL has no host: {safe_url(url)}")
    if not any(_is_allowed(url, entry) for entry in allowed_urls):
        raise InvalidConfig(f"the webhook {safe_url(url)} is not allow-listed: add it, or a "
                            "prefix of it ending in '/', to allowed_urls")


def safe_url(url: str) -> str:
    """``url`` fit for a log: no credentials, query string or fragment."""
    parsed = _parse(url)
    if parsed is None:
        return "<unparsable URL>"
    netloc, path = parsed.netloc, parsed.raw_path.split(b"?")[0]
    return f"{parsed.scheme}://{(netloc + path).decode('ascii', 'replace')}"


def _redact(text: str, url: str) -> str:
    """``text`` without the webhook's full URL, query string or credentials in it."""
    parsed = _parse(url)
    secrets = [url] if parsed is None else [url, parsed.query.decode("ascii", "replace"),
                                            parsed.userinfo.decode("ascii", "replace")]
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text


def payload(n: Notification) -> dict[str, object]:
    """The JSON body posted for ``n``."""
    alert = n.alert
    return {"resource": alert.resource, "level": alert.level.label, "phase": str(alert.phase),
            "kind": n.kind, "message": alert.message, "started_at": alert.started_at,
            "fired_at": alert.fired_at, "resolved_at": alert.resolved_at}


class AlertNotifier:
    """Call ``notify`` for each notification; run ``run`` in the engine's task group."""

    def __init__(self, callbacks: Sequence[Callable[[Notification], object]] = (),
                 webhook_url: str | None = None, allowed_urls: Sequence[str] = (),
                 timeout_s: float = 5.0, queue_size: int = 1000) -> None:
        if not timeout_s > 0:
            raise InvalidConfig(f"timeout_s must be positive, got {timeout_s}")
        if queue_size < 1:
            raise InvalidConfig(f"queue_size must be at least 1, got {queue_size}")
        if webhook_url is not None:
            check_webhook_url(webhook_url, allowed_urls)
        self._callbacks = tuple(callbacks)
        self._webhook_url = webhook_url
        self._timeout_s = timeout_s
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=queue_size)
        self._awaiting: set[asyncio.Task[None]] = set()

    def notify(self, n: Notification) -> None:
        """Call every callback with ``n`` now and queue its webhook post; never blocks."""
        for callback in self._callbacks:
            self._call(callback, n)
        if self._webhook_url is None:
            return
        if self._queue.full():
            dropped = self._queue.get_nowait()
            log.warning("alert webhook queue full (%d): dropped the oldest notification, "
                        "%s %s of %s", self._queue.maxsize, dropped.kind,
                        dropped.alert.level.label, dropped.alert.resource)
        self._queue.put_nowait(n)

    async def run(self, stop: asyncio.Event) -> None:
        """Post queued notifications until ``stop`` is set, then flush for ``timeout_s``.

        Returns at most about twice ``timeout_s`` after ``stop``: a post in flight
        finishes or times out first, then the queue gets ``timeout_s`` more.
        """
        try:
            if self._webhook_url is None:
                await stop.wait()
            else:
                await self._deliver(stop, self._webhook_url)
            await self._settle_callbacks()
        finally:
            for task in list(self._awaiting):  # only when cancelled: nothing may outlive the loop
                task.cancel()

    async def _deliver(self, stop: asyncio.Event, url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=False, timeout=self._timeout_s) as client:
            while (n := await self._next(stop)) is not None:
                await self._post(client, url, n)
            await self._flush(client, url)

    def _call(self, callback: Callable[[Notification], object], n: Notification) -> None:
        try:
            result = callback(n)
        except Exception:  # a hook: one broken callback must not silence the others
            log.exception("alert callback %r failed on %s of %s", callback, n.kind,
                          n.alert.resource)
            return
        if inspect.isawaitable(result):
            self._schedule(result, callback)

    def _schedule(self, awaitable: Awaitable[Any], callback: object) -> None:
        """Run an async callback's awaitable in the background; ``run`` waits for it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # else Python warns it was never awaited
            log.error("alert callback %r returned an awaitable outside an event loop: "
                      "dropped", callback)
            return
        task = loop.create_task(self._guard(awaitable, callback))
        self._awaiting.add(task)
        task.add_done_callback(self._awaiting.discard)

    async def _guard(self, awaitable: Awaitable[Any], callback: object) -> None:
        try:
            await asyncio.wait_for(awaitable, self._timeout_s)
        except Exception:  # a hook, as in _call
            log.exception("alert callback %r failed", callback)

    async def _settle_callbacks(self) -> None:
        """Wait for async callbacks still running; each is bounded by ``timeout_s``."""
        while self._awaiting:
            await asyncio.gather(*self._awaiting)

    async def _next(self, stop: asyncio.Event) -> Notification | None:
        """The next queued notification, or None once ``stop`` is set."""
        if stop.is_set():
            return None
        getter = asyncio.ensure_future(self._queue.get())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((getter, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            getter.cancel()
            stopper.cancel()
            await asyncio.gather(getter, stopper, return_exceptions=True)
        # A notification taken in the same instant as the stop is still posted.
        return None if getter.cancelled() else getter.result()

    async def _flush(self, client: httpx.AsyncClient, url: str) -> None:
        """Post what is still queued, for at most ``timeout_s`` in all."""
        try:
            async with asyncio.timeout(self._timeout_s):
                while not self._queue.empty():
                    await self._post(client, url, self._queue.get_nowait())
        except TimeoutError:
            log.warning("alert webhook %s: gave up %d queued notifications at shutdown",
                        safe_url(url), self._queue.qsize() + 1)

    async def _post(self, client: httpx.AsyncClient, url: str, n: Notification) -> None:
        try:
            response = await client.post(url, json=payload(n))
        except httpx.HTTPError as exc:
            log.warning("alert webhook %s failed: %s: %s", safe_url(url), type(exc).__name__,
                        _redact(str(exc), url))
            return
        if response.is_redirect:
            log.warning("alert webhook %s answered %d: redirects are not followed",
                        safe_url(url), response.status_code)
        elif not response.is_success:
            log.warning("alert webhook %s answered %d", safe_url(url), response.status_code)
