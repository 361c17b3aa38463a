"""The store contract: claims, leases, fencing, dependencies, failure, cancel, pause.

Runs against every store in conftest.FACTORIES.
"""

from __future__ import annotations

import pytest

from zerogate.domain.model import FailurePolicy, Limits, TaskState, WorkflowState
from zerogate.domain.records import ClaimRequest, NewTask, NewWorkflow, Outcome
from zerogate.domain.retry import RetryPolicy
from zerogate.domain.scheduling import MAX_SCAN_ROUNDS
from zerogate.errors import InvalidConfig, InvalidTransition, NotFound
from zerogate.ports import Store

NOW = 1000.0
RETRY1 = RetryPolicy(max_attempts=1).to_json()
RETRY3 = RetryPolicy(max_attempts=3, backoff_s=10, jitter=0).to_json()


def task(local_id: str, *deps: str, priority: int = 2, rank: int = 0, key: str | None = None,
         retry: str = RETRY3) -> NewTask:
    return NewTask(local_id=local_id, name="t", args_json='{"n": 1}', deps=deps,
                   priority=priority, rank=rank, key=key, timeout_s=None, retry_json=retry)


def workflow(*tasks: NewTask, tenant: str = "default", key: str | None = None,
             policy: FailurePolicy = FailurePolicy.FAIL, priority: int = 2) -> NewWorkflow:
    return NewWorkflow(name="wf", tenant=tenant, priority=priority, failure_policy=policy,
                       idempotency_key=key, tasks=tasks)


async def claim(store: Store, n: int = 100, owner: str = "A", now: float = NOW,
                limits: Limits | None = None, lease_s: float = 30.0) -> list[int]:
    batch = await store.claim(ClaimRequest(owner=owner, n=n, now=now, lease_s=lease_s,
                                           limits=limits or Limits()))
    return [c.task_id for c in batch.claims]


def done(task_id: int, attempt: int = 1, result: str = '"ok"') -> Outcome:
    return Outcome(task_id=task_id, attempt=attempt, state=TaskState.COMPLETED,
                   result_json=result)


def failed(task_id: int, attempt: int = 1) -> Outcome:
    return Outcome(task_id=task_id, attempt=attempt, state=TaskState.FAILED, error="boom")


async def state(store: Store, task_id: int) -> TaskState:
    return (await store.get_task(task_id)).state


# ---------------------------------------------------------------- submit


async def test_submit_assigns_ids_and_replays_idempotency_key(store: Store) -> None:
    [first] = await store.submit([workflow(task("a"), task("b", "a"), key="k")], NOW)
    [again] = await store.submit([workflow(task("x"), key="k")], NOW)
    assert first.is_new and not again.is_new
    assert again.workflow_id == first.workflow_id
    assert again.task_ids == first.task_ids == {"a": first.task_ids["a"], "b": first.task_ids["b"]}
    assert (await store.count_by_state()) == {"pending": 2}


async def test_submit_batch_is_all_or_nothing(store: Store) -> None:
    broken = workflow(task("a", "missing"))  # a dependency the store cannot resolve
    with pytest.raises(Exception):  # noqa: B017 - any error; what matters is the rollback
        await store.submit([workflow(task("ok")), broken], NOW)
    assert await store.count_by_state() == {}


# ---------------------------------------------------------------- claim order


async def test_claims_follow_priority_then_rank_then_age(store: Store) -> None:
    [s] = await store.submit([workflow(
        task("low", priority=3), task("crit", priority=0), task("high_old", priority=1),
        task("high_new", priority=1), task("high_ranked", priority=1, rank=5))], NOW)
    ids = s.task_ids
    assert await claim(store, n=5) == [ids["crit"], ids["high_ranked"], ids["high_old"],
                                       ids["high_new"], ids["low"]]


async def test_claim_takes_at_most_n_and_leases_with_attempt(store: Store) -> None:
    await store.submit([workflow(task("a"), task("b"), task("c"))], NOW)
    first = await store.claim(ClaimRequest(owner="A", n=2, now=NOW, lease_s=30, limits=Limits()))
    assert [c.attempt for c in first.claims] == [1, 1]
    record = await store.get_task(first.claims[0].task_id)
    assert (record.state, record.owner, record.lease_until) == (TaskState.RUNNING, "A", NOW + 30)
    assert len(await claim(store)) == 1
    assert await claim(store) == []


async def test_dependents_wait_and_receive_results(store: Store) -> None:
    [s] = await store.submit([workflow(task("a"), task("b"), task("c", "a", "b"))], NOW)
    ids = s.task_ids
    assert sorted(await claim(store)) == [ids["a"], ids["b"]]
    changes = await store.finish("A", [done(ids["a"], result='{"v": 1}')], NOW)
    assert changes.became_ready == 0 and await claim(store) == []
    changes = await store.finish("A", [done(ids["b"], result="2")], NOW)
    assert changes.became_ready == 1
    batch = await store.claim(ClaimRequest(owner="A", n=9, now=NOW, lease_s=30, limits=Limits()))
    assert batch.claims[0].dep_results == {"a": '{"v": 1}', "b": "2"}


async def test_workflow_completes_when_last_task_does(store: Store) -> None:
    [s] = await store.submit([workflow(task("a"), task("b", "a"))], NOW)
    ids = s.task_ids
    await claim(store)
    assert (await store.finish("A", [done(ids["a"])], NOW)).finished_workflows == []
    await claim(store)
    changes = await store.finish("A", [done(ids["b"])], NOW + 1)
    assert changes.finished_workflows == [(s.workflow_id, WorkflowState.COMPLETED)]
    record = await store.get_workflow(s.workflow_id)
    assert (record.state, record.open_tasks, record.finished_at) == (
        WorkflowState.COMPLETED, 0, NOW + 1)


# ---------------------------------------------------------------- limits


async def test_key_limit_holds_across_claims(store: Store) -> None:
    await store.submit([workflow(*(task(f"e{i}", key="email") for i in range(5)),
                                 task("other", priority=3))], NOW)
    limits = Limits(per_key={"email": 2})
    first = await claim(store, limits=limits)
    assert len(first) == 3  # two of key "email", and the unlimited one behind them
    assert await claim(store, limits=limits) == []
    await store.finish("A", [done(first[0])], NOW)
    assert len(await claim(store, limits=limits)) == 1


async def test_tenant_and_workflow_limits(store: Store) -> None:
    await store.submit([workflow(task("a"), task("b"), task("c"), tenant="t1"),
                        workflow(task("a"), task("b"), tenant="t2")], NOW)
    assert len(await claim(store, limits=Limits(per_tenant=1))) == 2
    assert len(await claim(store, limits=Limits(per_workflow=2))) == 2


async def test_a_tenants_own_limit_overrides_the_default(store: Store) -> None:
    await store.submit([workflow(*(task(f"a{i}") for i in range(4)), tenant="small"),
                        workflow(*(task(f"b{i}") for i in range(4)), tenant="big")], NOW)
    limits = Limits(per_tenant=3, tenant_limits={"small": 1})
    got = await claim(store, limits=limits)
    assert len(got) == 4  # one of "small" (its quota), three of "big" (the default)
    assert await claim(store, limits=limits) == []
    tenants = [(await store.get_task(t)).tenant for t in got]
    assert sorted(tenants) == ["big", "big", "big", "small"]


async def test_running_workflow_limit_queues_whole_workflows(store: Store) -> None:
    subs = await store.submit([workflow(task("a"), task("b")) for _ in range(3)], NOW)
    limits = Limits(max_running_workflows=1)
    got = await claim(store, limits=limits)
    assert sorted(got) == sorted(subs[0].task_ids.values())
    assert (await store.get_workflow(subs[1].workflow_id)).state is WorkflowState.PENDING
    await store.finish("A", [done(t) for t in got], NOW)
    assert sorted(await claim(store, limits=limits)) == sorted(subs[1].task_ids.values())


async def test_running_counts_by_scope(store: Store) -> None:
    [s] = await store.submit([workflow(task("a", key="k"), task("b"), tenant="t")], NOW)
    await claim(store)
    counts = await store.running_counts()
    assert counts.by_workflow[s.workflow_id] == 2
    assert (counts.by_tenant["t"], counts.by_key["k"]) == (2, 1)


# ---------------------------------------------------------------- pause


async def test_global_pause_stops_claims_and_survives(store: Store) -> None:
    await store.submit([workflow(task("a"))], NOW)
    await store.set_paused("global", True, NOW)
    batch = await store.claim(ClaimRequest(owner="A", n=5, now=NOW, lease_s=30, limits=Limits()))
    assert batch.is_paused and batch.claims == []
    assert await store.paused_scopes() == frozenset({"global"})
    await store.set_paused("global", False, NOW)
    assert len(await claim(store)) == 1


@pytest.mark.parametrize("scope", ["workflow", "tenant", "key"])
async def test_scoped_pause_holds_only_that_scope(store: Store, scope: str) -> None:
    [held, free] = await store.submit([workflow(task("a", key="k1"), tenant="t1"),
                                       workflow(task("a", key="k2"), tenant="t2")], NOW)
    name = {"workflow": str(held.workflow_id), "tenant": "t1", "key": "k1"}[scope]
    await store.set_paused(f"{scope}:{name}", True, NOW)
    assert await claim(store) == [free.task_ids["a"]]
    await store.set_paused(f"{scope}:{name}", False, NOW)
    assert await claim(store) == [held.task_ids["a"]]


# ---------------------------------------------------------------- fencing and leases


async def test_finish_is_fenced_by_owner_and_attempt(store: Store) -> None:
    [s] = await store.submit([workflow(task("a"))], NOW)
    [tid] = await claim(store, owner="A")
    assert (await store.finish("B", [done(tid)], NOW)).accepted == []
    assert (await store.finish("A", [done(tid, attempt=2)], NOW)).accepted == []
    assert (await store.finish("A", [done(tid)], NOW)).accepted == [tid]
    assert (await store.finish("A", [done(tid)], NOW)).accepted == []  # recorded once
    assert (await store.get_task(tid)).result_json == '"ok"'
    assert s.task_ids["a"] == tid


async def test_expired_lease_is_retried_and_zombie_write_refused(store: Store) -> None:
    await store.submit([workflow(task("a"))], NOW)
    [tid] = await claim(store, owner="A", lease_s=10)
    assert (await store.reclaim_expired(NOW + 5, lambda: 0.5)).stopped_running == []
    changes = await store.reclaim_expired(NOW + 11, lambda: 0.5)
    assert changes.stopped_running == [tid]
    record = await store.get_task(tid)
    assert (record.state, record.failures, record.not_before) == (TaskState.RETRYING, 1,
                                                                  NOW + 11 + 10)
    assert "lease expired" in (record.error or "")
    assert await claim(store, owner="B", now=NOW + 20) == []  # backoff not over
    assert await claim(store, owner="B", now=NOW + 21) == [tid]
    assert (await store.finish("A", [done(tid, attempt=1)], NOW + 22)).accepted == []
    assert (await store.finish("B", [done(tid, attempt=2)], NOW + 22)).accepted == [tid]


async def test_expired_lease_on_last_attempt_fails_the_task(store: Store) -> None:
    await store.submit([workflow(task("a", retry=RETRY1))], NOW)
    [tid] = await claim(store, lease_s=1)
    changes = await store.reclaim_expired(NOW + 2, lambda: 0.5)
    assert await state(store, tid) is TaskState.FAILED
    assert changes.finished_workflows and changes.finished_workflows[0][1] is WorkflowState.FAILED


async def test_heartbeat_extends_lease_and_reports_lost_tasks(store: Store) -> None:
    await store.submit([workflow(task("a"), task("b"))], NOW)
    a, b = await claim(store, owner="A", lease_s=10)
    await store.cancel(now=NOW, reason="x", task_id=b)
    assert await store.heartbeat("A", [a, b], NOW + 8, 10) == [b]
    assert (await store.get_task(a)).lease_until == NOW + 18
    assert (await store.reclaim_expired(NOW + 12, lambda: 0.5)).stopped_running == []


async def test_released_lease_returns_to_queue_without_a_failure(store: Store) -> None:
    await store.submit([workflow(task("a"))], NOW)
    [tid] = await claim(store)
    release = Outcome(task_id=tid, attempt=1, state=TaskState.WAITING)
    assert (await store.finish("A", [release], NOW)).accepted == [tid]
    record = await store.get_task(tid)
    assert (record.state, record.failures, record.owner) == (TaskState.WAITING, 0, None)
    batch = await store.claim(ClaimRequest(owner="B", n=1, now=NOW, lease_s=30, limits=Limits()))
    assert batch.claims[0].attempt == 2  # the fencing token still moves on


# ---------------------------------------------------------------- retry and failure


async def test_retrying_task_waits_for_its_backoff(store: Store) -> None:
    await store.submit([workflow(task("a"))], NOW)
    [tid] = await claim(store)
    retry = Outcome(task_id=tid, attempt=1, state=TaskState.RETRYING, error="e",
                    not_before=NOW + 5)
    await store.finish("A", [retry], NOW)
    batch = await store.claim(ClaimRequest(owner="A", n=1, now=NOW + 4, lease_s=30,
                                           limits=Limits()))
    assert batch.claims == [] and batch.next_due == NOW + 5
    batch = await store.claim(ClaimRequest(owner="A", n=1, now=NOW + 5, lease_s=30,
                                           limits=Limits()))
    assert (batch.claims[0].attempt, batch.claims[0].failures) == (2, 1)


@pytest.mark.parametrize(("policy", "expected"), [(FailurePolicy.FAIL, TaskState.FAILED),
                                                  (FailurePolicy.SKIP, TaskState.SKIPPED)])
async def test_failure_reaches_dependents_by_policy(store: Store, policy: FailurePolicy,
                                                    expected: TaskState) -> None:
    [s] = await store.submit([workflow(task("a"), task("b", "a"), task("c", "b"), task("d"),
                                       policy=policy)], NOW)
    ids = s.task_ids
    await claim(store)
    changes = await store.finish("A", [failed(ids["a"]), done(ids["d"])], NOW)
    assert [await state(store, ids[x]) for x in "abcd"] == [
        TaskState.FAILED, expected, expected, TaskState.COMPLETED]
    assert "dependency 'a' failed" in ((await store.get_task(ids["c"])).error or "")
    assert changes.finished_workflows == [(s.workflow_id, WorkflowState.FAILED)]


# ---------------------------------------------------------------- cancel


async def test_cancel_task_cancels_its_dependents_and_reports_running(store: Store) -> None:
    [s] = await store.submit([workflow(task("a"), task("b", "a"), task("z"))], NOW)
    ids = s.task_ids
    await claim(store)
    changes = await store.cancel(now=NOW, reason="no longer needed", task_id=ids["a"])
    assert changes.stopped_running == [ids["a"]]
    assert await state(store, ids["b"]) is TaskState.CANCELLED
    assert await state(store, ids["z"]) is TaskState.RUNNING
    assert (await store.finish("A", [done(ids["a"])], NOW)).accepted == []
    changes = await store.finish("A", [done(ids["z"])], NOW)
    assert changes.finished_workflows == [(s.workflow_id, WorkflowState.CANCELLED)]


async def test_cancel_everything_keeps_records(store: Store) -> None:
    subs = await store.submit([workflow(task("a"), task("b", "a")), workflow(task("c"))], NOW)
    await claim(store, n=1)
    changes = await store.cancel(now=NOW, reason="emergency stop")
    assert len(changes.stopped_running) == 1
    assert sorted(w for w, _ in changes.finished_workflows) == [s.workflow_id for s in subs]
    assert await store.count_by_state() == {"cancelled": 3}
    assert await claim(store) == []


async def test_unknown_ids_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.get_task(999)
    with pytest.raises(NotFound):
        await store.get_workflow(999)


# ---------------------------------------------------------------- aging


async def test_aging_promotes_long_waiting_tasks(store: Store) -> None:
    [s] = await store.submit([workflow(task("old_low", priority=3))], NOW)
    await claim(store, n=0)  # admits the workflow: the task is ready from NOW
    [t] = await store.submit([workflow(task("new_high", priority=1))], NOW + 250)
    assert await store.promote_aged(NOW + 250, 100) == 1
    assert (await store.get_task(s.task_ids["old_low"])).effective_priority == 1
    assert await claim(store, n=1, now=NOW + 250) == [s.task_ids["old_low"]]
    assert t.task_ids["new_high"] > 0


# ---------------------------------------------------------------- refused input


async def test_malformed_pause_scope_is_refused_and_claims_go_on(store: Store) -> None:
    await store.submit([workflow(task("a"))], NOW)
    for scope in ("workflow:x", "tenant:", "everything", "key"):
        with pytest.raises(InvalidConfig, match="unknown pause scope"):
            await store.set_paused(scope, True, NOW)
    assert await store.paused_scopes() == frozenset()
    assert len(await claim(store)) == 1


async def test_unappliable_outcome_state_is_refused_whole(store: Store) -> None:
    await store.submit([workflow(task("a"), task("b"))], NOW)
    a, b = await claim(store)
    bogus = Outcome(task_id=b, attempt=1, state=TaskState.CANCELLED)
    with pytest.raises(InvalidTransition, match="cannot end in state cancelled"):
        await store.finish("A", [done(a), bogus], NOW)
    assert [await state(store, t) for t in (a, b)] == [TaskState.RUNNING] * 2


async def test_a_scan_cut_short_says_there_is_more(store: Store) -> None:
    await store.submit([workflow(*(task(f"t{i}") for i in range(10))) for _ in range(10)], NOW)
    limits = Limits(per_workflow=1)
    first = await store.claim(ClaimRequest(owner="A", n=10, now=NOW, lease_s=30, limits=limits))
    assert len(first.claims) == MAX_SCAN_ROUNDS and first.has_more
    second = await store.claim(ClaimRequest(owner="A", n=10, now=NOW, lease_s=30, limits=limits))
    assert len(second.claims) == 10 - MAX_SCAN_ROUNDS
    assert len({c.workflow_id for c in first.claims + second.claims}) == 10


async def test_a_workflow_scope_has_one_spelling(store: Store) -> None:
    await store.set_paused("workflow:007", True, NOW)
    assert await store.paused_scopes() == frozenset({"workflow:7"})
    await store.set_paused("workflow:7", False, NOW)
    assert await store.paused_scopes() == frozenset()


async def test_heartbeat_extends_only_the_leases_named(store: Store) -> None:
    """A lease its engine forgot about must expire, not be renewed forever."""
    await store.submit([workflow(task("a"), task("b"))], NOW)
    a, b = await claim(store, owner="A", lease_s=10)
    assert await store.heartbeat("A", [a], NOW + 8, 10) == []
    changes = await store.reclaim_expired(NOW + 12, lambda: 0.5)
    assert changes.stopped_running == [b]
    assert (await store.get_task(a)).state is TaskState.RUNNING
