"""Ports: what the runtime needs from the outside world, as Protocols.

Every port has an in-memory adapter shipped in the package, used by unit tests and
as a fast non-durable mode. The durable stores pass the same contract suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from zerogate.domain.records import (
    ApiKeyRecord,
    AuditEntry,
    Changes,
    ClaimBatch,
    ClaimRequest,
    Event,
    LiveView,
    NewWorkflow,
    Outcome,
    RollupRow,
    Submitted,
    TaskRecord,
    WorkflowRecord,
)
from zerogate.domain.resources import ResourceSnapshot
from zerogate.domain.scheduling import RunningCounts

# Pause scopes: "global", "workflow:<id>", "tenant:<name>", "key:<key>".
GLOBAL = "global"


class Clock(Protocol):
    """Time as the runtime sees it; tests substitute a fake that jumps on demand."""

    def now(self) -> float:
        """Wall-clock seconds since the epoch (stored in records)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait_event(self, event: asyncio.Event, timeout_s: float | None) -> bool:
        """Wait for ``event`` at most ``timeout_s``; True when it was set."""
        ...

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        """A scope that raises TimeoutError when ``seconds`` pass inside it."""
        ...


class Store(Protocol):
    """Durable state of workflows and tasks; the single source of truth.

    Every method is one transaction: it either happens whole or not at all, and it
    has happened (committed) when the call returns. Times come in as arguments.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def submit(self, workflows: Sequence[NewWorkflow], now: float) -> list[Submitted]:
        """Store all workflows or none; an idempotency key seen before returns its ids."""
        ...

    async def claim(self, request: ClaimRequest) -> ClaimBatch:
        """Lease up to ``request.n`` ready tasks in service order within the limits."""
        ...

    async def finish(self, owner: str, outcomes: Sequence[Outcome], now: float) -> Changes:
        """Apply outcomes whose owner and attempt still match; refuse the others."""
        ...

    async def heartbeat(
        self, owner: str, task_ids: Sequence[int], now: float, lease_s: float
    ) -> list[int]:
        """Extend the owner's leases; return those of ``task_ids`` it no longer holds."""
        ...

    async def reclaim_expired(self, now: float, draw: Callable[[], float]) -> Changes:
        """Treat expired leases as failed attempts: retry with backoff or fail."""
        ...

    async def promote_aged(self, now: float, aging_s: float) -> int:
        """Raise the effective class of tasks that waited ``aging_s`` per class."""
        ...

    async def cancel(
        self, *, now: float, reason: str, workflow_id: int | None = None,
        task_id: int | None = None,
    ) -> Changes:
        """Cancel one task, one workflow, or (both None) everything not yet finished."""
        ...

    async def expire_waits(self, feature: str, ready_before: float, error: str,
                           now: float) -> Changes:
        """Fail ready tasks of ``feature`` ready since before ``ready_before`` (max wait)."""
        ...

    async def set_paused(self, scope: str, is_paused: bool, now: float) -> None: ...

    async def paused_scopes(self) -> frozenset[str]: ...

    async def get_workflow(self, workflow_id: int) -> WorkflowRecord: ...

    async def get_task(self, task_id: int) -> TaskRecord: ...

    async def list_tasks(self, workflow_id: int) -> list[TaskRecord]: ...

    async def count_by_state(self) -> dict[str, int]: ...

    async def running_counts(self) -> RunningCounts: ...

    async def live_view(self, active_limit: int = 50, tenant: str | None = None) -> LiveView:
        """Open work now, in time that grows with open work, never with history.

        With ``tenant``, every count and the active list cover that tenant's work only.
        """
        ...

    async def open_tasks_by_tenant(self) -> dict[str, int]:
        """Open tasks (pending, waiting, retrying, running) per tenant that has any.

        For per-tenant queue quotas: read off open work only, so it stays cheap
        however much finished history the store holds.
        """
        ...

    async def list_workflows(self, *, tenant: str, state: str | None = None,
                             name: str | None = None, before_id: int | None = None,
                             limit: int = 50) -> list[WorkflowRecord]:
        """The tenant's workflows, newest (highest id) first, at most ``limit``.

        Pages by keyset: pass the last id seen as ``before_id`` for the next page, which
        stays correct while new workflows arrive. Never reads other tenants' rows. A
        ``limit`` below 1 gives no rows (never "no limit", as SQLite reads a negative one).
        """
        ...

    async def list_task_page(self, *, tenant: str, workflow_id: int | None = None,
                             state: str | None = None, name: str | None = None,
                             before_id: int | None = None,
                             limit: int = 50) -> list[TaskRecord]:
        """The tenant's tasks, newest first, complete like ``get_task``'s; paged as
        ``list_workflows``. A ``workflow_id`` of another tenant gives no rows."""
        ...

    async def retry_workflow(self, workflow_id: int, now: float) -> Changes:
        """Run a failed or cancelled workflow again, keeping what completed.

        Its failed, cancelled and skipped tasks start afresh (no failures, no error,
        result or lease) but keep their attempt number: attempts are fencing tokens,
        so a zombie of the earlier run can never finish the new one. The workflow
        queues for admission again, as a new submission does, so the running-workflows
        limit holds; its tasks whose dependencies are all completed are ready from
        ``now`` and counted in ``became_ready``. Raises NotFound for an unknown id, and
        InvalidTransition unless the workflow finished failed or cancelled.
        """
        ...

    async def save_key(self, key: ApiKeyRecord) -> None:
        """Store a new API key; InvalidInput if its ``key_id`` is taken."""
        ...

    async def find_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key with that id, revoked or expired ones included; None if unknown."""
        ...

    async def list_keys(self) -> list[ApiKeyRecord]:
        """Every key, ordered by ``created_at`` then ``key_id``."""
        ...

    async def revoke_key(self, key_id: str, now: float) -> ApiKeyRecord:
        """Mark the key revoked at ``now`` and return it; a key revoked already keeps
        its first time (the record of when access ended must not move). NotFound if
        unknown."""
        ...

    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append entries, all or none. The store numbers them (``entry_id``, ascending,
        never reused even after a prune), ignoring the ids they carry."""
        ...

    async def load_audit(self, *, limit: int = 100, before_id: int | None = None,
                         tenant: str | None = None,
                         action: str | None = None) -> list[AuditEntry]:
        """Entries newest first, at most ``limit``, with ``entry_id < before_id`` when
        given (keyset paging). ``tenant`` matches exactly; ``action`` is a prefix, so
        "auth." matches "auth.failed"."""
        ...

    async def prune_audit(self, before: float) -> int:
        """Delete entries whose ``at`` is before ``before``; count them."""
        ...

    async def save_rollups(self, rows: Sequence[RollupRow]) -> None:
        """Insert or replace rows by (resolution, kind, bucket, name, owner)."""
        ...

    async def load_rollups(self, resolution: str, *, since: float, until: float | None = None,
                           kind: str | None = None) -> list[RollupRow]:
        """Rows of ``resolution`` with ``since <= bucket < until``, ordered by bucket,
        kind, name, owner."""
        ...

    async def prune_rollups(self, resolution: str, before: float) -> int:
        """Delete rows of ``resolution`` whose bucket is before ``before``; count them."""
        ...


class EventSink(Protocol):
    """Receives engine events; must not block (it runs on the event loop)."""

    def emit(self, event: Event) -> None: ...


class ResourceSampler(Protocol):
    """Reads the resources this process may use; the governor's only view of them."""

    def sample(self) -> ResourceSnapshot:
        """Read now, synchronously; a signal that cannot be read is left out."""
        ...

    async def sample_async(self) -> ResourceSnapshot:
        """``sample`` without blocking the event loop."""
        ...
