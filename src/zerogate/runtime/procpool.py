"""A process pool in which one call can be terminated without disturbing the others.

``concurrent.futures.ProcessPoolExecutor`` cannot kill the process behind a single
future, so a cancelled or timed-out ``run_in="process"`` task would keep burning a CPU.
Here every worker is a plain ``multiprocessing`` process with its own pipe; the event
loop watches the pipe and the process sentinel, so a reply or a death wakes us at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import pickle
import signal
import traceback
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from zerogate.errors import EngineClosed, InvalidConfig, RemoteError, WorkerCrashed

TRACEBACK_ATTR = "__zerogate_traceback__"
_KILL_AFTER_S = 1.0


@dataclass(eq=False)
class _Worker:
    proc: BaseProcess
    conn: Connection
    ready: bool = False  # the child has booted and is blocked reading requests
    evicted: bool = False  # close() signalled it, so its death is not a crash


class ProcessPool:
    """Run picklable module-level functions in worker processes, one call per process."""

    def __init__(self, *, size: int, start_method: str = "spawn") -> None:
        if size < 1:
            raise InvalidConfig(f"process pool size must be >= 1, got {size}")
        ctx = None
        with contextlib.suppress(ValueError):
            ctx = multiprocessing.get_context(start_method)
        if not isinstance(ctx, SpawnContext | ForkServerContext | ForkContext):
            raise InvalidConfig(f"unknown multiprocessing start method {start_method!r}")
        self._ctx = ctx
        self._size = size
        self._slots = 0  # live or reserved worker processes, never above size
        self._idle: list[_Worker] = []
        self._waiters: deque[asyncio.Future[_Worker | None]] = deque()
        self._running: set[_Worker] = set()
        self._drained = asyncio.Event()
        self._drained.set()
        self._reaping: set[asyncio.Task[None]] = set()
        self._closed = False
        self._closing: asyncio.Task[None] | None = None

    @property
    def busy(self) -> int:
        return len(self._running)

    async def run(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        self._check_open()
        # Pickling here makes a bad argument fail in the caller, before any worker is touched.
        payload = pickle.dumps((fn, tuple(args), dict(kwargs or {})), pickle.HIGHEST_PROTOCOL)
        worker = await self._acquire()
        if self._closed:
            self._hand_over(worker)
            self._check_open()
        self._set_running(worker, True)
        try:
            reply = await self._exchange(worker, payload)
        except BaseException as exc:
            self._set_running(worker, False)
            await self._retire(worker)
            if worker.evicted and isinstance(exc, WorkerCrashed):
                raise EngineClosed("process pool closed before the call finished") from exc
            raise
        self._set_running(worker, False)
        self._hand_over(worker)
        return _unpack(reply)

    async def close(self, *, grace_s: float = 5.0) -> None:
        if self._closing is None:
            self._closed = True
            self._closing = asyncio.create_task(self._shutdown(grace_s))
        # Shielded so that cancelling one close() caller cannot leave children behind.
        await asyncio.shield(self._closing)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosed("process pool is closed")

    async def _acquire(self) -> _Worker:
        if self._idle:
            return self._revive(self._idle.pop())
        if self._slots < self._size:
            self._slots += 1
            return self._spawn()
        fut: asyncio.Future[_Worker | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            got = await fut
        except asyncio.CancelledError:
            self._abandon(fut)
            raise
        return self._spawn() if got is None else self._revive(got)

    def _abandon(self, fut: asyncio.Future[_Worker | None]) -> None:
        # A worker or slot may have been handed to us just before the cancellation landed.
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            self._hand_over(fut.result())
        with contextlib.suppress(ValueError):
            self._waiters.remove(fut)

    def _hand_over(self, worker: _Worker | None) -> None:
        """Give a worker, or with None a free slot, to the oldest waiter; else keep it."""
        if worker is not None and self._closed:
            self._track(_stop(worker, polite=worker.ready))
            worker = None
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(worker)
                return
        if worker is None:
            self._slots -= 1
        else:
            self._idle.append(worker)

    def _revive(self, worker: _Worker) -> _Worker:
        if worker.proc.is_alive():
            return worker
        # It died while idle (OOM killer, kill -9): reuse its slot for a fresh process.
        worker.conn.close()
        worker.proc.join()
        worker.proc.close()
        return self._spawn()

    def _spawn(self) -> _Worker:
        ours, theirs = self._ctx.Pipe(duplex=True)
        # daemon: if close() is never called, interpreter exit must not hang joining us.
        proc = self._ctx.Process(
            target=_child_main, args=(theirs,), name="zerogate-procpool", daemon=True
        )
        try:
            proc.start()
        except BaseException:
            ours.close()
            self._hand_over(None)
            raise
        finally:
            # Only the child may hold its end, or its death would never show up as EOF.
            theirs.close()
        return _Worker(proc, ours)

    def _set_running(self, worker: _Worker, running: bool) -> None:
        if running:
            self._running.add(worker)
            self._drained.clear()
            return
        self._running.discard(worker)
        if not self._running:
            self._drained.set()

    async def _exchange(self, worker: _Worker, payload: bytes) -> bytes:
        if not worker.ready:
            # Waiting for the boot handshake means the send below never blocks the loop
            # on a full pipe while the child is still importing.
            await self._receive(worker)
            worker.ready = True
        try:
            worker.conn.send_bytes(payload)
        except OSError:
            raise await self._crashed(worker) from None
        return await self._receive(worker)

    async def _receive(self, worker: _Worker) -> bytes:
        await _readable(worker.conn.fileno(), worker.proc.sentinel)
        # A reply written just before dying is still a reply; EOF or a torn one is a crash.
        if worker.conn.poll():
            with contextlib.suppress(EOFError, OSError):
                return worker.conn.recv_bytes()
        raise await self._crashed(worker)

    async def _crashed(self, worker: _Worker) -> WorkerCrashed:
        await _readable(worker.proc.sentinel)
        worker.proc.join()
        code = worker.proc.exitcode
        return WorkerCrashed(f"worker process {worker.proc.pid} died {_describe_exit(code)}")

    async def _retire(self, worker: _Worker) -> None:
        # Shielded so that a second cancellation cannot interrupt the reaping.
        await asyncio.shield(self._track(_stop(worker, polite=False), then_free_slot=True))

    def _track(
        self, coro: Coroutine[Any, Any, None], *, then_free_slot: bool = False
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)
        if then_free_slot:
            # Only once the old process is gone, so that we never exceed `size` processes.
            task.add_done_callback(lambda _: self._hand_over(None))
        return task

    async def _shutdown(self, grace_s: float) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_exception(EngineClosed("process pool closed before the call started"))
        self._waiters.clear()
        idle, self._idle = self._idle, []
        for worker in idle:
            self._hand_over(worker)
        if not await self._wait_drained(grace_s):
            self._evict(hard=False)
            if not await self._wait_drained(_KILL_AFTER_S):
                self._evict(hard=True)
                await self._wait_drained(None)
        while self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)

    async def _wait_drained(self, timeout: float | None) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._drained.wait()
        return self._drained.is_set()

    def _evict(self, *, hard: bool) -> None:
        # The calls notice the death through their sentinel watch and reap the workers.
        for worker in self._running:
            worker.evicted = True
            worker.proc.kill() if hard else worker.proc.terminate()


async def _stop(worker: _Worker, *, polite: bool) -> None:
    if polite:
        # An explicit goodbye, not EOF: forked siblings may hold copies of our pipe end.
        with contextlib.suppress(OSError):
            worker.conn.send_bytes(b"")
    worker.conn.close()
    if not (polite and await _readable(worker.proc.sentinel, timeout=_KILL_AFTER_S)):
        worker.proc.terminate()
        if not await _readable(worker.proc.sentinel, timeout=_KILL_AFTER_S):
            worker.proc.kill()
            await _readable(worker.proc.sentinel)
    worker.proc.join()
    worker.proc.close()


async def _readable(*fds: int, timeout: float | None = None) -> bool:
    """Wait until one of ``fds`` is readable; False if ``timeout`` passed first."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not fut.done():
            fut.set_result(None)

    for fd in fds:
        loop.add_reader(fd, wake)
    try:
        done, _ = await asyncio.wait({fut}, timeout=timeout)
    finally:
        for fd in fds:
            loop.remove_reader(fd)
    return bool(done)


def _describe_exit(code: int | None) -> str:
    text = f"with exit code {code}"
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            text += f" (killed by {signal.Signals(-code).name})"
    return text


def _unpack(reply: bytes) -> Any:
    message = pickle.loads(reply)
    if message[0] == "ok":
        return message[1]
    _, blob, type_name, text, tb_text = message
    exc: BaseException = RemoteError(type_name, text, tb_text)
    # The child checked the round-trip, but the class may not be importable here.
    with contextlib.suppress(Exception):
        loaded = pickle.loads(blob) if blob is not None else None
        if isinstance(loaded, BaseException):
            exc = loaded
    setattr(exc, TRACEBACK_ATTR, tb_text)
    raise exc


def _child_main(conn: Connection) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what to cancel.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send_bytes(b"")  # ready
    with contextlib.suppress(EOFError):  # EOF: the parent is gone
        while request := conn.recv_bytes():  # empty: the parent asks us to exit
            conn.send_bytes(_serve(request))


def _serve(request: bytes) -> bytes:
    try:
        fn, args, kwargs = pickle.loads(request)
        return pickle.dumps(("ok", fn(*args, **kwargs)), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable result lands here too, as the pickling error
        return _error_reply(exc)


def _error_reply(exc: Exception) -> bytes:
    tb_text = "".join(traceback.format_exception(exc))
    blob: bytes | None = None
    with contextlib.suppress(Exception):
        candidate = pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
        pickle.loads(candidate)
        blob = candidate
    name = type(exc).__qualname__
    if type(exc).__module__ != "builtins":
        name = f"{type(exc).__module__}.{name}"
    return pickle.dumps(("err", blob, name, str(exc), tb_text), pickle.HIGHEST_PROTOCOL)
