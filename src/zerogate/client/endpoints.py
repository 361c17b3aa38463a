"""Every endpoint of the HTTP API, written once for both clients.

Each method builds a ``Call`` and hands it to ``_object``, ``_list`` or ``_bytes``,
which ``Client`` answers with plain values and ``AsyncClient`` with awaitables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

from zerogate.client.calls import (
    Call,
    bulk_item,
    change,
    fresh_idempotency_key,
    get,
    seg,
    submission,
)
from zerogate.client.core import Core

D = TypeVar("D")  # what a call answering a JSON object returns
L = TypeVar("L")  # ... a JSON list
B = TypeVar("B")  # ... bytes


class Endpoints(Core, ABC, Generic[D, L, B]):
    """Every endpoint, once. ``D``, ``L`` and ``B`` are the plain types for ``Client``
    and awaitables of them for ``AsyncClient``."""

    @abstractmethod
    def _object(self, call: Call) -> D:
        """Send ``call``; its answer as a JSON object (each client says how)."""

    @abstractmethod
    def _list(self, call: Call) -> L:
        """Send ``call``; its answer as a JSON list."""

    @abstractmethod
    def _bytes(self, call: Call) -> B:
        """Send ``call``; its answer as bytes."""

    # work

    def whoami(self) -> D:
        """The calling key: ``key_id``, ``tenant`` and ``role``."""
        return self._object(get("/api/whoami"))

    def submit(self, template: str, params: Mapping[str, Any] | None = None, *,
               priority: str | None = None, idempotency_key: str | None = None) -> D:
        """Start a workflow from a registered template: ``{id, template, tasks, created}``.

        Without ``idempotency_key`` the client makes one up for this call, so its own
        retries can never start a second run; pass yours to make repeats across calls
        (or processes) return the first run too (``created`` is then false).
        """
        return self._object(change("POST", "/api/workflows/submit",
                                   submission(template, params, priority),
                                   idempotency_key=idempotency_key
                                   or fresh_idempotency_key()))

    def submit_bulk(self, items: Iterable[Mapping[str, Any]], *,
                    idempotency_key: str | None = None) -> D:
        """Start many workflows in one transaction (all or none):
        ``{workflows: [...], tasks}``. Items are ``{template, params, priority?}``."""
        body = {"workflows": [bulk_item(i, item) for i, item in enumerate(items)]}
        return self._object(change("POST", "/api/workflows/submit/bulk", body,
                                   idempotency_key=idempotency_key
                                   or fresh_idempotency_key()))

    def workflow(self, workflow_id: int) -> D:
        return self._object(get(f"/api/workflows/{seg(workflow_id)}"))

    def status(self, workflow_id: int) -> D:
        """The workflow, counts of its tasks by state, its progress, and each task with
        the reason it waits."""
        return self._object(get(f"/api/workflows/status/{seg(workflow_id)}"))

    def system_status(self) -> D:
        """Health as the key may see it (admins get the full detail)."""
        return self._object(get("/api/workflows/status"))

    def workflows(self, state: str | None = None, template: str | None = None,
                  before: int | None = None, limit: int = 50) -> D:
        """One page of the tenant's workflows, newest first: ``{items, next_before}``."""
        return self._object(get("/api/workflows", state=state, template=template,
                                before=before, limit=limit))

    def tasks(self, workflow_id: int | None = None, state: str | None = None,
              name: str | None = None, before: int | None = None, limit: int = 50) -> D:
        """One page of the tenant's tasks, newest first: ``{items, next_before}``."""
        return self._object(get("/api/tasks", workflow_id=workflow_id, state=state,
                                name=name, before=before, limit=limit))

    def task(self, task_id: int) -> D:
        return self._object(get(f"/api/tasks/{seg(task_id)}"))

    def cancel(self, workflow_id: int) -> D:
        """Cancel a workflow: queued tasks never start, running ones are stopped."""
        return self._object(change("POST", f"/api/workflows/{seg(workflow_id)}/cancel"))

    def cancel_task(self, task_id: int) -> D:
        """Cancel one task and the tasks that depend on it."""
        return self._object(change("POST", f"/api/tasks/{seg(task_id)}/cancel"))

    def retry(self, workflow_id: int) -> D:
        """Run the failed, cancelled and skipped tasks of a finished workflow again."""
        return self._object(change("POST", f"/api/workflows/{seg(workflow_id)}/retry"))

    def queue(self, active: int | None = None) -> D:
        """The tenant's open work by state, priority, task type and key."""
        return self._object(get("/api/workflows/queue", active=active))

    def metrics(self) -> D:
        """The tenant's queue and quota (admins also get the system's telemetry)."""
        return self._object(get("/api/workflows/metrics"))

    def templates(self) -> L:
        """The templates the server accepts, with their parameter schemas."""
        return self._list(get("/api/workflows/templates"))

    def template(self, name: str) -> D:
        return self._object(get(f"/api/workflows/templates/{seg(name)}"))

    # controls

    def pause(self) -> D:
        """Stop starting tasks of every tenant (admin; durable until resumed)."""
        return self._object(change("POST", "/api/workflows/emergency/pause"))

    def resume(self) -> D:
        return self._object(change("POST", "/api/workflows/emergency/resume"))

    def stop(self) -> D:
        """Pause, and cancel every open workflow of every tenant (admin)."""
        return self._object(change("POST", "/api/workflows/emergency/stop"))

    def pause_tenant(self) -> D:
        """Stop starting the caller's own tenant's tasks (operator)."""
        return self._object(change("POST", "/api/tenant/pause"))

    def resume_tenant(self) -> D:
        return self._object(change("POST", "/api/tenant/resume"))

    # governor

    def profiles(self) -> D:
        """The performance profiles and the active one: ``{active, profiles}``."""
        return self._object(get("/api/profiles"))

    def switch_profile(self, name: str) -> D:
        return self._object(change("PUT", "/api/profiles/active", {"name": name}))

    def features(self) -> L:
        """Each feature, whether it is on, and why."""
        return self._list(get("/api/features"))

    def set_feature(self, name: str, state: str, for_s: float | None = None) -> D:
        """Force a feature ``on`` or ``off`` (for ``for_s`` seconds, or until changed),
        or give it back to the governor with ``auto``."""
        body: dict[str, Any] = {"state": state}
        if for_s is not None:
            body["for_s"] = for_s
        return self._object(change("PUT", f"/api/features/{seg(name)}", body))

    # system views (admin)

    def alerts(self) -> L:
        return self._list(get("/api/system/alerts"))

    def bottlenecks(self) -> D:
        """``{active, resolved}`` bottleneck findings."""
        return self._object(get("/api/system/bottlenecks"))

    def recommendations(self) -> L:
        return self._list(get("/api/system/recommendations"))

    def capacity(self, target_drain_s: float | None = None) -> D:
        """Drain time and needed concurrency; ``{}`` while the server has no plan yet."""
        return self._object(get("/api/system/capacity", target_drain_s=target_drain_s))

    def dashboard(self) -> D:
        return self._object(get("/api/system/dashboard"))

    def report(self, format: str = "json", hours: float = 24) -> B:
        """The performance report as the server renders it: JSON, a self-contained HTML
        page, or (``csv``) a zip of CSV tables."""
        return self._bytes(get("/api/system/report", format=format, hours=hours))

    # keys and audit (admin)

    def keys(self) -> L:
        """Every key's id and metadata (secrets are never stored, so never listed)."""
        return self._list(get("/api/keys"))

    def create_key(self, tenant: str, role: str, name: str = "",
                   expires_in_s: float | None = None) -> D:
        """A new key; the answer's ``key`` field is the only time it is ever shown."""
        body: dict[str, Any] = {"tenant": tenant, "role": role, "name": name}
        if expires_in_s is not None:
            body["expires_in_s"] = expires_in_s
        return self._object(change("POST", "/api/keys", body))

    def revoke_key(self, key_id: str) -> D:
        return self._object(change("DELETE", f"/api/keys/{seg(key_id)}"))

    def audit(self, action: str | None = None, before: int | None = None,
              limit: int = 100) -> D:
        """One page of the audit trail, newest first: ``{items, next_before}``."""
        return self._object(get("/api/audit", action=action, before=before, limit=limit))
