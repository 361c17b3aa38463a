"""The notifier: isolated callbacks, the webhook allow-list, and posts to a real local server."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from zerogate.adapters.notifier import AlertNotifier, check_webhook_url, safe_url
from zerogate.domain.alerts import Alert, AlertLevel, AlertPhase, Notification
from zerogate.errors import InvalidConfig

LOGGER = "zerogate.governor"
SECRET = "s3cret"


def note(message: str = "memory at 95 %", kind: str = "firing") -> Notification:
    if kind == "resolved":
        alert = Alert("memory", AlertLevel.CRITICAL, AlertPhase.RESOLVED, message, 10.0, 12.5,
                      resolved_at=99.0)
        return Notification(alert, "resolved")
    alert = Alert("memory", AlertLevel.CRITICAL, AlertPhase.FIRING, message, 10.0, 12.5)
    return Notification(alert, "firing")


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Hook:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records requests and answers ``status``."""

    def __init__(self, status: int = 200, extra_headers: str = "", *,
                 is_hanging: bool = False, is_rude: bool = False) -> None:
        self.status, self.extra_headers = status, extra_headers
        self.is_hanging, self.is_rude = is_hanging, is_rude
        self.requests: list[Request] = []
        self.port = 0
        self._arrived = asyncio.Event()
        self._release = asyncio.Event()
        self._handlers: set[asyncio.Task[object]] = set()

    def url(self, target: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{target}"

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._answer(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ")
        headers = {k.strip().lower(): v.strip()
                   for k, v in (line.split(":", 1) for line in head[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Request(method, target, headers, body))
        self._arrived.set()
        if self.is_hanging:
            await self._release.wait()
        if self.is_rude:
            return  # hang up without an answer
        writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\nConnection: close\r\n"
                     f"{self.extra_headers}\r\n".encode("latin-1"))
        await writer.drain()

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Hook]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._release.set()
            server.close()
            await server.wait_closed()
            await asyncio.gather(*self._handlers, return_exceptions=True)


def free_port() -> int:
    """A port where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def send(notifier: AlertNotifier, *notes: Notification) -> None:
    """Queue ``notes`` then run the loop with the stop already set: it flushes and returns."""
    for n in notes:
        notifier.notify(n)
    stop = asyncio.Event()
    stop.set()
    await notifier.run(stop)


def webhook(url: str, **kwargs: float) -> AlertNotifier:
    return AlertNotifier(webhook_url=url, allowed_urls=[url], **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ callbacks

def test_a_failing_callback_is_logged_and_the_others_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(n: Notification) -> None:
        raise ValueError("boom")

    notifier = AlertNotifier([lambda n: seen.append("first"), broken,
                              lambda n: seen.append("third")])
    with caplog.at_level(logging.ERROR, LOGGER):
        notifier.notify(note())
    assert seen == ["first", "third"]
    [record] = caplog.records
    assert record.name == LOGGER and record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


async def test_an_async_callback_is_scheduled_not_awaited_and_run_waits_for_it() -> None:
    seen: list[Notification] = []

    async def remember(n: Notification) -> None:
        seen.append(n)

    notifier = AlertNotifier([remember])
    notifier.notify(note())
    assert seen == []  # notify returned before the coroutine ran
    await send(notifier)
    assert seen == [note()]


async def test_a_failing_async_callback_is_logged_and_does_not_stop_the_loop(
        caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    async def broken(n: Notification) -> None:
        raise RuntimeError("async boom")

    notifier = AlertNotifier([broken, lambda n: seen.append("sync")])
    with caplog.at_level(logging.ERROR, LOGGER):
        await send(notifier, note())
    assert seen == ["sync"]
    assert any(isinstance(r.exc_info and r.exc_info[1], RuntimeError) for r in caplog.records)


async def test_a_hanging_async_callback_is_bounded_by_the_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    async def hang(n: Notification) -> None:
        await asyncio.Event().wait()

    notifier = AlertNotifier([hang], timeout_s=0.05)
    with caplog.at_level(logging.ERROR, LOGGER):
        async with asyncio.timeout(5):
            await send(notifier, note())
    assert any(isinstance(r.exc_info and r.exc_info[1], TimeoutError) for r in caplog.records)


def test_an_async_callback_outside_an_event_loop_is_dropped_cleanly(
        caplog: pytest.LogCaptureFixture) -> None:
    async def remember(n: Notification) -> None:
        raise AssertionError("must not run")

    with caplog.at_level(logging.ERROR, LOGGER):
        AlertNotifier([remember]).notify(note())  # a never-awaited warning would fail here
    assert "outside an event loop" in caplog.text


# ------------------------------------------------------------------ allow-list

@pytest.mark.parametrize(("url", "allowed"), [
    ("https://example.com/hook", ["https://example.com/hook"]),
    ("https://example.com/hooks/a", ["https://other.org/", "https://example.com/hooks/"]),
    ("https://example.com/hooks/", ["https://example.com/hooks/"]),
    ("https://example.com/hooks/a?token=1", ["https://example.com/hooks/"]),
    ("https://EXAMPLE.com:443/hooks/a", ["https://example.com/hooks/"]),
    ("http://127.0.0.1:8080/x", ["http://127.0.0.1:8080/"]),
])
def test_allow_listed_webhooks_are_accepted(url: str, allowed: list[str]) -> None:
    check_webhook_url(url, allowed)
    AlertNotifier(webhook_url=url, allowed_urls=allowed)


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://example.com/hook", []),
    ("https://example.com.evil.net/hook", ["https://example.com/"]),
    ("https://example.com.evil.net/hook", ["https://example.com"]),  # no "/": exact only
    ("https://example.com/hook/extra", ["https://example.com/hook"]),
    ("https://example.com/hooksevil", ["https://example.com/hooks/"]),
    ("https://example.com/other", ["https://example.com/hooks/"]),
    ("http://example.com/hooks/a", ["https://example.com/hooks/"]),  # scheme
    ("https://example.com:8443/hooks/a", ["https://example.com/hooks/"]),  # port
    ("https://other.com/hooks/a", ["https://example.com/hooks/"]),  # host
    ("https://example.com@evil.net/hooks/a", ["https://example.com/hooks/"]),  # userinfo
    ("https://example.com/hooks/../admin", ["https://example.com/hooks/"]),
    ("https://example.com/hooks/%2e%2e/admin", ["https://example.com/hooks/"]),
    ("https://example.com/hooks/a", ["https://example.com/hooks/?x=/"]),
])
def test_webhooks_off_the_allow_list_are_refused(url: str, allowed: list[str]) -> None:
    with pytest.raises(InvalidConfig, match="not allow-listed"):
        check_webhook_url(url, allowed)
    with pytest.raises(InvalidConfig, match="not allow-listed"):
        AlertNotifier(webhook_url=url, allowed_urls=allowed)


@pytest.mark.parametrize(("url", "match"), [
    ("ftp://example.com/hook", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("https:///no-host", "no host"),
    ("https://example.com:port/", "cannot be parsed"),
])
def test_webhooks_that_are_not_http_urls_are_refused_even_if_listed(url: str,
                                                                   match: str) -> None:
    with pytest.raises(InvalidConfig, match=match):
        check_webhook_url(url, [url])


def test_the_refusal_does_not_echo_the_secret() -> None:
    with pytest.raises(InvalidConfig) as caught:
        check_webhook_url(f"https://user:pw@example.com/hook?token={SECRET}", [])
    assert SECRET not in str(caught.value) and "pw" not in str(caught.value)
    assert safe_url(f"https://user:pw@example.com:8443/a/b?token={SECRET}#frag") == (
        "https://example.com:8443/a/b")


@pytest.mark.parametrize("kwargs", [{"timeout_s": 0.0}, {"queue_size": 0}])
def test_notifiers_that_cannot_work_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidConfig):
        AlertNotifier(**kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the webhook

async def test_the_webhook_receives_the_exact_json_body() -> None:
    async with Hook().serving() as hook:
        url = hook.url(f"/hooks/zerogate?token={SECRET}")
        await send(webhook(url), note(), note("memory back at 40 %", kind="resolved"))
    first, second = hook.requests
    assert (first.method, first.target) == ("POST", f"/hooks/zerogate?token={SECRET}")
    assert first.headers["content-type"] == "application/json"
    assert json.loads(first.body) == {
        "resource": "memory", "level": "critical", "phase": "firing", "kind": "firing",
        "message": "memory at 95 %", "started_at": 10.0, "fired_at": 12.5,
        "resolved_at": None}
    assert json.loads(second.body) == {
        "resource": "memory", "level": "critical", "phase": "resolved", "kind": "resolved",
        "message": "memory back at 40 %", "started_at": 10.0, "fired_at": 12.5,
        "resolved_at": 99.0}


async def test_the_loop_posts_while_running_and_returns_when_stopped() -> None:
    async with Hook().serving() as hook:
        notifier, stop = webhook(hook.url()), asyncio.Event()
        async with asyncio.TaskGroup() as group:
            loop = group.create_task(notifier.run(stop))
            notifier.notify(note("one"))
            await hook.wait_for(1)
            notifier.notify(note("two"))
            await hook.wait_for(2)
            assert not loop.done()
            stop.set()
    assert [json.loads(r.body)["message"] for r in hook.requests] == ["one", "two"]


async def test_a_full_queue_drops_the_oldest_and_warns(
        caplog: pytest.LogCaptureFixture) -> None:
    async with Hook().serving() as hook:
        notifier = webhook(hook.url(), queue_size=2)
        with caplog.at_level(logging.WARNING, LOGGER):
            await send(notifier, note("one"), note("two"), note("three"))
    assert [json.loads(r.body)["message"] for r in hook.requests] == ["two", "three"]
    assert "queue full" in caplog.text


@pytest.mark.parametrize("kwargs", [{"status": 500}, {"is_rude": True}], ids=["500", "hang-up"])
async def test_a_failing_server_is_logged_without_the_secret_and_not_raised(
        kwargs: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    async with Hook(**kwargs).serving() as hook:  # type: ignore[arg-type]
        with caplog.at_level(logging.WARNING, LOGGER):
            await send(webhook(hook.url(f"/hook?token={SECRET}")), note(), note())
    assert len(hook.requests) == 2  # the first failure did not stop the second post
    warnings = [r for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 2
    assert f"127.0.0.1:{hook.port}/hook" in caplog.text
    assert SECRET not in caplog.text


async def test_a_refused_connection_is_logged_and_not_raised(
        caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook?token={SECRET}"
    with caplog.at_level(logging.WARNING, LOGGER):
        await send(webhook(url), note())
    assert "ConnectError" in caplog.text
    assert SECRET not in caplog.text


async def test_a_redirect_is_not_followed(caplog: pytest.LogCaptureFixture) -> None:
    async with Hook().serving() as elsewhere:
        moved = Hook(302, f"Location: {elsewhere.url()}\r\n")
        async with moved.serving():
            with caplog.at_level(logging.WARNING, LOGGER):
                await send(webhook(moved.url()), note())
    assert len(moved.requests) == 1
    assert elsewhere.requests == []
    assert "answered 302" in caplog.text


async def test_a_server_that_never_answers_delays_shutdown_by_at_most_the_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    async with Hook(is_hanging=True).serving() as hook:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, LOGGER):
            await send(webhook(hook.url(), timeout_s=0.2), note(), note())
        assert time.monotonic() - started < 2.0
    assert len(hook.requests) == 1  # the second never went: the flush ran out of time
    assert caplog.records


async def test_a_cancelled_loop_cancels_the_async_callbacks_it_was_waiting_for() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hang(n: Notification) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    notifier, stop = AlertNotifier([hang]), asyncio.Event()
    loop = asyncio.ensure_future(notifier.run(stop))
    notifier.notify(note())
    async with asyncio.timeout(5):
        await started.wait()
        stop.set()  # run now waits for the hanging callback ...
        loop.cancel()  # ... until the engine's task group gives up on it
        with pytest.raises(asyncio.CancelledError):
            await loop
        await cancelled.wait()
