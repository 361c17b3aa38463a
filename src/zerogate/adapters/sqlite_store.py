"""The default store: one SQLite file in WAL mode, zero set-up.

All statements run on one dedicated thread, so the event loop never blocks on disk
and the connection is never shared between threads. Every public method is one
``BEGIN IMMEDIATE`` transaction, committed before it returns.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from zerogate.adapters import sqlite_ops as ops
from zerogate.adapters.sqlite_schema import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    WORKFLOW_COLUMNS,
)
from zerogate.domain.model import check_scope
from zerogate.domain.records import (
    ApiKeyRecord,
    AuditEntry,
    Changes,
    ClaimBatch,
    ClaimRequest,
    LiveView,
    NewWorkflow,
    Outcome,
    RollupRow,
    Submitted,
    TaskRecord,
    WorkflowRecord,
)
from zerogate.domain.scheduling import RunningCounts
from zerogate.errors import InvalidInput, NotFound, StoreCorrupt, StoreUnavailable

T = TypeVar("T")


class SqliteStore:
    """A durable store in one SQLite file (``:memory:`` works too, without durability).

    ``durability="full"`` (default): each commit survives power loss.
    ``durability="normal"``: each commit survives a crash of this process only.
    """

    def __init__(self, path: str | Path, *, durability: Literal["full", "normal"] = "full",
                 busy_timeout_s: float = 5.0) -> None:
        self.path = str(path)
        self._sync = {"full": "FULL", "normal": "NORMAL"}[durability]
        self._busy_ms = int(busy_timeout_s * 1000)
        self._db: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="zerogate-sqlite")
        try:
            await self._call(self._connect)
        except BaseException:
            self._pool.shutdown(wait=True)
            self._pool = None
            raise

    async def close(self) -> None:
        if self._pool is None:
            return
        await self._call(self._disconnect)
        self._pool.shutdown(wait=True)
        self._pool = None

    def _connect(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            self._check_identity(db)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA synchronous = {self._sync}")
            db.execute("PRAGMA foreign_keys = OFF")
            _migrate(db)
            db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
        except BaseException:
            db.close()
            raise
        self._db = db

    def _check_identity(self, db: sqlite3.Connection) -> None:
        (app_id,) = db.execute("PRAGMA application_id").fetchone()
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and tables == 0:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if app_id != APPLICATION_ID:
            raise StoreCorrupt(f"{self.path} is a SQLite file but not a zerogate store")
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreCorrupt(f"{self.path} has schema {version}; this zerogate reads "
                               f"up to {SCHEMA_VERSION}: upgrade zerogate")

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # ------------------------------------------------------------ plumbing

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            raise StoreUnavailable("the store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._guarded, fn, args)

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except sqlite3.DatabaseError as exc:
            raise self._translate(exc) from exc
        except (sqlite3.Error, UnicodeError, OverflowError) as exc:
            # A value SQLite cannot bind or encode: the input's fault, not the store's.
            raise InvalidInput(f"the store cannot hold this value: {exc}") from exc

    def _translate(self, exc: sqlite3.DatabaseError) -> Exception:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreUnavailable(f"{self.path} is locked by another process; retry, or "
                                    "stop the other zerogate using this file")
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
            return StoreUnavailable(f"cannot open {self.path}: check that the folder "
                                    "exists and is writable")
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreCorrupt(f"{self.path} is damaged or not a SQLite file: {text}")
        return StoreUnavailable(f"the store at {self.path} failed: {text}")

    async def _tx(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(self._in_tx, fn, args)

    def _in_tx(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return self._within("BEGIN IMMEDIATE", fn, args)

    async def _snapshot(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(self._in_snapshot, fn, args)

    def _in_snapshot(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Several reads that must agree: one deferred transaction, so one snapshot,
        without the write lock that ``BEGIN IMMEDIATE`` would take."""
        return self._within("BEGIN", fn, args)

    def _within(self, begin: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        db = self._conn()
        db.execute(begin)
        try:
            result = fn(db, *args)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable("the store is not open")
        return self._db

    # ------------------------------------------------------------ writes

    async def submit(self, workflows: Sequence[NewWorkflow], now: float) -> list[Submitted]:
        return await self._tx(ops.submit, workflows, now)

    async def claim(self, request: ClaimRequest) -> ClaimBatch:
        return await self._tx(ops.claim, request)

    async def finish(self, owner: str, outcomes: Sequence[Outcome], now: float) -> Changes:
        return await self._tx(ops.finish, owner, outcomes, now)

    async def heartbeat(self, owner: str, task_ids: Sequence[int], now: float,
                        lease_s: float) -> list[int]:
        return await self._tx(ops.heartbeat, owner, task_ids, now, lease_s)

    async def reclaim_expired(self, now: float, draw: Callable[[], float]) -> Changes:
        return await self._tx(ops.reclaim_expired, now, draw)

    async def promote_aged(self, now: float, aging_s: float) -> int:
        return await self._tx(ops.promote_aged, now, aging_s)

    async def cancel(self, *, now: float, reason: str, workflow_id: int | None = None,
                     task_id: int | None = None) -> Changes:
        return await self._tx(ops.cancel, now, reason, workflow_id, task_id)

    async def expire_waits(self, feature: str, ready_before: float, error: str,
                           now: float) -> Changes:
        return await self._tx(ops.expire_waits, feature, ready_before, error, now)

    async def set_paused(self, scope: str, is_paused: bool, now: float) -> None:
        await self._tx(_set_paused, check_scope(scope), is_paused, now)

    async def save_rollups(self, rows: Sequence[RollupRow]) -> None:
        await self._tx(ops.save_rollups, rows)

    async def prune_rollups(self, resolution: str, before: float) -> int:
        return await self._tx(ops.prune_rollups, resolution, before)

    async def retry_workflow(self, workflow_id: int, now: float) -> Changes:
        return await self._tx(ops.retry_workflow, workflow_id, now)

    async def save_key(self, key: ApiKeyRecord) -> None:
        await self._tx(ops.save_key, key)

    async def revoke_key(self, key_id: str, now: float) -> ApiKeyRecord:
        return await self._tx(ops.revoke_key, key_id, now)

    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        await self._tx(ops.append_audit, entries)

    async def prune_audit(self, before: float) -> int:
        return await self._tx(ops.prune_audit, before)

    # ------------------------------------------------------------ reads

    async def paused_scopes(self) -> frozenset[str]:
        return await self._call(lambda: ops.paused_scopes(self._conn()))

    async def get_workflow(self, workflow_id: int) -> WorkflowRecord:
        return await self._call(self._get_workflow, workflow_id)

    def _get_workflow(self, workflow_id: int) -> WorkflowRecord:
        row = self._conn().execute(
            f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
        if row is None:
            raise NotFound(f"no workflow with id {workflow_id}")
        return ops.workflow_record(row)

    async def get_task(self, task_id: int) -> TaskRecord:
        tasks = await self._call(self._tasks, "t.id = ?", task_id)
        if not tasks:
            raise NotFound(f"no task with id {task_id}")
        return tasks[0]

    async def list_tasks(self, workflow_id: int) -> list[TaskRecord]:
        return await self._call(self._tasks, "t.workflow_id = ?", workflow_id)

    def _tasks(self, where: str, arg: int) -> list[TaskRecord]:
        return ops.task_records(self._conn(), where, (arg,))

    async def list_workflows(self, *, tenant: str, state: str | None = None,
                             name: str | None = None, before_id: int | None = None,
                             limit: int = 50) -> list[WorkflowRecord]:
        return await self._call(lambda: ops.list_workflows(self._conn(), tenant, state, name,
                                                           before_id, limit))

    async def list_task_page(self, *, tenant: str, workflow_id: int | None = None,
                             state: str | None = None, name: str | None = None,
                             before_id: int | None = None,
                             limit: int = 50) -> list[TaskRecord]:
        return await self._snapshot(ops.list_task_page, tenant, workflow_id, state, name,
                                    before_id, limit)

    async def count_by_state(self) -> dict[str, int]:
        rows = await self._call(
            lambda: self._conn().execute("SELECT state, count(*) FROM tasks GROUP BY state")
            .fetchall())
        return {state: n for state, n in rows}

    async def running_counts(self) -> RunningCounts:
        return await self._call(lambda: ops.running_counts(self._conn()))

    async def live_view(self, active_limit: int = 50, tenant: str | None = None) -> LiveView:
        return await self._snapshot(ops.live_view, active_limit, tenant)

    async def open_tasks_by_tenant(self) -> dict[str, int]:
        return await self._snapshot(ops.open_tasks_by_tenant)

    async def find_key(self, key_id: str) -> ApiKeyRecord | None:
        return await self._call(lambda: ops.find_key(self._conn(), key_id))

    async def list_keys(self) -> list[ApiKeyRecord]:
        return await self._call(lambda: ops.list_keys(self._conn()))

    async def load_audit(self, *, limit: int = 100, before_id: int | None = None,
                         tenant: str | None = None,
                         action: str | None = None) -> list[AuditEntry]:
        return await self._call(lambda: ops.load_audit(self._conn(), limit, before_id, tenant,
                                                       action))

    async def load_rollups(self, resolution: str, *, since: float, until: float | None = None,
                           kind: str | None = None) -> list[RollupRow]:
        return await self._call(lambda: ops.load_rollups(self._conn(), resolution, since, until,
                                                         kind))


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older store up to this schema, one version a transaction."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    for step in range(version + 1, SCHEMA_VERSION + 1):
        db.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[step]} "
                         f"PRAGMA user_version = {step}; COMMIT;")


def _set_paused(db: sqlite3.Connection, scope: str, is_paused: bool, now: float) -> None:
    if is_paused:
        db.execute("INSERT OR REPLACE INTO controls (scope, changed_at) VALUES (?, ?)",
                   (scope, now))
    else:
        db.execute("DELETE FROM controls WHERE scope = ?", (scope,))

