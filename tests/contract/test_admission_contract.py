"""The governor's admission inside a claim: class cut, feature switches, reserved resources.

Runs against every store in conftest.FACTORIES.
"""

from __future__ import annotations

from zerogate.domain.admission import NO_NEED, OPEN, Admission, Need
from zerogate.domain.model import FailurePolicy, Limits, Priority, TaskState, WorkflowState
from zerogate.domain.records import ClaimRequest, NewTask, NewWorkflow, Outcome
from zerogate.ports import Store

NOW = 1000.0
GIB = 2**30


def task(local_id: str, *, priority: int = 2, feature: str | None = None,
         need: Need = NO_NEED) -> NewTask:
    return NewTask(local_id=local_id, name="t", args_json="{}", deps=(), priority=priority,
                   rank=0, key=None, timeout_s=None, retry_json="[3, 1, 2.0, 300.0, 0.0, []]",
                   feature=feature, need=need)


def workflow(*tasks: NewTask) -> NewWorkflow:
    return NewWorkflow(name="wf", tenant="t", priority=2, failure_policy=FailurePolicy.FAIL,
                       idempotency_key=None, tasks=tasks)


async def claim(store: Store, admission: Admission | None, n: int = 100,
                now: float = NOW) -> list[str]:
    batch = await store.claim(ClaimRequest(owner="A", n=n, now=now, lease_s=30,
                                           limits=Limits(), admission=admission))
    return sorted(c.local_id for c in batch.claims)


async def test_class_cut_holds_lower_priorities_but_not_essential_features(store: Store) -> None:
    await store.submit([workflow(
        task("crit", priority=Priority.CRITICAL), task("high", priority=Priority.HIGH),
        task("low", priority=Priority.LOW),
        task("low_essential", priority=Priority.LOW, feature="billing"))], NOW)
    cut = Admission(max_priority=Priority.HIGH, essential=frozenset({"billing"}))
    assert await claim(store, cut) == ["crit", "high", "low_essential"]
    assert await claim(store, cut) == []  # the low task waits; it does not fail
    assert await claim(store, OPEN) == ["low"]


async def test_nothing_passes_a_closed_class_cut(store: Store) -> None:
    await store.submit([workflow(task("crit", priority=Priority.CRITICAL))], NOW)
    assert await claim(store, Admission(max_priority=-1)) == []
    assert await claim(store, None) == ["crit"]


async def test_tasks_of_a_feature_that_is_off_wait(store: Store) -> None:
    await store.submit([workflow(task("mail", feature="email"), task("plain"),
                                 task("sheet", feature="excel"))], NOW)
    off = Admission(features_off=frozenset({"email", "excel"}))
    assert await claim(store, off) == ["plain"]
    assert await claim(store, Admission(features_off=frozenset({"excel"}))) == ["mail"]
    record = await store.get_task(3)
    assert record.state is TaskState.WAITING and record.feature == "excel"


async def test_reservation_admits_only_what_fits_and_skips_to_smaller_tasks(store: Store) -> None:
    await store.submit([workflow(
        task("big", priority=0, need=Need(cpu=1.0, memory=3 * GIB)),
        task("mid", priority=1, need=Need(cpu=1.0, memory=1 * GIB)),
        task("small", priority=2, need=Need(cpu=0.5, memory=GIB // 2)),
        task("free", priority=3))], NOW)
    budget = Admission(cpu_free=1.5, memory_free=2 * GIB)
    # big does not fit; mid does; small fits in what mid left; free needs nothing.
    assert await claim(store, budget) == ["free", "mid", "small"]
    assert await claim(store, Admission(cpu_free=1.0, memory_free=2 * GIB)) == []
    assert await claim(store, Admission(cpu_free=1.0, memory_free=3 * GIB)) == ["big"]


async def test_claims_and_records_carry_what_the_governor_needs(store: Store) -> None:
    need = Need(cpu=0.25, memory=512 * 2**20)
    await store.submit([workflow(task("a", priority=Priority.HIGH, feature="f", need=need))], NOW)
    batch = await store.claim(ClaimRequest(owner="A", n=1, now=NOW, lease_s=30, limits=Limits()))
    [c] = batch.claims
    assert (c.priority, c.feature, c.need) == (Priority.HIGH, "f", need)
    record = await store.get_task(c.task_id)
    assert (record.feature, record.need) == ("f", need)


async def test_an_evicted_attempt_waits_out_its_delay_without_counting_a_failure(
        store: Store) -> None:
    [s] = await store.submit([workflow(task("victim"))], NOW)
    tid = s.task_ids["victim"]
    assert await claim(store, None) == ["victim"]
    evicted = Outcome(task_id=tid, attempt=1, state=TaskState.WAITING, not_before=NOW + 20,
                      error="evicted: memory critical")
    changes = await store.finish("A", [evicted], NOW)
    assert changes.accepted == [tid]
    record = await store.get_task(tid)
    assert record.state is TaskState.WAITING and record.failures == 0
    assert record.not_before == NOW + 20 and record.error == "evicted: memory critical"
    assert await claim(store, None, now=NOW + 19) == []
    assert await claim(store, None, now=NOW + 20) == ["victim"]
    assert (await store.get_task(tid)).attempt == 2


async def test_waits_past_a_features_maximum_fail_clearly_with_their_dependents(
        store: Store) -> None:
    late = NewTask(local_id="late", name="t", args_json="{}", deps=(), priority=2, rank=0,
                   key=None, timeout_s=None, retry_json="[3, 1, 2.0, 300.0, 0.0, []]",
                   feature="email")
    after = NewTask(local_id="after", name="t", args_json="{}", deps=("late",), priority=2,
                    rank=0, key=None, timeout_s=None, retry_json="[3, 1, 2.0, 300.0, 0.0, []]")
    [old] = await store.submit([workflow(late, after)], NOW)
    [new] = await store.submit([workflow(task("fresh", feature="email"))], NOW + 100)
    [other] = await store.submit([workflow(task("plain"))], NOW)
    off = Admission(features_off=frozenset({"email"}))
    assert await claim(store, off, now=NOW + 100) == ["plain"]  # admits the workflows
    error = "feature 'email' was off for longer than its maximum wait of 600 s"
    changes = await store.expire_waits("email", NOW + 50, error, NOW + 650)
    assert changes.finished_workflows == [(old.workflow_id, WorkflowState.FAILED)]
    late_record = await store.get_task(old.task_ids["late"])
    assert (late_record.state, late_record.error) == (TaskState.FAILED, error)
    assert (await store.get_task(old.task_ids["after"])).state is TaskState.FAILED
    assert (await store.get_task(new.task_ids["fresh"])).state is TaskState.WAITING
    assert (await store.get_task(other.task_ids["plain"])).state is TaskState.RUNNING
