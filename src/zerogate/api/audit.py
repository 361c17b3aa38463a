"""The audit trail: one record per privileged action and per refused credential.

Records go to the store (``GET /api/audit``, admin only) and, as JSON lines, to the
``zerogate.audit`` logger. They name the key by its visible id, never its secret.

Refused credentials are the one kind an outsider can produce at will, so they are
throttled per client address: the first ``failures_per_minute`` in a minute are
recorded one by one, the rest are counted and summed into one record when the
minute ends. The trail cannot be used to fill the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from zerogate.domain.records import AuditEntry
from zerogate.errors import ZerogateError
from zerogate.ports import Store

log = logging.getLogger("zerogate.audit")


class AuditLog:
    """Buffers entries and writes them in batches (at most every ``flush_s``)."""

    def __init__(self, store: Store, clock: Callable[[], float], *, flush_s: float = 1.0,
                 failures_per_minute: int = 20, retention_s: float = 90 * 86400) -> None:
        self.store = store
        self.clock = clock
        self.flush_s = flush_s
        self.failures_per_minute = failures_per_minute
        self.retention_s = retention_s
        self._pending: list[AuditEntry] = []
        self._failures: dict[str, tuple[int, int]] = {}  # source -> (minute, count)
        self._suppressed: dict[str, int] = {}
        self._wake = asyncio.Event()

    def record(self, action: str, outcome: str, *, actor: str | None = None,
               tenant: str | None = None, target: str | None = None,
               source: str | None = None, request_id: str | None = None,
               **detail: Any) -> None:
        now = self.clock()
        if action.startswith("auth.") and outcome != "ok" and not self._admit_failure(
                source or "?", now):
            return
        entry = AuditEntry(at=now, action=action, outcome=outcome, actor=actor, tenant=tenant,
                           target=target, source=source, request_id=request_id,
                           detail=json.dumps(detail, default=str) if detail else None)
        self._pending.append(entry)
        log.info("audit %s %s", action, outcome, extra={"audit": {
            "action": action, "outcome": outcome, "actor": actor, "tenant": tenant,
            "target": target, "source": source, "request_id": request_id, **detail}})
        if len(self._pending) >= 512:
            self._wake.set()

    def _admit_failure(self, source: str, now: float) -> bool:
        minute = int(now // 60)
        seen_minute, count = self._failures.get(source, (minute, 0))
        if seen_minute != minute:
            self._close_minute(source)
            count = 0
        self._failures[source] = (minute, count + 1)
        if count < self.failures_per_minute:
            return True
        self._suppressed[source] = self._suppressed.get(source, 0) + 1
        return False

    def _close_minute(self, source: str) -> None:
        n = self._suppressed.pop(source, 0)
        if n:
            self._pending.append(AuditEntry(
                at=self.clock(), action="auth.failed", outcome="suppressed", source=source,
                detail=json.dumps({"count": n, "reason": "over the per-minute record limit"})))

    def _close_quiet_sources(self) -> None:
        """Sum up the minutes that ended, and forget their sources (bounded memory)."""
        minute = int(self.clock() // 60)
        for source in [s for s, (m, _) in self._failures.items() if m != minute]:
            self._close_minute(source)
            del self._failures[source]

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await self.store.append_audit(batch)
        except ZerogateError:
            self._pending[:0] = batch  # keep them for the next flush; the store is down
            if len(self._pending) > 100_000:
                log.error("audit: the store has been down too long; dropping %d records",
                          len(self._pending) - 100_000)
                del self._pending[:-100_000]
            raise

    async def run(self) -> None:
        """Flush periodically and prune old records until cancelled."""
        last_prune = -1e18
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_s)
            self._wake.clear()
            try:
                self._close_quiet_sources()
                await self.flush()
                if self.clock() - last_prune > 3600:
                    await self.store.prune_audit(self.clock() - self.retention_s)
                    last_prune = self.clock()
            except ZerogateError as exc:
                log.warning("audit records could not be written yet (%s); retrying", exc)
