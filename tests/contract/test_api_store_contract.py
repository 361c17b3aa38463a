"""The store contract for the HTTP API: keys, the audit trail, tenant pages, tenant
views and quotas, and retrying a finished workflow.

Runs against every store in conftest.FACTORIES.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from tests.contract.test_store_contract import (
    NOW,
    RETRY1,
    claim,
    done,
    failed,
    state,
    task,
    workflow,
)
from zerogate.adapters import sqlite_ops as ops
from zerogate.adapters.sqlite_schema import SCHEMA
from zerogate.domain.model import FailurePolicy, Limits, TaskState, WorkflowState
from zerogate.domain.records import ApiKeyRecord, AuditEntry, ClaimRequest
from zerogate.errors import InvalidInput, InvalidTransition, NotFound
from zerogate.ports import Store

S = TaskState
W = WorkflowState


def key(key_id: str, created_at: float = NOW, tenant: str = "a") -> ApiKeyRecord:
    return ApiKeyRecord(key_id=key_id, secret_hash="9f" * 32, tenant=tenant, role="operator",
                        name=f"label of {key_id}", created_at=created_at)


def entry(action: str, at: float = NOW, tenant: str | None = "a",
          outcome: str = "ok") -> AuditEntry:
    return AuditEntry(at=at, action=action, outcome=outcome, actor="zg_1", tenant=tenant,
                      target="workflow:1", source="127.0.0.1", request_id="r", detail="{}")


# ---------------------------------------------------------------- API keys


async def test_keys_are_found_and_listed_by_creation_then_id(store: Store) -> None:
    for k in (key("zg_c", NOW + 1), key("zg_b", NOW), key("zg_a", NOW + 1)):
        await store.save_key(k)
    assert [k.key_id for k in await store.list_keys()] == ["zg_b", "zg_a", "zg_c"]
    assert await store.find_key("zg_b") == key("zg_b", NOW)
    assert await store.find_key("zg_nope") is None


async def test_times_come_back_as_floats_whatever_went_in(store: Store) -> None:
    await store.save_key(replace(key("zg_1", created_at=5), expires_at=9))
    found = await store.find_key("zg_1")
    assert found is not None and (found.created_at, found.expires_at) == (5.0, 9.0)
    assert isinstance(found.created_at, float) and isinstance(found.expires_at, float)
    await store.append_audit([entry("keys.create", at=7)])
    [logged] = await store.load_audit()
    assert isinstance(logged.at, float) and logged.at == 7.0


async def test_a_taken_key_id_is_refused_and_the_first_key_kept(store: Store) -> None:
    await store.save_key(key("zg_1"))
    with pytest.raises(InvalidInput, match="a key with id 'zg_1' exists"):
        await store.save_key(replace(key("zg_1"), tenant="b", role="admin"))
    assert await store.list_keys() == [key("zg_1")]


async def test_revoking_keeps_the_first_time_and_unknown_keys_are_not_found(
        store: Store) -> None:
    with pytest.raises(NotFound, match="zg_nope"):
        await store.revoke_key("zg_nope", NOW)
    await store.save_key(key("zg_1"))
    await store.save_key(key("zg_2"))
    first = await store.revoke_key("zg_1", NOW + 5)
    assert first == replace(key("zg_1"), revoked_at=NOW + 5)
    assert await store.revoke_key("zg_1", NOW + 9) == first  # access ended at the first
    assert await store.find_key("zg_1") == first
    assert await store.find_key("zg_2") == key("zg_2")  # the other key is untouched


# ---------------------------------------------------------------- audit trail


async def test_audit_is_numbered_and_read_newest_first(store: Store) -> None:
    await store.append_audit([])  # nothing to add is no change
    given = [replace(entry(f"a.{i}"), entry_id=99) for i in range(3)]  # the store numbers
    await store.append_audit(given)
    await store.append_audit([entry("a.3")])
    got = await store.load_audit()
    assert [e.action for e in got] == ["a.3", "a.2", "a.1", "a.0"]
    ids = [e.entry_id for e in got]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4 and min(ids) > 0
    assert got[-1] == replace(given[0], entry_id=ids[-1])  # every field kept
    assert await store.load_audit(limit=0) == []


async def test_audit_pages_by_id_and_filters_by_tenant_and_action_prefix(store: Store) -> None:
    await store.append_audit([
        entry("auth.failed", tenant=None, outcome="denied"), entry("keys.create"),
        entry("auth.failed", tenant="b", outcome="denied"), entry("authz.check"),
        entry("auth.ok"), entry("emergency.pause", tenant="b")])
    everything = await store.load_audit()
    pages, before = [], None
    while page := await store.load_audit(limit=4, before_id=before):
        pages.append(page)
        before = page[-1].entry_id
    assert [len(p) for p in pages] == [4, 2] and [e for p in pages for e in p] == everything
    auth = await store.load_audit(action="auth.")
    assert [(e.action, e.tenant) for e in auth] == [
        ("auth.ok", "a"), ("auth.failed", "b"), ("auth.failed", None)]  # not "authz.check"
    assert [e.action for e in await store.load_audit(tenant="b")] == [
        "emergency.pause", "auth.failed"]
    assert [e.action for e in await store.load_audit(tenant="a", action="auth")] == [
        "auth.ok", "authz.check"]
    newest_a = (await store.load_audit(tenant="a"))[0]
    assert [e.action for e in await store.load_audit(
        tenant="a", before_id=newest_a.entry_id, limit=1)] == ["authz.check"]
    assert await store.load_audit(tenant="nobody") == []


async def test_prune_deletes_old_entries_and_ids_never_come_back(store: Store) -> None:
    await store.append_audit([entry("x.old", at=NOW - 10), entry("x.new", at=NOW + 10),
                              entry("x.older", at=NOW - 20)])
    assert await store.prune_audit(NOW) == 2
    [kept] = await store.load_audit()
    assert kept.action == "x.new"
    assert await store.prune_audit(NOW) == 0
    assert await store.prune_audit(NOW + 11) == 1
    await store.append_audit([entry("x.after")])
    [after] = await store.load_audit()
    assert after.entry_id > kept.entry_id  # a pruned id is never handed out again


# ---------------------------------------------------------------- tenant pages


async def submit_for_tenants(store: Store) -> dict[str, list[int]]:
    """Workflows of tenants "a" and "b", interleaved; one of "a"'s is named "nightly"."""
    made = [workflow(task("x"), task("y", "x"), tenant=t) for t in "abab"]
    made.append(replace(workflow(task("x"), task("z"), tenant="a"), name="nightly"))
    subs = await store.submit(made, NOW)
    ids: dict[str, list[int]] = {"a": [], "b": []}
    for wf, sub in zip(made, subs, strict=True):
        ids[wf.tenant].append(sub.workflow_id)
    return ids


async def test_list_workflows_pages_one_tenant_newest_first(store: Store) -> None:
    ids = await submit_for_tenants(store)
    mine = await store.list_workflows(tenant="a")
    assert [w.workflow_id for w in mine] == ids["a"][::-1]
    assert {w.tenant for w in mine} == {"a"}
    assert mine[0] == await store.get_workflow(ids["a"][-1])
    pages, before = [], None
    while page := await store.list_workflows(tenant="a", limit=2, before_id=before):
        pages.append([w.workflow_id for w in page])
        before = page[-1].workflow_id
    assert pages == [ids["a"][:0:-1], ids["a"][:1]]
    assert [w.workflow_id for w in await store.list_workflows(tenant="b")] == ids["b"][::-1]
    assert await store.list_workflows(tenant="c") == []
    assert await store.list_workflows(tenant="a", limit=0) == []
    named = await store.list_workflows(tenant="a", name="nightly")
    assert [w.workflow_id for w in named] == [ids["a"][-1]]
    assert await store.list_workflows(tenant="b", name="nightly") == []


async def test_list_workflows_filters_by_state(store: Store) -> None:
    ids = await submit_for_tenants(store)
    await store.cancel(now=NOW, reason="x", workflow_id=ids["a"][0])
    await store.cancel(now=NOW, reason="x", workflow_id=ids["b"][0])
    cancelled = await store.list_workflows(tenant="a", state="cancelled")
    assert [w.workflow_id for w in cancelled] == [ids["a"][0]]
    assert [w.workflow_id for w in await store.list_workflows(tenant="a", state=W.PENDING)] == (
        ids["a"][:0:-1])
    assert await store.list_workflows(tenant="a", state="no such state") == []


async def test_list_task_page_pages_one_tenant_with_complete_records(store: Store) -> None:
    ids = await submit_for_tenants(store)
    everything = [t for wid in ids["a"] for t in await store.list_tasks(wid)]
    mine = await store.list_task_page(tenant="a")
    assert mine == sorted(everything, key=lambda t: -t.task_id)  # deps and all, as stored
    assert any(t.deps == ("x",) for t in mine)
    pages, before = [], None
    while page := await store.list_task_page(tenant="a", limit=4, before_id=before):
        pages.append(page)
        before = page[-1].task_id
    assert [len(p) for p in pages] == [4, 2] and [t for p in pages for t in p] == mine
    assert {t.tenant for t in await store.list_task_page(tenant="b")} == {"b"}
    assert await store.list_task_page(tenant="c") == []


async def test_list_task_page_filters_by_workflow_state_and_name(store: Store) -> None:
    ids = await submit_for_tenants(store)
    first_a, first_b = ids["a"][0], ids["b"][0]
    of_one = await store.list_task_page(tenant="a", workflow_id=first_a)
    assert of_one == (await store.list_tasks(first_a))[::-1]
    # Another tenant's workflow gives nothing, not its tasks.
    assert await store.list_task_page(tenant="a", workflow_id=first_b) == []
    assert await store.list_task_page(tenant="a", workflow_id=999) == []
    await claim(store)  # admits all; every "x" and "z" runs, every "y" waits for its "x"
    running = await store.list_task_page(tenant="a", state="running")
    assert {t.local_id for t in running} == {"x", "z"} and len(running) == 4
    waiting_y = await store.list_task_page(tenant="a", state=S.PENDING)
    assert {t.local_id for t in waiting_y} == {"y"} and len(waiting_y) == 2
    for tid in (t.task_id for t in running):
        await store.finish("A", [done(tid)], NOW)
    newest = await store.list_task_page(tenant="a", workflow_id=ids["a"][1], state="completed")
    assert [t.local_id for t in newest] == ["x"]
    named = [replace(task("n1"), name="resize"), replace(task("n2"), name="resize")]
    [sub] = await store.submit([workflow(*named, tenant="a")], NOW)
    resize = await store.list_task_page(tenant="a", name="resize", limit=1)
    assert [t.task_id for t in resize] == [sub.task_ids["n2"]]
    assert await store.list_task_page(tenant="b", name="resize") == []


# ---------------------------------------------------------------- tenant views and quotas


async def test_live_view_of_a_tenant_counts_only_its_open_work(store: Store) -> None:
    [a1, b1, a2] = await store.submit([
        workflow(task("p", key="k"), task("q", "p"), tenant="a"),
        workflow(task("p", key="k"), task("r"), task("s"), tenant="b"),
        workflow(task("p", priority=1), tenant="a")], NOW)
    await claim(store, n=0, limits=Limits(max_running_workflows=2))  # a2 stays pending
    await store.claim(ClaimRequest(owner="A", n=1, now=NOW + 1, lease_s=30, limits=Limits(
        max_running_workflows=2)))  # a1's "p" runs, by id order within the class
    assert await state(store, a1.task_ids["p"]) is S.RUNNING
    view = await store.live_view(tenant="a")
    assert view.tasks == {"pending": 2, "waiting": 0, "retrying": 0, "running": 1}
    assert view.workflows == {"pending": 1, "running": 1}
    assert (view.ready_by_priority, view.ready_by_name, view.ready_by_key) == ({}, {}, {})
    assert view.running_by_key == {"k": 1} and view.oldest_ready_at is None
    assert [w.workflow_id for w in view.active] == [a1.workflow_id, a2.workflow_id]
    theirs = await store.live_view(tenant="b")
    assert theirs.tasks == {"pending": 0, "waiting": 3, "retrying": 0, "running": 0}
    assert theirs.workflows == {"pending": 0, "running": 1}
    assert (theirs.ready_by_key, theirs.running_by_key, theirs.oldest_ready_at) == (
        {"k": 1}, {}, NOW)
    assert [w.workflow_id for w in theirs.active] == [b1.workflow_id]
    everyone = await store.live_view()
    assert everyone.tasks == {"pending": 2, "waiting": 3, "retrying": 0, "running": 1}
    assert everyone.workflows == {"pending": 1, "running": 2}
    assert (await store.live_view(active_limit=1, tenant="a")).active == view.active[:1]
    nobody = await store.live_view(tenant="nobody")
    assert (nobody.tasks["waiting"], nobody.workflows, nobody.active) == (
        0, {"pending": 0, "running": 0}, [])


async def test_open_tasks_by_tenant_follows_claims_and_finishes(store: Store) -> None:
    assert await store.open_tasks_by_tenant() == {}
    [a, b] = await store.submit([workflow(task("x"), task("y", "x"), tenant="a"),
                                 workflow(task("x"), task("z"), tenant="b")], NOW)
    assert await store.open_tasks_by_tenant() == {"a": 2, "b": 2}
    await claim(store)  # running and pending tasks are open too
    assert await store.open_tasks_by_tenant() == {"a": 2, "b": 2}
    await store.finish("A", [done(b.task_ids["x"]), done(b.task_ids["z"]),
                             failed(a.task_ids["x"])], NOW)
    assert await store.open_tasks_by_tenant() == {}  # "a"'s "y" failed with its dependency
    [c] = await store.submit([workflow(task("x", retry=RETRY1), tenant="c")], NOW)
    assert await store.open_tasks_by_tenant() == {"c": 1}
    await store.retry_workflow(a.workflow_id, NOW)
    assert await store.open_tasks_by_tenant() == {"a": 2, "c": 1}
    await store.cancel(now=NOW, reason="x", workflow_id=c.workflow_id)
    assert await store.open_tasks_by_tenant() == {"a": 2}


# ---------------------------------------------------------------- retry


async def test_a_failed_workflow_is_retried_to_completion(store: Store) -> None:
    [s] = await store.submit([workflow(task("a", retry=RETRY1), task("b", "a"), task("c"))],
                             NOW)
    ids = s.task_ids
    await claim(store)
    await store.finish("A", [done(ids["c"], result='"kept"')], NOW)
    changes = await store.finish("A", [failed(ids["a"])], NOW + 1)
    assert changes.finished_workflows == [(s.workflow_id, W.FAILED)]
    before = await store.get_task(ids["a"])
    assert (before.state, before.attempt, before.failures) == (S.FAILED, 1, 1)

    changes = await store.retry_workflow(s.workflow_id, NOW + 10)
    assert (changes.became_ready, changes.finished_workflows, changes.stopped_running) == (
        1, [], [])
    record = await store.get_workflow(s.workflow_id)
    assert (record.state, record.open_tasks, record.finished_at) == (W.PENDING, 2, None)
    a = await store.get_task(ids["a"])
    assert (a.state, a.attempt, a.failures, a.error, a.traceback, a.result_json, a.owner,
            a.lease_until, a.not_before, a.started_at, a.finished_at, a.ready_at) == (
        S.PENDING, 1, 0, None, None, None, None, None, None, None, None, NOW + 10)
    b = await store.get_task(ids["b"])
    assert (b.state, b.error, b.finished_at, b.ready_at) == (S.PENDING, None, None, None)
    c = await store.get_task(ids["c"])
    assert (c.state, c.result_json) == (S.COMPLETED, '"kept"')
    view = await store.live_view()
    assert (view.tasks["pending"], view.workflows) == (2, {"pending": 1, "running": 0})
    assert await store.count_by_state() == {"completed": 1, "pending": 2}

    batch = await store.claim(ClaimRequest(owner="B", n=10, now=NOW + 11, lease_s=30,
                                           limits=Limits()))
    [again] = batch.claims
    assert (again.task_id, again.failures, again.ready_at) == (ids["a"], 0, NOW + 10)
    assert again.attempt > before.attempt  # a fencing token is never handed out twice
    assert (await store.get_workflow(s.workflow_id)).state is W.RUNNING
    assert (await store.finish("A", [done(ids["a"], attempt=1)], NOW + 12)).accepted == []
    changes = await store.finish("B", [done(ids["a"], attempt=again.attempt)], NOW + 12)
    assert changes.became_ready == 1
    batch = await store.claim(ClaimRequest(owner="B", n=10, now=NOW + 13, lease_s=30,
                                           limits=Limits()))
    assert [(x.task_id, x.dep_results) for x in batch.claims] == [(ids["b"], {"a": '"ok"'})]
    changes = await store.finish("B", [done(ids["b"], attempt=batch.claims[0].attempt)],
                                 NOW + 14)
    assert changes.finished_workflows == [(s.workflow_id, W.COMPLETED)]
    record = await store.get_workflow(s.workflow_id)
    assert (record.state, record.open_tasks, record.finished_at) == (W.COMPLETED, 0, NOW + 14)
    assert await store.count_by_state() == {"completed": 3}
    assert (await store.live_view()).workflows == {"pending": 0, "running": 0}


async def test_a_cancelled_workflow_is_retried_and_zombies_stay_fenced(store: Store) -> None:
    [s] = await store.submit([workflow(task("a"), task("b", "a"), task("c", "b"))], NOW)
    ids = s.task_ids
    assert await claim(store, owner="A") == [ids["a"]]
    changes = await store.cancel(now=NOW, reason="stop", workflow_id=s.workflow_id)
    assert changes.finished_workflows == [(s.workflow_id, W.CANCELLED)]
    assert (await store.retry_workflow(s.workflow_id, NOW + 1)).became_ready == 1
    # The attempt cancelled before the retry still runs somewhere: it must not land.
    assert await store.heartbeat("A", [ids["a"]], NOW + 2, 30) == [ids["a"]]
    assert (await store.finish("A", [done(ids["a"])], NOW + 2)).accepted == []
    for step, local in enumerate("abc"):
        batch = await store.claim(ClaimRequest(owner="A", n=10, now=NOW + 3 + step,
                                               lease_s=30, limits=Limits()))
        assert [x.task_id for x in batch.claims] == [ids[local]]
        attempt = batch.claims[0].attempt
        assert attempt == (2 if local == "a" else 1)
        changes = await store.finish("A", [done(ids[local], attempt=attempt)], NOW + 3 + step)
        assert changes.accepted == [ids[local]]
    assert changes.finished_workflows == [(s.workflow_id, W.COMPLETED)]


@pytest.mark.parametrize(("policy", "lost"), [(FailurePolicy.FAIL, S.FAILED),
                                              (FailurePolicy.SKIP, S.SKIPPED)])
async def test_dependents_of_a_retried_task_come_back_and_run_after_it(
        store: Store, policy: FailurePolicy, lost: TaskState) -> None:
    [s] = await store.submit([workflow(task("a", retry=RETRY1), task("b", "a"),
                                       task("c", "b"), task("d"), policy=policy)], NOW)
    ids = s.task_ids
    await claim(store)
    await store.finish("A", [failed(ids["a"]), done(ids["d"])], NOW)
    assert [await state(store, ids[x]) for x in "bc"] == [lost, lost]
    assert (await store.retry_workflow(s.workflow_id, NOW + 1)).became_ready == 1
    assert [await state(store, ids[x]) for x in "abcd"] == [S.PENDING] * 3 + [S.COMPLETED]
    order = []
    now = NOW + 2
    while batch := (await store.claim(ClaimRequest(owner="A", n=10, now=now, lease_s=30,
                                                   limits=Limits()))).claims:
        order += [x.local_id for x in batch]
        changes = await store.finish("A", [done(x.task_id, x.attempt) for x in batch], now)
        now += 1
    assert order == ["a", "b", "c"]  # one at a time: each waits for the one before
    assert changes.finished_workflows == [(s.workflow_id, W.COMPLETED)]
    assert (await store.get_task(ids["d"])).finished_at == NOW  # completed work not redone


async def test_only_a_failed_or_cancelled_workflow_can_be_retried(store: Store) -> None:
    with pytest.raises(NotFound, match="999"):
        await store.retry_workflow(999, NOW)
    [pending, done_wf] = await store.submit([workflow(task("a")), workflow(task("a"))], NOW)
    with pytest.raises(InvalidTransition, match=f"workflow {pending.workflow_id} is pending"):
        await store.retry_workflow(pending.workflow_id, NOW)
    await claim(store)
    with pytest.raises(InvalidTransition, match="is running"):
        await store.retry_workflow(pending.workflow_id, NOW)
    await store.finish("A", [done(done_wf.task_ids["a"])], NOW)
    with pytest.raises(InvalidTransition, match="is completed"):
        await store.retry_workflow(done_wf.workflow_id, NOW)
    assert (await store.get_workflow(done_wf.workflow_id)).state is W.COMPLETED


async def test_a_retried_workflow_waits_for_admission_like_a_new_one(store: Store) -> None:
    limits = Limits(max_running_workflows=1)
    [first, other] = await store.submit([workflow(task("a", retry=RETRY1)),
                                         workflow(task("a"))], NOW)
    [tid] = await claim(store, limits=limits)
    await store.finish("A", [failed(tid)], NOW)  # "first" failed; "other" is admitted next
    assert await claim(store, limits=limits) == [other.task_ids["a"]]
    await store.retry_workflow(first.workflow_id, NOW + 1)
    assert await claim(store, limits=limits, now=NOW + 2) == []  # "other" holds the one slot
    assert (await store.get_workflow(first.workflow_id)).state is W.PENDING
    await store.finish("A", [done(other.task_ids["a"])], NOW + 2)
    assert await claim(store, limits=limits, now=NOW + 3) == [first.task_ids["a"]]


async def test_a_retried_task_loses_the_class_it_aged_into(store: Store) -> None:
    [s] = await store.submit([workflow(task("a", priority=3, retry=RETRY1))], NOW)
    await claim(store, n=0)
    assert await store.promote_aged(NOW + 250, 100) == 1
    [tid] = await claim(store, now=NOW + 250)
    await store.finish("A", [failed(tid)], NOW + 251)
    await store.retry_workflow(s.workflow_id, NOW + 260)
    record = await store.get_task(tid)
    assert (record.priority, record.effective_priority) == (3, 3)  # it waits, and ages, anew


# ---------------------------------------------------------------- SQLite's pages


def test_sqlite_pages_read_only_the_tenants_index() -> None:
    """A tenant's pages must cost that tenant's rows, not every tenant's history."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    ran: list[str] = []
    db.set_trace_callback(ran.append)
    ops.list_workflows(db, "a", "failed", "wf", 10, 5)
    ops.list_task_page(db, "a", None, "failed", "t", 10, 5)
    ops.list_task_page(db, "a", 3, None, None, None, 5)
    db.set_trace_callback(None)
    plans = [[r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}")] for sql in ran]
    db.close()
    assert plans[0] == ["SEARCH workflows USING INDEX workflows_tenant (tenant=? AND id<?)"]
    assert plans[1][0] == "SEARCH t USING INDEX tasks_tenant (tenant=? AND id<?)"
    assert plans[3][0] == "SEARCH t USING INDEX tasks_workflow (workflow_id=?)"
