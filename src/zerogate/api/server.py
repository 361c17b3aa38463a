"""``zerogate serve``: the engine, the governor, telemetry and the HTTP API in one process.

One event loop runs everything: uvicorn serves the ASGI app on the loop the engine
claims and runs work on, so a request reads the engine's state without a thread hop.

Start-up refuses an unsafe set-up instead of warning about it: a store with no keys
may only be served on a loopback address; there, the first start creates an admin
key and prints it once (the store keeps only its hash). Shutdown stops accepting
requests, lets in-flight ones finish, then drains the engine (running tasks finish
within the grace period or are released for another instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import socket
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from zerogate.api.app import Api, ApiSettings, create_app
from zerogate.api.events import EventHub
from zerogate.api.keys import new_key
from zerogate.errors import InvalidConfig, ZerogateError
from zerogate.ports import Store
from zerogate.runtime.engine import Engine
from zerogate.runtime.signals import stop_on_signals

log = logging.getLogger("zerogate.server")


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the server owns SIGTERM and SIGINT so the
    engine drains after the HTTP side has stopped (uvicorn would re-raise the signal
    and end the process first)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def bootstrap_key(store: Store, host: str, now: float) -> str | None:
    """The first admin key of a new store (to print once), or None if keys exist.

    Raises InvalidConfig when a store without keys would be served beyond loopback.
    """
    if await store.list_keys():
        return None
    if not is_loopback(host):
        raise InvalidConfig(
            f"refusing to listen on {host} with no API keys in the store: anyone who can "
            "reach it could run work. Create a key first (zerogate keys create --db ... "
            "--role admin), or listen on 127.0.0.1")
    key, record = new_key(tenant="default", role="admin", name="first admin key", now=now)
    await store.save_key(record)
    return key


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP, and without it a response's body waits ~40 ms for the
    # client's delayed ACK (uvicorn writes head and body separately).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidConfig(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class ApiServer:
    """The engine and its HTTP API, started and stopped together.

    >>> async with ApiServer(engine, api, sock) as server:
    ...     print(server.url)
    """

    def __init__(self, api: Api, sock: socket.socket, *, grace_s: float = 10.0) -> None:
        self.api = api
        self.engine = api.engine
        self.sock = sock
        self.grace_s = grace_s
        config = uvicorn.Config(create_app(api), log_config=None, access_log=False,
                                lifespan="off", ws="none", server_header=False,
                                timeout_graceful_shutdown=max(math.ceil(grace_s), 1),
                                timeout_keep_alive=30)
        self.http = _Uvicorn(config)
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.engine.start()
        self.api.ready = True
        self._tasks.append(asyncio.create_task(self.api.audit.run(), name="zerogate-audit"))
        serving = asyncio.create_task(self.http.serve(sockets=[self.sock]), name="zerogate-http")
        self._tasks.append(serving)
        while not self.http.started:
            if serving.done():
                serving.result()  # raises what stopped it
                raise RuntimeError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.api.ready = False
        self.http.should_exit = True
        serving = self._tasks[1] if len(self._tasks) > 1 else None
        try:
            if serving is not None:
                await serving
        finally:
            for task in self._tasks[:1]:
                task.cancel()
            await asyncio.gather(*self._tasks[:1], return_exceptions=True)
            with contextlib.suppress(ZerogateError):  # the store may be down; keep stopping
                await self.api.audit.flush()
            await self.engine.shutdown(self.grace_s)

    async def serve_until_signalled(self, on_ready: Callable[[ApiServer], None] | None = None,
                                    ) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully."""
        try:
            with stop_on_signals() as stop:
                await self.start()
                if on_ready is not None:
                    on_ready(self)
                waiter = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, self._tasks[1]}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
        finally:
            await self.stop()


def build(engine_factory: Callable[[EventHub], Engine], settings: ApiSettings | None = None,
          ) -> Api:
    """Wire an engine to an API: the engine's event sink is the API's event hub."""
    holder: dict[str, Engine] = {}

    async def read_tenant(workflow_id: int) -> str:
        return (await holder["engine"].store.get_workflow(workflow_id)).tenant

    hub = EventHub(read_tenant)
    engine = engine_factory(hub)
    holder["engine"] = engine
    return Api(engine, settings, hub=hub)
