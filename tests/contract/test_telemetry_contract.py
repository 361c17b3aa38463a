"""The store contract for telemetry: the claim's timing fields, rollups, the live view.

Runs against every store in conftest.FACTORIES; the last tests hold SQLite and memory
to the same live view over one scripted and several random sequences.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from zerogate.adapters.memory_store import MemoryStore
from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.domain.model import FailurePolicy, Limits, TaskState, WorkflowState
from zerogate.domain.records import (
    ActiveWorkflow,
    Claim,
    ClaimRequest,
    NewTask,
    NewWorkflow,
    Outcome,
    RollupRow,
)
from zerogate.domain.retry import RetryPolicy
from zerogate.errors import StoreUnavailable
from zerogate.ports import Store

NOW = 1000.0
RETRY3 = RetryPolicy(max_attempts=3, backoff_s=10, jitter=0).to_json()
S = TaskState


def task(local_id: str, *deps: str, name: str | None = None, priority: int = 2,
         key: str | None = None) -> NewTask:
    return NewTask(local_id=local_id, name=name or local_id, args_json="{}", deps=deps,
                   priority=priority, rank=0, key=key, timeout_s=None, retry_json=RETRY3)


def workflow(*tasks: NewTask, name: str = "wf", priority: int = 2) -> NewWorkflow:
    return NewWorkflow(name=name, tenant="default", priority=priority,
                       failure_policy=FailurePolicy.FAIL, idempotency_key=None, tasks=tasks)


async def claims(store: Store, n: int = 100, now: float = NOW,
                 limits: Limits | None = None) -> list[Claim]:
    batch = await store.claim(ClaimRequest(owner="A", n=n, now=now, lease_s=30,
                                           limits=limits or Limits()))
    return batch.claims


def outcome(c: Claim, state: TaskState, not_before: float | None = None) -> Outcome:
    return Outcome(task_id=c.task_id, attempt=c.attempt, state=state, result_json='"ok"',
                   error=None if state is S.COMPLETED else "boom", not_before=not_before)


def row(bucket: float, kind: str = "task", name: str = "n", owner: str = "o",
        data: str = "{}", resolution: str = "minute") -> RollupRow:
    return RollupRow(resolution=resolution, bucket=bucket, kind=kind, name=name, owner=owner,
                     data=data)


# ---------------------------------------------------------------- claim fields


async def test_claims_carry_key_ready_at_and_started_at(store: Store) -> None:
    [s] = await store.submit([workflow(task("a", key="k"), task("b", "a"))], NOW)
    [a] = await claims(store, now=NOW + 3)
    assert (a.task_id, a.key, a.ready_at, a.started_at) == (s.task_ids["a"], "k", NOW, NOW + 3)
    assert (await store.get_task(a.task_id)).started_at == NOW + 3
    # A retry keeps the ready_at it had: the queue wait is the first attempt's.
    await store.finish("A", [outcome(a, S.RETRYING, not_before=NOW + 10)], NOW + 4)
    [again] = await claims(store, now=NOW + 12)
    assert (again.attempt, again.ready_at, again.started_at) == (2, NOW, NOW + 12)
    await store.finish("A", [outcome(again, S.COMPLETED)], NOW + 15)
    [b] = await claims(store, now=NOW + 20)
    assert (b.local_id, b.key, b.ready_at, b.started_at) == ("b", None, NOW + 15, NOW + 20)
    record = await store.get_task(b.task_id)
    assert (record.ready_at, record.started_at) == (b.ready_at, b.started_at)


# ---------------------------------------------------------------- rollups


async def test_rollups_load_in_bucket_kind_name_owner_order(store: Store) -> None:
    rows = [row(120, "task", "b", "o1"), row(60, "stage", "z"), row(120, "key", "a"),
            row(60, "task", "a", "o2"), row(60, "task", "a", "o1"), row(120, "task", "a")]
    await store.save_rollups(rows)
    await store.save_rollups([row(60, resolution="hour"), row(60, resolution="day")])
    got = await store.load_rollups("minute", since=0)
    assert [(r.bucket, r.kind, r.name, r.owner) for r in got] == [
        (60, "stage", "z", "o"), (60, "task", "a", "o1"), (60, "task", "a", "o2"),
        (120, "key", "a", "o"), (120, "task", "a", "o"), (120, "task", "b", "o1")]
    assert all(r.resolution == "minute" and isinstance(r.bucket, float) for r in got)
    assert await store.load_rollups("hour", since=0) == [row(60.0, resolution="hour")]


async def test_saving_a_rollup_again_replaces_it_whole(store: Store) -> None:
    await store.save_rollups([row(60, data='{"n": 1}'), row(60, owner="other", data="1")])
    await store.save_rollups([row(60, data='{"n": 2}')])
    await store.save_rollups([])
    got = await store.load_rollups("minute", since=0)
    assert [(r.owner, r.data) for r in got] == [("o", '{"n": 2}'), ("other", "1")]


async def test_load_rollups_bounds_and_kind(store: Store) -> None:
    await store.save_rollups([row(b, kind) for b in (0, 60, 120, 180) for kind in ("a", "b")])

    async def buckets(since: float, until: float | None = None,
                      kind: str | None = None) -> list[tuple[float, str]]:
        got = await store.load_rollups("minute", since=since, until=until, kind=kind)
        return [(r.bucket, r.kind) for r in got]

    assert await buckets(60, 180) == [(60, "a"), (60, "b"), (120, "a"), (120, "b")]
    assert await buckets(61) == [(120, "a"), (120, "b"), (180, "a"), (180, "b")]
    assert await buckets(0, 120, kind="b") == [(0, "b"), (60, "b")]
    assert await buckets(0, kind="c") == []
    assert await buckets(180, 180) == []
    assert await store.load_rollups("hour", since=0) == []


async def test_prune_rollups_deletes_older_buckets_of_one_resolution(store: Store) -> None:
    await store.save_rollups([row(b, kind, resolution=res) for b in (0, 60, 120)
                              for kind in ("a", "b") for res in ("minute", "hour")])
    assert await store.prune_rollups("minute", 120) == 4
    assert await store.prune_rollups("minute", 120) == 0
    left = await store.load_rollups("minute", since=0)
    assert [(r.bucket, r.kind) for r in left] == [(120, "a"), (120, "b")]
    assert len(await store.load_rollups("hour", since=0)) == 6


# ---------------------------------------------------------------- live view


@dataclass
class Script:
    """The ids of the scripted mix of states."""

    work: int  # running: fetch (running), parse (pending), send (waiting), flaky (retrying)
    held: int  # running but paused: idle (waiting)
    done: int  # completed
    queued: int  # pending: two pending tasks


async def scripted(store: Store) -> Script:
    [done] = await store.submit([workflow(task("z", name="quick"))], NOW - 100)
    [z] = await claims(store, now=NOW - 100)
    await store.finish("A", [outcome(z, S.COMPLETED)], NOW - 99)
    [work] = await store.submit([workflow(
        task("fetch", key="api", priority=1), task("parse", "fetch"),
        task("send", key="mail", priority=3), task("flaky", key="api", priority=1),
        task("quick", name="quick"))], NOW)
    [held] = await store.submit([workflow(task("idle", key="api", priority=0))], NOW - 50)
    await store.set_paused(f"workflow:{held.workflow_id}", True, NOW)
    got = {c.local_id: c for c in await claims(store, n=3, now=NOW + 1)}
    assert sorted(got) == ["fetch", "flaky", "quick"]
    await store.finish("A", [outcome(got["quick"], S.COMPLETED),
                             outcome(got["flaky"], S.RETRYING, not_before=NOW + 500)], NOW + 2)
    # Aging moves the effective class; the view counts the class the task was given.
    assert await store.promote_aged(NOW + 10, 1) > 0
    [queued] = await store.submit([workflow(task("x"), task("y", "x"), name="later")], NOW + 3)
    return Script(work.workflow_id, held.workflow_id, done.workflow_id, queued.workflow_id)


async def test_live_view_counts_open_work_by_state_and_scope(store: Store) -> None:
    ids = await scripted(store)
    view = await store.live_view()
    assert view.tasks == {"pending": 3, "waiting": 2, "retrying": 1, "running": 1}
    assert list(view.tasks) == ["pending", "waiting", "retrying", "running"]
    assert view.workflows == {"pending": 1, "running": 2}
    assert view.ready_by_priority == {0: 1, 1: 1, 3: 1}
    assert view.ready_by_name == {"flaky": 1, "idle": 1, "send": 1}
    assert view.ready_by_key == {"api": 2, "mail": 1}
    assert view.running_by_key == {"api": 1}
    assert view.oldest_ready_at == NOW - 50  # the paused workflow's task, submitted earliest
    assert view.active == [
        ActiveWorkflow(workflow_id=ids.work, name="wf", tenant="default",
                       state=WorkflowState.RUNNING, priority=2, open_tasks=4, total_tasks=5,
                       created_at=NOW),
        ActiveWorkflow(workflow_id=ids.held, name="wf", tenant="default",
                       state=WorkflowState.RUNNING, priority=2, open_tasks=1, total_tasks=1,
                       created_at=NOW - 50),
        ActiveWorkflow(workflow_id=ids.queued, name="later", tenant="default",
                       state=WorkflowState.PENDING, priority=2, open_tasks=2, total_tasks=2,
                       created_at=NOW + 3)]


async def test_live_view_of_an_empty_store_has_every_count_at_zero(store: Store) -> None:
    view = await store.live_view()
    assert view.tasks == {"pending": 0, "waiting": 0, "retrying": 0, "running": 0}
    assert view.workflows == {"pending": 0, "running": 0}
    assert (view.ready_by_priority, view.ready_by_name, view.ready_by_key,
            view.running_by_key, view.oldest_ready_at, view.active) == ({}, {}, {}, {}, None, [])


async def test_live_view_forgets_finished_work(store: Store) -> None:
    [s] = await store.submit([workflow(task("a", key="k"), task("b", "a", key="k"))], NOW)
    [a] = await claims(store)
    await store.finish("A", [outcome(a, S.FAILED)], NOW + 1)  # b fails with it
    await store.submit([workflow(task("c"))], NOW + 2)
    await store.cancel(now=NOW + 3, reason="stop")
    view = await store.live_view()
    assert sum(view.tasks.values()) == sum(view.workflows.values()) == 0
    assert (view.ready_by_key, view.running_by_key, view.active) == ({}, {}, [])
    assert (await store.get_workflow(s.workflow_id)).state is WorkflowState.FAILED


async def test_active_lists_open_workflows_by_id_up_to_the_limit(store: Store) -> None:
    # Admission goes by priority: the first and third wait while the second runs.
    subs = await store.submit([workflow(task("a"), priority=3), workflow(task("a"), priority=0),
                               workflow(task("a"), priority=3)], NOW)
    await claims(store, limits=Limits(max_running_workflows=1))
    ids = [s.workflow_id for s in subs]

    async def active(limit: int) -> list[tuple[int, WorkflowState]]:
        return [(w.workflow_id, w.state) for w in (await store.live_view(limit)).active]

    P, R = WorkflowState.PENDING, WorkflowState.RUNNING
    assert await active(50) == [(ids[0], P), (ids[1], R), (ids[2], P)]
    assert await active(2) == [(ids[0], P), (ids[1], R)]
    assert await active(1) == [(ids[0], P)]
    assert await active(0) == []
    assert (await store.live_view(0)).workflows == {"pending": 2, "running": 1}


async def test_a_closed_store_refuses_telemetry_calls(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.live_view()
    with pytest.raises(StoreUnavailable):
        await store.save_rollups([row(0)])
    with pytest.raises(StoreUnavailable):
        await store.load_rollups("minute", since=0)
    with pytest.raises(StoreUnavailable):
        await store.prune_rollups("minute", 0)
    await store.open()  # the fixture closes it again


# ---------------------------------------------------------------- differential


async def test_sqlite_and_memory_agree_on_the_scripted_view() -> None:
    views = []
    for store in (SqliteStore(":memory:"), MemoryStore()):
        await store.open()
        await scripted(store)
        views.append([await store.live_view(limit) for limit in (0, 1, 2, 50)])
        await store.close()
    assert views[0] == views[1]
    assert repr(views[0]) == repr(views[1])  # the order of every dict's keys too


async def random_steps(store: Store, seed: int, steps: int = 60) -> list[object]:
    """A random run of submits, claims, outcomes, aging, pauses and cancels; the live
    view after each step."""
    rng = random.Random(seed)
    held: list[Claim] = []
    views: list[object] = []
    now = NOW
    for _ in range(steps):
        now += rng.choice((0.0, 0.5, 3.0, 20.0))
        roll = rng.random()
        if roll < 0.3:
            size = rng.randint(1, 4)
            await store.submit([workflow(*(
                task(f"t{i}", *(f"t{d}" for d in range(i) if rng.random() < 0.4),
                     name=rng.choice("abc"), priority=rng.randint(0, 3),
                     key=rng.choice((None, "k1", "k2"))) for i in range(size)),
                priority=rng.randint(0, 3))], now)
        elif roll < 0.55:
            limits = Limits(max_running_workflows=rng.choice((None, 2)))
            held += await claims(store, n=rng.randint(1, 4), now=now, limits=limits)
        elif roll < 0.8 and held:
            c = held.pop(rng.randrange(len(held)))
            state = rng.choice((S.COMPLETED, S.COMPLETED, S.RETRYING, S.FAILED, S.WAITING))
            nb = now + rng.choice((1.0, 30.0)) if state is S.RETRYING else None
            await store.finish("A", [outcome(c, state, nb)], now)
        elif roll < 0.88:
            await store.promote_aged(now, 10.0)
        elif roll < 0.94:
            await store.set_paused(rng.choice(("key:k1", "tenant:default")), rng.random() < 0.5,
                                   now)
        else:
            wid = rng.randint(1, 8)
            await store.cancel(now=now, reason="random", workflow_id=wid)
            held = [c for c in held if c.workflow_id != wid]
        views.append(await store.live_view(rng.choice((0, 2, 50))))
    return views


@pytest.mark.parametrize("seed", range(6))
async def test_sqlite_and_memory_agree_on_random_runs(seed: int) -> None:
    runs = []
    for store in (SqliteStore(":memory:"), MemoryStore()):
        await store.open()
        runs.append(await random_steps(store, seed))
        await store.close()
    for step, (lite, mem) in enumerate(zip(*runs, strict=True)):
        assert repr(lite) == repr(mem), f"seed {seed}, step {step}"
    assert any(v != runs[0][0] for v in runs[0])  # the run did move the view
