"""Commands on a store file opened directly, without a server (their ``--db``): its
status, pausing and resuming a scope, and the emergency stop."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.cli.output import console
from zerogate.errors import StoreUnavailable
from zerogate.ports import GLOBAL, Store
from zerogate.telemetry.views import StatusInputs, active_workflows, queue_view, system_status


async def open_store(db: Path) -> SqliteStore:
    """Open the store file ``db``, which must exist (a mistyped path creates nothing)."""
    if not db.exists():
        raise StoreUnavailable(f"no store at {db}: give the file with --db")
    store = SqliteStore(db)
    await store.open()
    return store


async def offline_status(store: Store, now: float) -> dict[str, Any]:
    """Status as the store alone tells it (no engine: no resources, no live findings)."""
    live = await store.live_view()
    status = system_status(StatusInputs(at=now, paused=await store.paused_scopes(),
                                        extra={"source": "store"}))
    status["queue"] = queue_view(live, now)
    status["active_workflows"] = active_workflows(live, now)
    return status


async def show_store_status(args: argparse.Namespace) -> int:
    store = await open_store(args.db)
    try:
        if args.json:
            print(json.dumps(await offline_status(store, time.time()), indent=2))
            return 0
        counts = await store.count_by_state()
        paused = sorted(await store.paused_scopes())
    finally:
        await store.close()
    for state, n in sorted(counts.items()):
        console.print(f"{state:>10} {n}")
    console.print(f"paused: {', '.join(paused) if paused else 'nothing'}")
    return 0


async def set_store_paused(args: argparse.Namespace, is_paused: bool) -> int:
    store = await open_store(args.db)
    try:
        await store.set_paused(args.scope, is_paused, time.time())
    finally:
        await store.close()
    console.print(f"{args.scope} {'paused' if is_paused else 'resumed'}")
    return 0


async def stop_store(args: argparse.Namespace) -> int:
    store = await open_store(args.db)
    try:
        await store.set_paused(GLOBAL, True, time.time())
        changes = await store.cancel(now=time.time(), reason="emergency stop (cli)")
    finally:
        await store.close()
    console.print(f"stopped: {len(changes.finished_workflows)} workflows cancelled; "
                  "engines stop their running tasks at their next heartbeat")
    return 0
