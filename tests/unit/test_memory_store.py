"""MemoryStore: its queues and indexes, and a differential run against SqliteStore.

The contract suite covers the Store semantics; these tests cover what the in-memory
data structures add (lazy deletion, tasks passed over, backoff heap) and check, over
long random runs, that MemoryStore answers exactly as SqliteStore(":memory:") does.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from zerogate.adapters.memory_store import MemoryStore
from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.domain.admission import NO_NEED, OPEN, Admission, Need
from zerogate.domain.model import FailurePolicy, Limits, TaskState
from zerogate.domain.records import ClaimRequest, NewTask, NewWorkflow, Outcome
from zerogate.domain.retry import RetryPolicy
from zerogate.domain.scheduling import effective_class
from zerogate.errors import InvalidWorkflow, StoreUnavailable
from zerogate.ports import Store

NOW = 1000.0
RETRY3 = RetryPolicy(max_attempts=3, backoff_s=10, jitter=0).to_json()


def task(local_id: str, *deps: str, priority: int = 2, rank: int = 0, key: str | None = None,
         retry: str = RETRY3) -> NewTask:
    return NewTask(local_id=local_id, name="t", args_json="{}", deps=deps, priority=priority,
                   rank=rank, key=key, timeout_s=None, retry_json=retry)


def workflow(*tasks: NewTask, tenant: str = "default", key: str | None = None) -> NewWorkflow:
    return NewWorkflow(name="wf", tenant=tenant, priority=2, failure_policy=FailurePolicy.FAIL,
                       idempotency_key=key, tasks=tasks)


async def claim(store: Store, n: int = 100, now: float = NOW, owner: str = "A",
                limits: Limits | None = None) -> list[int]:
    batch = await store.claim(ClaimRequest(owner=owner, n=n, now=now, lease_s=30,
                                           limits=limits or Limits()))
    return [c.task_id for c in batch.claims]


def done(task_id: int, attempt: int = 1) -> Outcome:
    return Outcome(task_id=task_id, attempt=attempt, state=TaskState.COMPLETED, result_json="1")


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    s = MemoryStore()
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def sql() -> AsyncIterator[SqliteStore]:
    s = SqliteStore(":memory:")
    await s.open()
    yield s
    await s.close()


# ---------------------------------------------------------------- lazy deletion


async def test_task_cancelled_while_queued_is_never_claimed(store: MemoryStore) -> None:
    [s] = await store.submit([workflow(task("a"), task("b"), task("c"))], NOW)
    await claim(store, n=0)  # admits the workflow: all three are queued now
    await store.cancel(now=NOW, reason="x", task_id=s.task_ids["b"])
    assert await claim(store) == [s.task_ids["a"], s.task_ids["c"]]
    assert await claim(store) == []


async def test_aged_task_is_claimed_in_its_new_order_exactly_once(store: MemoryStore) -> None:
    [old] = await store.submit([workflow(task("low", priority=3))], NOW)
    await claim(store, n=0)
    [new] = await store.submit([workflow(task("high", priority=1))], NOW + 100)
    await claim(store, n=0, now=NOW + 100)
    assert await store.promote_aged(NOW + 100, 40) == 1  # low: 3 -> 1, one stale entry
    assert await store.promote_aged(NOW + 120, 40) == 1  # low: 1 -> 0, two stale entries
    low, high = old.task_ids["low"], new.task_ids["high"]
    assert await claim(store, n=1, now=NOW + 120) == [low]
    release = Outcome(task_id=low, attempt=1, state=TaskState.WAITING)
    await store.finish("A", [release], NOW + 120)
    assert await claim(store, now=NOW + 120) == [low, high]  # still first, and only once
    assert await claim(store, now=NOW + 120) == []


# ---------------------------------------------------------------- passed-over tasks


async def test_tasks_passed_over_for_a_full_key_return_to_the_queue(store: MemoryStore) -> None:
    [s] = await store.submit([workflow(task("e1", key="email"), task("e2", key="email"),
                                       task("e3", key="email"), task("z", priority=3))], NOW)
    ids, limits = s.task_ids, Limits(per_key={"email": 1})
    assert await claim(store, limits=limits) == [ids["e1"], ids["z"]]
    assert await claim(store, limits=limits) == []  # e2 and e3 were passed over twice
    await store.finish("A", [done(ids["e1"])], NOW)
    assert await claim(store, limits=limits) == [ids["e2"]]
    await store.finish("A", [done(ids["e2"])], NOW)
    assert await claim(store, limits=limits) == [ids["e3"]]


async def test_tasks_passed_over_while_paused_return_on_resume(store: MemoryStore) -> None:
    [held, free] = await store.submit([workflow(task("a"), task("b"), tenant="t1"),
                                       workflow(task("c"), tenant="t2")], NOW)
    await store.set_paused("tenant:t1", True, NOW)
    assert await claim(store) == [free.task_ids["c"]]
    assert await claim(store) == []
    await store.set_paused("tenant:t1", False, NOW)
    assert await claim(store) == [held.task_ids["a"], held.task_ids["b"]]


async def test_claim_stops_after_eight_rounds_like_sqlite(store: MemoryStore,
                                                         sql: SqliteStore) -> None:
    # Ten workflows of ten tasks, one task per workflow at a time: each SQLite round
    # of LIMIT 10 finds one workflow's tasks, so eight rounds yield eight tasks.
    wfs = [workflow(*(task(f"t{i}") for i in range(10))) for _ in range(10)]
    for s in (store, sql):
        await s.submit(wfs, NOW)
    limits = Limits(per_workflow=1)
    got = await claim(store, n=10, limits=limits)
    assert got == await claim(sql, n=10, limits=limits)
    assert len(got) == 8
    assert len(await claim(store, n=10, limits=limits)) == 2  # the rest stayed queued


@pytest.mark.parametrize(("group", "n", "expected"), [(9, 10, 9), (18, 20, 17)])
async def test_rescans_count_earlier_choices_like_sqlite(
        store: MemoryStore, sql: SqliteStore, group: int, n: int, expected: int) -> None:
    # One unlimited task first, then groups of tasks sharing a key limited to one at a
    # time. Each SQLite round's window holds the unlimited task again (chosen in round
    # one) and one or two new keys, so eight rounds end short of n.
    tasks = [task("x", priority=0)] + [task(f"g{g}-{i}", key=f"g{g}")
                                       for g in range(20) for i in range(group)]
    for s in (store, sql):
        await s.submit([workflow(*tasks)], NOW)
    limits = Limits(default_key_limit=1)
    got = await claim(store, n=n, limits=limits)
    assert got == await claim(sql, n=n, limits=limits)
    assert len(got) == expected


@pytest.mark.parametrize("seed", range(40))
async def test_claims_from_a_deep_queue_match_sqlite(store: MemoryStore, sql: SqliteStore,
                                                     seed: int) -> None:
    # Small limits over a deep queue make claims take many rounds, often all eight.
    r = random.Random(seed)
    wfs = [NewWorkflow(name="wf", tenant=r.choice("abc"), priority=2,
                       failure_policy=FailurePolicy.FAIL, idempotency_key=None,
                       tasks=tuple(task(f"t{i}", priority=r.randint(0, 3), rank=r.randint(0, 1),
                                        key=r.choice([None, *"pqrstuvw"]))
                                   for i in range(r.randint(1, 40))))
           for _ in range(r.randint(2, 8))]
    for s in (store, sql):
        await s.submit(wfs, NOW)
    for _ in range(4):
        limits = Limits(per_workflow=r.choice([None, 1, 2]), per_tenant=r.choice([None, 2, 4]),
                        default_key_limit=r.choice([None, 1, 2]), per_key={"p": 1})
        n, owner = r.randint(1, 40), r.choice("AB")
        got = await claim(store, n=n, owner=owner, limits=limits)
        assert got == await claim(sql, n=n, owner=owner, limits=limits)
        ends = [Outcome(task_id=t, attempt=1, state=TaskState.WAITING) for t in got[::2]]
        for s in (store, sql):
            await s.finish(owner, ends, NOW)  # free half the slots again


async def test_workflows_are_admitted_in_chunks_like_sqlite(store: MemoryStore,
                                                            sql: SqliteStore) -> None:
    wfs = [workflow(task("a")) for _ in range(1001)]
    for s in (store, sql):
        await s.submit(wfs, NOW)
        await claim(s, n=0)  # admits a chunk of 1000
        assert await s.count_by_state() == {"waiting": 1000, "pending": 1}
        await claim(s, n=0, now=NOW + 1)
        assert await s.count_by_state() == {"waiting": 1001}
        # A root task is ready from submission, whenever its workflow is admitted.
        assert {(await s.get_task(i)).ready_at for i in range(1, 1002)} == {NOW}


async def test_aging_uses_the_sql_arithmetic(store: MemoryStore, sql: SqliteStore) -> None:
    # 97.077 / 32.359 rounds up to 3.0 while 97.077 // 32.359 is 2.0: the stores and
    # effective_class all use the truncated quotient, so they agree.
    now, aging_s = NOW + 97.077, 32.359
    for s in (store, sql):
        await s.submit([workflow(task("low", priority=3))], NOW)
        await claim(s, n=0)
        assert await s.promote_aged(now, aging_s) == 1
        assert (await s.get_task(1)).effective_priority == 0
    assert effective_class(3, NOW, now, aging_s) == 0


async def test_cancel_lists_running_dependents_by_id_like_sqlite(store: MemoryStore,
                                                                 sql: SqliteStore) -> None:
    # a -> b -> d and a -> c -> e: d and e run when cancelling a.
    wf = workflow(task("a"), task("b", "a"), task("c", "a"), task("d", "b"), task("e", "c"))
    for s in (store, sql):
        await s.submit([wf], NOW)
        for _ in range(2):
            await s.finish("A", [done(t) for t in await claim(s)], NOW)
        assert await claim(s) == [4, 5]
        assert (await s.cancel(now=NOW, reason="x", task_id=1)).stopped_running == [4, 5]


async def test_finish_applies_completions_first_by_id_like_sqlite(store: MemoryStore,
                                                                  sql: SqliteStore) -> None:
    wfs = [workflow(task("a")) for _ in range(4)]
    fail = Outcome(task_id=2, attempt=1, state=TaskState.FAILED, error="x")
    release = Outcome(task_id=3, attempt=1, state=TaskState.WAITING)
    answers = []
    for s in (store, sql):
        await s.submit(wfs, NOW)
        await claim(s)
        changes = await s.finish("A", [fail, done(4), done(2), release, done(1)], NOW)
        answers.append((changes, await s.get_task(2)))
    (changes, task2), sql_answer = answers
    assert (changes, task2) == sql_answer
    assert changes.accepted == [1, 2, 4, 3]  # the failure of task 2 came too late
    assert [w for w, _ in changes.finished_workflows] == [1, 2, 4]
    assert task2.state is TaskState.COMPLETED


# ---------------------------------------------------------------- backoff


async def test_retrying_task_moves_to_ready_when_due(store: MemoryStore) -> None:
    [s] = await store.submit([workflow(task("a"), task("b", key="k"))], NOW)
    a, b = s.task_ids["a"], s.task_ids["b"]
    await claim(store)
    retry = [Outcome(task_id=t, attempt=1, state=TaskState.RETRYING, error="e",
                     not_before=NOW + 5) for t in (a, b)]
    await store.finish("A", retry, NOW)
    assert await claim(store, now=NOW + 4) == []
    await store.set_paused("key:k", True, NOW)
    assert await claim(store, now=NOW + 5) == [a]  # b is due but paused: it stays queued
    await store.set_paused("key:k", False, NOW)
    assert await claim(store, now=NOW + 3) == []  # an earlier clock: b's backoff holds
    batch = await store.claim(ClaimRequest(owner="A", n=5, now=NOW + 5, lease_s=30,
                                           limits=Limits()))
    assert [c.task_id for c in batch.claims] == [b] and batch.next_due is None


# ---------------------------------------------------------------- lifecycle and atomicity


async def test_closed_store_is_unavailable_and_reopening_keeps_state() -> None:
    store = MemoryStore()
    with pytest.raises(StoreUnavailable, match="not open"):
        await store.count_by_state()
    await store.open()
    await store.submit([workflow(task("a"))], NOW)
    await store.close()
    with pytest.raises(StoreUnavailable):
        await claim(store)
    await store.open()
    assert await store.count_by_state() == {"pending": 1}


@pytest.mark.parametrize("broken", [
    workflow(task("a"), task("a")),
    workflow(task("a"), task("b", "a", "a")),
    workflow(task("b", "missing")),
])
async def test_submit_rejects_the_whole_batch(store: MemoryStore, broken: NewWorkflow) -> None:
    with pytest.raises(InvalidWorkflow):
        await store.submit([workflow(task("ok"), key="k"), broken], NOW)
    assert await store.count_by_state() == {}
    [s] = await store.submit([workflow(task("ok"))], NOW)
    assert s.workflow_id == 1 and s.task_ids == {"ok": 1}  # no id was used up


async def test_replayed_key_is_not_checked_as_sqlite_does(store: MemoryStore) -> None:
    subs = await store.submit([workflow(task("a"), key="k"),
                               workflow(task("b", "missing"), key="k")], NOW)
    assert subs[1].workflow_id == subs[0].workflow_id and not subs[1].is_new


async def test_reclaim_that_raises_changes_nothing(store: MemoryStore) -> None:
    await store.submit([workflow(task("a"), task("b"))], NOW)
    await claim(store)
    draws = [0.5]

    def draw() -> float:
        if not draws:
            raise RuntimeError("out of numbers")  # on the second task's draw
        return draws.pop()

    with pytest.raises(RuntimeError, match="out of numbers"):
        await store.reclaim_expired(NOW + 60, draw)
    assert await store.count_by_state() == {"running": 2}


# ---------------------------------------------------------------- differential


RETRIES = [RetryPolicy(max_attempts=1).to_json(), RETRY3,
           RetryPolicy(max_attempts=4, backoff_s=2, jitter=0.5).to_json()]
FEATURES: list[str | None] = [None, None, "f1", "f2", "f3"]
NEEDS = [NO_NEED, NO_NEED, Need(0.5, 0), Need(1.0, 100), Need(0.0, 300), Need(2.0, 0)]
SCOPES = ["global", "tenant:a", "tenant:b", "key:k1", "key:k2"]


@dataclass(frozen=True)
class Profile:
    """What a random run leans to: a short queue claimed as it fills, or a deep one."""

    # submit, claim, finish, heartbeat, cancel, pause, reclaim, promote, advance
    weights: tuple[int, ...]
    max_tasks: int
    dep_odds: float  # that a task depends on a given earlier one
    claim_sizes: tuple[int, ...]
    finish_sizes: tuple[int, ...]  # how many leases one finish call ends
    workflow_caps: tuple[int | None, ...]
    tenant_caps: tuple[int | None, ...]
    unlimited_odds: float  # that a claim has no per-scope limit
    pause_odds: float  # that a pause toggle pauses rather than resumes
    tenants: str
    keys: tuple[str | None, ...]


PROFILES = {
    "mixed": Profile(weights=(12, 25, 25, 4, 3, 4, 6, 4, 15), max_tasks=5, dep_odds=0.35,
                     claim_sizes=(0, 1, 2, 3, 5, 8), finish_sizes=(1, 2, 3, 4),
                     workflow_caps=(None, None, 1, 2, 4), tenant_caps=(None, None, 1, 3),
                     unlimited_odds=0.4, pause_odds=0.5, tenants="abc",
                     keys=(None, None, "k1", "k2", "k3")),
    # Many ready tasks in few scopes, claimed in big batches under limits: this is
    # where SQLite's rounds of LIMIT n scans and their eight-round cap show.
    "crowded": Profile(weights=(25, 20, 25, 2, 2, 2, 3, 4, 6), max_tasks=10, dep_odds=0.1,
                       claim_sizes=(1, 3, 6, 12, 25), finish_sizes=(5, 40), workflow_caps=(None,),
                       tenant_caps=(None,), unlimited_odds=0.4, pause_odds=0.2, tenants="abc",
                       keys=(None, "k1", "k2", "k3", "k4", "k5", "k6")),
    # A deep queue, big claims that fill scopes as they go, and finishes that drain
    # the running tasks: claims that take several rounds, up to the cap of eight.
    "storm": Profile(weights=(30, 30, 30, 0, 1, 1, 0, 1, 5), max_tasks=12, dep_odds=0.02,
                     claim_sizes=(8, 16, 40), finish_sizes=(60,), workflow_caps=(None,),
                     tenant_caps=(None, 2, 5), unlimited_odds=0.1, pause_odds=0.2,
                     tenants="abcdef", keys=(None, "k1", "k2", "k3", "k4", "k5", "k6")),
}


@dataclass
class Run:
    """Applies one random operation to both stores and compares the answers."""

    rng: random.Random
    stores: tuple[Store, Store]
    profile: Profile
    now: float = NOW
    leases: list[tuple[str, int, int]] = field(default_factory=list)
    workflows: int = 0
    tasks: int = 0
    log: list[str] = field(default_factory=list)

    async def both(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.log.append(f"{method}{args}{kwargs}"[:300])
        answers = []
        for store in self.stores:
            try:
                answers.append(await getattr(store, method)(*args, **kwargs))
            except Exception as exc:
                answers.append(exc)
        mem, sql = answers
        if isinstance(mem, Exception) or isinstance(sql, Exception):
            # Bad submissions fail differently (InvalidWorkflow vs KeyError); both must fail.
            assert isinstance(mem, Exception) and isinstance(sql, Exception), self.trail()
            if method != "submit":
                assert type(mem) is type(sql), self.trail()
            return None
        assert mem == sql, self.trail()
        return mem

    def trail(self) -> str:
        return "\n".join(self.log[-8:])

    async def step(self) -> None:
        op = self.rng.choices(
            [self.submit, self.claim, self.finish, self.heartbeat, self.cancel, self.pause,
             self.reclaim, self.promote, self.advance, self.expire],
            weights=(*self.profile.weights, 2))[0]
        await op()

    async def submit(self) -> None:
        wfs = [self.random_workflow() for _ in range(self.rng.randint(1, 3))]
        if self.rng.random() < 0.05:
            wfs.insert(self.rng.randrange(len(wfs) + 1), workflow(task("x", "missing")))
        subs = await self.both("submit", wfs, self.now)
        if subs:
            self.workflows = max([self.workflows, *(s.workflow_id for s in subs)])
            self.tasks = max([self.tasks, *(i for s in subs for i in s.task_ids.values())])

    def random_workflow(self) -> NewWorkflow:
        r, p = self.rng, self.profile
        tasks = [NewTask(local_id=f"t{i}", name=r.choice("ab"), args_json=f'{{"i": {i}}}',
                         deps=tuple(f"t{j}" for j in range(i) if r.random() < p.dep_odds),
                         priority=r.randint(0, 3), rank=r.randint(0, 2),
                         key=r.choice(p.keys),
                         timeout_s=r.choice([None, 5.0]), retry_json=r.choice(RETRIES),
                         feature=r.choice(FEATURES), need=r.choice(NEEDS))
                 for i in range(0 if r.random() < 0.02 else r.randint(1, p.max_tasks))]
        if r.random() < 0.2:
            r.shuffle(tasks)  # dependencies named before they are defined
        return NewWorkflow(name="wf", tenant=r.choice(p.tenants), priority=r.randint(0, 3),
                           failure_policy=r.choice(list(FailurePolicy)), tasks=tuple(tasks),
                           idempotency_key=r.choice([None, None, None, "i1", "i2", "i3"]))

    async def claim(self) -> None:
        r = self.rng
        owner = r.choice("AB")
        request = ClaimRequest(owner=owner, n=r.choice(self.profile.claim_sizes), now=self.now,
                               lease_s=r.choice([5.0, 10.0, 30.0]), limits=self.random_limits(),
                               admission=self.random_admission())
        batch = await self.both("claim", request)
        if batch:
            self.leases += [(owner, c.task_id, c.attempt) for c in batch.claims]
            del self.leases[:-80]

    def random_admission(self) -> Admission | None:
        """Sometimes none, sometimes open, sometimes a class cut, switches and a budget."""
        r = self.rng
        if r.random() < 0.4:
            return r.choice([None, OPEN])
        return Admission(max_priority=r.choice([-1, 0, 1, 2, 3]),
                         features_off=frozenset(r.sample(["f1", "f2", "f3"], r.randint(0, 2))),
                         essential=frozenset(r.sample(["f1", "f2"], r.randint(0, 1))),
                         cpu_free=r.choice([None, 0.0, 0.5, 1.0, 3.0]),
                         memory_free=r.choice([None, 0, 100, 400]))

    def random_limits(self) -> Limits:
        r, caps = self.rng, self.profile.workflow_caps
        if r.random() < self.profile.unlimited_odds:
            return Limits(max_running_workflows=r.choice(caps))
        return Limits(max_running_workflows=r.choice(caps),
                      per_workflow=r.choice([None, None, 1, 2]),
                      per_tenant=r.choice(self.profile.tenant_caps),
                      per_key=r.choice([{}, {}, {"k1": 1}, {"k1": 2, "k2": 1}]),
                      default_key_limit=r.choice([None, None, 1, 2]))

    async def finish(self) -> None:
        r = self.rng
        if not self.leases:
            return
        picks = r.sample(self.leases, min(len(self.leases), r.choice(self.profile.finish_sizes)))
        owner = picks[0][0] if r.random() < 0.9 else r.choice("AB")  # sometimes not the holder
        outcomes = [self.random_outcome(tid, attempt if r.random() < 0.9 else attempt + 1)
                    for _, tid, attempt in picks]
        if r.random() < 0.1:
            outcomes.append(self.random_outcome(self.tasks + 7, 1))  # an unknown task
        await self.both("finish", owner, outcomes, self.now)

    def random_outcome(self, tid: int, attempt: int) -> Outcome:
        r = self.rng
        # CANCELLED is no outcome an engine sends; both stores must still agree on it.
        state = r.choices([TaskState.COMPLETED, TaskState.RETRYING, TaskState.FAILED,
                           TaskState.WAITING, TaskState.CANCELLED], weights=[60, 15, 10, 10, 1])[0]
        not_before = r.choice([None, self.now, self.now + 1, self.now + 7.5])
        return Outcome(task_id=tid, attempt=attempt, state=state, result_json=f'"r{tid}"',
                       error=f"e{tid}", traceback=r.choice([None, "tb"]), not_before=not_before)

    async def heartbeat(self) -> None:
        ids = [tid for _, tid, _ in self.rng.sample(self.leases, min(3, len(self.leases)))]
        await self.both("heartbeat", self.rng.choice("AB"), [*ids, self.tasks + 3], self.now,
                        self.rng.choice([5.0, 20.0]))

    async def cancel(self) -> None:
        r, kind = self.rng, self.rng.random()
        if kind < 0.02:
            await self.both("cancel", now=self.now, reason="all")
        elif kind < 0.5:
            await self.both("cancel", now=self.now, reason="wf",
                            workflow_id=r.randint(1, self.workflows + 1))
        else:
            await self.both("cancel", now=self.now, reason="task",
                            task_id=r.randint(1, self.tasks + 1))

    async def pause(self) -> None:
        scope = self.rng.choice([*SCOPES, f"workflow:{self.rng.randint(1, self.workflows + 1)}"])
        is_paused = self.rng.random() < self.profile.pause_odds * (0.6 if scope == "global" else 1)
        await self.both("set_paused", scope, is_paused, self.now)

    async def reclaim(self) -> None:
        seed = self.rng.random()
        draws = [random.Random(seed).random for _ in self.stores]  # the same numbers for both
        self.log.append(f"reclaim_expired({self.now})")
        mem, sql = [await store.reclaim_expired(self.now, draw)
                    for store, draw in zip(self.stores, draws, strict=True)]
        assert mem == sql, self.trail()
        assert draws[0]() == draws[1](), self.trail()  # both drew as many numbers

    async def expire(self) -> None:
        feature = self.rng.choice(["f1", "f2", "f3"])
        await self.both("expire_waits", feature, self.now - self.rng.choice([0.0, 2.0, 10.0]),
                        f"feature {feature!r} stayed off", self.now)

    async def promote(self) -> None:
        # Steps like 0.1 and 0.7 make float quotients land just beside whole numbers.
        await self.both("promote_aged", self.now, self.rng.choice([0.1, 0.7, 3.0, 7.5, 20.0]))

    async def advance(self) -> None:
        # Now and then the clock goes back, as a wall clock may between engines.
        self.now += self.rng.choice([-3.0, *[0.1, 0.3, 0.5, 1.0, 2.0, 5.0, 11.0] * 3])

    async def compare_everything(self) -> None:
        for method in ("count_by_state", "running_counts", "paused_scopes"):
            await self.both(method)
        for wid in range(1, self.workflows + 2):
            await self.both("get_workflow", wid)
            await self.both("list_tasks", wid)
        await self.both("get_task", self.tasks + 1)
        mem = self.stores[0]
        assert isinstance(mem, MemoryStore)
        counts = await mem.count_by_state()
        queued = counts.get("waiting", 0) + counts.get("retrying", 0)
        assert len(mem._tables.queued()) == queued  # one live queue entry per ready task


@pytest.mark.parametrize(("profile", "seed"), [*(("mixed", i) for i in range(30)),
                                               *(("crowded", i) for i in range(15)),
                                               *(("storm", i) for i in range(15))])
async def test_memory_store_matches_sqlite_store(profile: str, seed: int) -> None:
    mem, sql = MemoryStore(), SqliteStore(":memory:")
    await mem.open()
    await sql.open()
    try:
        run = Run(random.Random(seed), (mem, sql), PROFILES[profile])
        for i in range(300):
            await run.step()
            if i % 25 == 24:
                await run.compare_everything()
        await run.compare_everything()
    finally:
        await sql.close()
        await mem.close()
