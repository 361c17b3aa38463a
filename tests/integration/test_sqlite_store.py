"""The SQLite file itself: durability across reopen, and files it must refuse clearly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zerogate import SqliteStore, StoreCorrupt, StoreUnavailable
from zerogate.adapters.sqlite_schema import SCHEMA_VERSION
from zerogate.domain.admission import NO_NEED
from zerogate.domain.model import FailurePolicy, Limits
from zerogate.domain.records import ClaimRequest, NewTask, NewWorkflow
from zerogate.domain.retry import RetryPolicy


def one_task_workflow(key: str | None = None) -> NewWorkflow:
    task = NewTask(local_id="a", name="t", args_json="{}", deps=(), priority=2, rank=0,
                   key=None, timeout_s=None, retry_json=RetryPolicy().to_json())
    return NewWorkflow(name="w", tenant="default", priority=2, failure_policy=FailurePolicy.FAIL,
                       idempotency_key=key, tasks=(task,))


async def test_acknowledged_submissions_survive_reopen(tmp_path: Path) -> None:
    db = tmp_path / "z.db"
    store = SqliteStore(db)
    await store.open()
    [sub] = await store.submit([one_task_workflow("k")], 1.0)
    await store.set_paused("tenant:x", True, 1.0)
    await store.close()
    again = SqliteStore(db)
    await again.open()
    assert (await again.get_task(sub.task_ids["a"])).name == "t"
    assert await again.paused_scopes() == frozenset({"tenant:x"})
    [replay] = await again.submit([one_task_workflow("k")], 2.0)
    assert (replay.workflow_id, replay.is_new) == (sub.workflow_id, False)
    await again.close()


async def test_garbage_file_is_reported_corrupt(tmp_path: Path) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreCorrupt, match="damaged or not a SQLite file"):
        await SqliteStore(db).open()
    assert db.read_bytes().startswith(b"this is not a database")  # nothing overwritten


async def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    with pytest.raises(StoreCorrupt, match="not a zerogate store"):
        await SqliteStore(db).open()


async def test_newer_schema_asks_for_an_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "z.db"
    store = SqliteStore(db)
    await store.open()
    await store.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreCorrupt, match="upgrade zerogate"):
        await SqliteStore(db).open()


async def test_a_schema_1_store_is_migrated_and_keeps_its_tasks(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    store = SqliteStore(db)
    await store.open()
    [sub] = await store.submit([one_task_workflow()], 1.0)
    await store.close()
    with sqlite3.connect(db) as conn:  # take the file back to what schema 1 looked like
        for column in ("feature", "cpu", "memory"):
            conn.execute(f"ALTER TABLE tasks DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    again = SqliteStore(db)
    await again.open()
    record = await again.get_task(sub.task_ids["a"])
    assert (record.name, record.feature, record.need) == ("t", None, NO_NEED)
    batch = await again.claim(ClaimRequest(owner="o", n=5, now=2.0, lease_s=10,
                                           limits=Limits()))
    assert [c.local_id for c in batch.claims] == ["a"]
    await again.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


async def test_locked_file_is_unavailable_and_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "z.db"
    store = SqliteStore(db, busy_timeout_s=0.2)
    await store.open()
    [sub] = await store.submit([one_task_workflow()], 1.0)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="locked by another process"):
            await store.submit([one_task_workflow()], 2.0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    batch = await store.claim(ClaimRequest(owner="A", n=10, now=3.0, lease_s=30,
                                           limits=Limits()))
    assert [c.task_id for c in batch.claims] == [sub.task_ids["a"]]
    await store.close()


async def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot open"):
        await SqliteStore(tmp_path / "no" / "such" / "dir" / "z.db").open()


def test_batched_completion_is_driven_by_primary_key_lookups() -> None:
    """Driven from the running-tasks index, completing a batch scanned the whole batch
    once per running task: 30 s for 10,000 completions. Pin the plan, not a timing."""
    from zerogate.adapters.sqlite_ops import COMPLETE_MANY
    from zerogate.adapters.sqlite_schema import SCHEMA

    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {COMPLETE_MANY}", (0, "[]", "A"))]
    db.close()
    assert plan[0].startswith("SCAN j VIRTUAL TABLE")
    assert plan[1] == "SEARCH tasks USING INTEGER PRIMARY KEY (rowid=?)"


async def test_a_schema_2_store_gains_telemetry_and_the_pending_index(tmp_path: Path) -> None:
    from zerogate.adapters.sqlite_store import _migrate
    from zerogate.domain.records import RollupRow

    db = tmp_path / "v2.db"
    store = SqliteStore(db)
    await store.open()
    [sub] = await store.submit([one_task_workflow()], 1.0)
    await store.close()
    with sqlite3.connect(db) as conn:  # take the file back to what schema 2 looked like
        drop_schema_4(conn)
        conn.execute("DROP TABLE telemetry")
        conn.execute("DROP INDEX tasks_pending")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    conn = sqlite3.connect(db, isolation_level=None)
    _migrate(conn)  # the steps alone, without the schema script that runs after them
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"telemetry", "tasks_pending"} <= names
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.execute("PRAGMA user_version = 2")  # and once more through the store itself
    conn.close()
    again = SqliteStore(db)
    await again.open()
    rollup = RollupRow(resolution="hour", bucket=3600.0, kind="task", name="t", owner="o",
                       data="{}")
    await again.save_rollups([rollup])
    assert await again.load_rollups("hour", since=0) == [rollup]
    assert (await again.live_view()).tasks["pending"] == 1
    assert (await again.get_task(sub.task_ids["a"])).name == "t"
    await again.close()


SCHEMA_4 = {"api_keys", "audit", "audit_at", "audit_tenant", "workflows_tenant", "tasks_tenant"}


def drop_schema_4(conn: sqlite3.Connection) -> None:
    """Take a file back to schema 3: without the API's tables and the tenant indexes."""
    for name in ("workflows_tenant", "tasks_tenant"):
        conn.execute(f"DROP INDEX {name}")
    conn.execute("DROP TABLE audit")  # its indexes go with it
    conn.execute("DROP TABLE api_keys")
    conn.execute("PRAGMA user_version = 3")


async def test_a_schema_3_store_gains_keys_audit_and_tenant_indexes(tmp_path: Path) -> None:
    from zerogate.adapters.sqlite_store import _migrate
    from zerogate.domain.records import ApiKeyRecord, AuditEntry, RollupRow

    db = tmp_path / "v3.db"
    store = SqliteStore(db)
    await store.open()
    [sub] = await store.submit([one_task_workflow("k")], 1.0)
    rollup = RollupRow(resolution="hour", bucket=0.0, kind="task", name="t", owner="o",
                       data="{}")
    await store.save_rollups([rollup])
    await store.close()
    with sqlite3.connect(db) as conn:
        drop_schema_4(conn)
        assert not SCHEMA_4 & {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    conn = sqlite3.connect(db, isolation_level=None)
    _migrate(conn)  # step 4 alone, without the schema script that runs after it
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master")} >= SCHEMA_4
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (4,)
    conn.execute("PRAGMA user_version = 3")  # and once more through the store itself
    conn.close()
    again = SqliteStore(db)
    await again.open()
    assert (await again.get_task(sub.task_ids["a"])).name == "t"
    [replay] = await again.submit([one_task_workflow("k")], 2.0)
    assert (replay.workflow_id, replay.is_new) == (sub.workflow_id, False)
    assert await again.load_rollups("hour", since=0) == [rollup]
    assert [w.workflow_id for w in await again.list_workflows(tenant="default")] == [
        sub.workflow_id]
    key = ApiKeyRecord(key_id="zg_1", secret_hash="ab", tenant="default", role="admin",
                       name="ci", created_at=3.0)
    await again.save_key(key)
    await again.append_audit([AuditEntry(at=3.0, action="keys.create", outcome="ok")])
    assert await again.find_key("zg_1") == key
    assert [e.action for e in await again.load_audit()] == ["keys.create"]
    await again.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def test_the_live_view_reads_no_finished_history() -> None:
    """The live view must cost open work, not every task ever run: no statement it
    runs may scan the tasks or workflows table whole (``SCAN tasks`` with no index)."""
    from zerogate.adapters import sqlite_ops as ops
    from zerogate.adapters.sqlite_schema import SCHEMA

    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    ops.submit(db, [one_task_workflow(), one_task_workflow()], 1.0)
    ops.claim(db, ClaimRequest(owner="o", n=1, now=2.0, lease_s=10, limits=Limits()))
    ran: list[str] = []
    db.set_trace_callback(ran.append)  # the statements as run, parameters bound
    view = ops.live_view(db, 10)
    assert view.tasks == {"pending": 0, "waiting": 1, "retrying": 0, "running": 1}
    assert len(view.active) == 2 and len(ran) == len(ops.LIVE_STATEMENTS)
    mark = len(ran)
    mine = ops.live_view(db, 10, "default")  # one tenant's view reads the same open rows
    assert mine == view and len(ran) - mark == len(ops.LIVE_TENANT_STATEMENTS)
    assert ops.live_view(db, 10, "nobody").active == []
    mark = len(ran)
    assert ops.open_tasks_by_tenant(db) == {"default": 2}  # read off the same indexes
    assert len(ran) - mark == len(ops.OPEN_BY_TENANT)
    db.set_trace_callback(None)
    plans = {sql: [r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}")] for sql in ran}
    db.close()
    for sql, plan in plans.items():
        full = [step for step in plan
                if step.startswith(("SCAN tasks", "SCAN workflows")) and "INDEX" not in step]
        assert not full, (sql, plan)
        assert any("INDEX" in step for step in plan), (sql, plan)
