"""Crash tests (R1, R5, R7): real worker processes killed, stopped and terminated.

Each worker is ``crash_worker.py`` serving one SQLite file. Its handlers log every
execution start and end to a file of their own (see that module), so the history the
test checks comes from outside zerogate: the store says what was recorded, the log
what really ran, and the two must agree.

``ZEROGATE_CRASH_TASKS`` (default 2,000) sets the size of the kill test and
``ZEROGATE_CRASH_KILLS`` (default: 20, or one per 100 tasks) the number of SIGKILLs;
``ZEROGATE_CRASH_SEED`` fixes the workflows and kill points of a run (printed on failure).
A long local run: ``ZEROGATE_CRASH_TASKS=10000 pytest tests/integration/test_crash.py``.

``time.sleep`` appears only as the random point at which a worker is killed (and as a
few ms between two tries of a SIGSTOP); everything else waits for a process, a pipe,
or polls the store with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.crash_worker import REGISTRY, parse_log, step, step_sync
from zerogate import SqliteStore, TaskState, Workflow, WorkflowState
from zerogate.domain.records import TaskRecord

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("crash_worker.py")
LEASE_S = 1.0
SWEEP_S = 0.2
SLACK_S = 0.5  # scheduling noise allowed on top of a timing promise
POLL_S = 0.025
TASKS = int(os.environ.get("ZEROGATE_CRASH_TASKS", "2000"))
KILLS = int(os.environ.get("ZEROGATE_CRASH_KILLS", str(max(20, TASKS // 100))))
SEED = int(os.environ.get("ZEROGATE_CRASH_SEED", str(random.randrange(2**32))))


# ---------------------------------------------------------------- worker processes


@dataclass
class Worker:
    owner: str
    proc: subprocess.Popen[str]
    ready_at: float  # wall-clock time at which it said it was claiming


class Workers:
    """Starts worker processes and guarantees that none outlives the test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = tmp / "crash.db"
        self.log = tmp / "executions.log"
        self.log.touch()
        self.started: list[Worker] = []

    def start(self, owner: str, *, grace_s: float = 5.0, max_running: int = 32) -> Worker:
        with open(self.tmp / f"{owner}.stderr", "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.db), str(self.log), "--owner", owner,
                 "--lease", str(LEASE_S), "--sweep", str(SWEEP_S), "--grace", str(grace_s),
                 "--max-running", str(max_running)],
                stdout=subprocess.PIPE, stderr=err, text=True)
        worker = Worker(owner, proc, ready_at=0.0)
        self.started.append(worker)
        self._wait_ready(worker, timeout_s=20.0)
        return worker

    def _wait_ready(self, worker: Worker, timeout_s: float) -> None:
        assert worker.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(worker.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(deadline - time.monotonic()):
                    continue
                line = worker.proc.stdout.readline()
                if line == "ready\n":
                    worker.ready_at = time.time()
                    return
                if not line:
                    pytest.fail(f"worker {worker.owner} exited with {worker.proc.wait()} "
                                f"before it was ready:\n{self.stderr(worker)}")
        pytest.fail(f"worker {worker.owner} was not ready within {timeout_s} s:\n"
                    f"{self.stderr(worker)}")

    def kill(self, worker: Worker) -> None:
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait()

    def terminate(self, worker: Worker, *, within_s: float) -> tuple[int, float]:
        """SIGTERM the worker; return its exit code and how long it took to exit."""
        began = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        try:
            code = worker.proc.wait(timeout=within_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {worker.owner} did not exit within {within_s} s of "
                        f"SIGTERM:\n{self.stderr(worker)}")
        return code, time.monotonic() - began

    def stop(self, worker: Worker) -> None:
        """SIGSTOP the worker at a moment it holds no write lock on the store.

        A process stopped inside a SQLite write transaction keeps the file locked
        for every other process, which no lease can fix: that is SQLite, not the
        engine under test, so retry the stop until it lands between transactions.
        """
        for _ in range(100):
            worker.proc.send_signal(signal.SIGSTOP)
            os.waitpid(worker.proc.pid, os.WUNTRACED)  # returns once it is stopped
            if not _write_locked(self.db):
                return
            worker.proc.send_signal(signal.SIGCONT)
            time.sleep(0.005)  # let the transaction in flight commit
        pytest.fail(f"worker {worker.owner} always held the store's write lock")

    def stderr(self, worker: Worker) -> str:
        text = (self.tmp / f"{worker.owner}.stderr").read_text(errors="replace")
        return text[-4000:] or "(no stderr)"

    def executions(self) -> list[tuple[str, int, int, str, float]]:
        return parse_log(self.log.read_text())

    def close(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.kill()  # SIGKILL ends a stopped process too
                worker.proc.wait()
            if worker.proc.stdout is not None:
                worker.proc.stdout.close()


def _write_locked(db: Path) -> bool:
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        con.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    group = Workers(tmp_path)
    try:
        yield group
    finally:
        group.close()


# ---------------------------------------------------------------- store helpers


async def open_store(db: Path) -> SqliteStore:
    store = SqliteStore(db)
    await store.open()
    return store


async def submit(store: SqliteStore, workflows: list[Workflow]) -> list[int]:
    """Submit in batches; return the workflow ids."""
    ids: list[int] = []
    for i in range(0, len(workflows), 200):
        batch = [REGISTRY.prepare(w.spec()) for w in workflows[i:i + 200]]
        ids += [s.workflow_id for s in await store.submit(batch, time.time())]
    return ids


async def all_tasks(store: SqliteStore, workflow_ids: list[int]) -> list[TaskRecord]:
    return [t for wid in workflow_ids for t in await store.list_tasks(wid)]


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout_s: float,
                     what: str, diagnose: Callable[[], Awaitable[object]] | None = None) -> None:
    """Poll ``check`` every POLL_S until it holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            detail = await diagnose() if diagnose else ""
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}. {detail}")
        await asyncio.sleep(POLL_S)


def all_terminal(store: SqliteStore) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        counts = await store.count_by_state()
        return all(TaskState(s).is_terminal for s in counts)
    return check


def singles(n: int, ms: int) -> list[Workflow]:
    """``n`` one-task workflows, alternating async and thread handlers."""
    out = []
    for i in range(n):
        wf = Workflow(f"single-{i}")
        wf.add(step if i % 2 else step_sync, {"ms": ms})
        out.append(wf)
    return out


def random_workflows(rng: random.Random, n_tasks: int) -> list[Workflow]:
    """Singles, chains, diamonds and fan-ins, until ``n_tasks`` tasks in all."""
    out: list[Workflow] = []
    total = 0
    while total < n_tasks:
        wf = Workflow(f"mix-{len(out)}")

        def add(after: tuple[str, ...] = (), wf: Workflow = wf) -> str:
            handler = step if rng.random() < 0.7 else step_sync
            return wf.add(handler, {"ms": rng.randint(10, 150)}, after=after)

        shape = rng.choice(("single", "chain", "diamond", "fan-in"))
        if shape == "single":
            add()
        elif shape == "chain":
            last = add()
            for _ in range(rng.randint(2, 4)):
                last = add((last,))
        elif shape == "diamond":
            top = add()
            add((add((top,)), add((top,))))
        else:
            add(tuple(add() for _ in range(rng.randint(2, 4))))
        total += len(wf.spec().tasks)
        out.append(wf)
    return out


# ---------------------------------------------------------------- history checks


@dataclass
class History:
    """The execution log, indexed: positions give the order in which things happened."""

    starts: dict[int, list[tuple[int, int, str]]]  # task -> [(position, attempt, owner)]
    ends: dict[tuple[int, int], list[tuple[int, str]]]  # (task, attempt) -> [(position, owner)]
    start_times: list[float]

    @classmethod
    def read(cls, workers: Workers) -> History:
        starts: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        ends: dict[tuple[int, int], list[tuple[int, str]]] = defaultdict(list)
        start_times = []
        for pos, (kind, task_id, attempt, owner, at) in enumerate(workers.executions()):
            if kind == "start":
                starts[task_id].append((pos, attempt, owner))
                start_times.append(at)
            else:
                ends[task_id, attempt].append((pos, owner))
        return cls(starts, ends, start_times)


def violations(tasks: list[TaskRecord], history: History) -> list[str]:
    """Every broken promise of at-least-once execution with fenced, exactly-once records."""
    found: list[str] = []
    by_local = {(t.workflow_id, t.local_id): t for t in tasks}
    for t in tasks:
        name = f"task {t.task_id} ({t.local_id} of workflow {t.workflow_id})"
        if t.state is not TaskState.COMPLETED:
            found.append(f"{name} lost: {t.state} after {t.attempt} attempts, error {t.error!r}")
            continue
        runs = history.starts.get(t.task_id, [])
        attempts = [a for _, a, _ in runs]
        result = json.loads(t.result_json or "null")
        ended = history.ends.get((t.task_id, t.attempt), [])
        if not runs:
            found.append(f"{name} is completed but never started")
            continue
        if len(attempts) != len(set(attempts)):
            found.append(f"{name}: an attempt number was started twice: {attempts}")
        if max(attempts) > t.attempt:
            found.append(f"{name} ran again (attempts {attempts}) after attempt {t.attempt} "
                         "completed")
        if t.failures != t.attempt - 1:
            found.append(f"{name} was claimed {t.attempt} times but only {t.failures} "
                         "leases expired: a re-run without a lease expiry")
        if not isinstance(result, dict) or result.get("attempt") != t.attempt:
            found.append(f"{name}: stored result {result} is not from the stored attempt "
                         f"{t.attempt}: a stale or duplicate completion")
        elif len(ended) != 1 or ended[0][1] != result.get("owner"):
            found.append(f"{name}: the completed attempt {t.attempt} ended {ended} in the "
                         f"log, but the store says it ended at {result.get('owner')}")
        first_start = runs[0][0]
        for dep in t.deps:
            parent = by_local[t.workflow_id, dep]
            parent_end = history.ends.get((parent.task_id, parent.attempt), [])
            if not parent_end or first_start < parent_end[0][0]:
                found.append(f"{name} started before its dependency {dep!r} ended its "
                             "completing attempt")
            if isinstance(result, dict) and result.get("deps", {}).get(dep) != parent.attempt:
                found.append(f"{name} got {dep!r}'s result of attempt "
                             f"{result.get('deps', {}).get(dep)}, not the recorded attempt "
                             f"{parent.attempt}")
    return found


def assert_no_violations(found: list[str], context: str) -> None:
    shown = "\n".join(found[:25])
    more = f"\n... and {len(found) - 25} more" if len(found) > 25 else ""
    assert not found, f"{len(found)} violations ({context}):\n{shown}{more}"


async def assert_workflows_completed(store: SqliteStore, workflow_ids: list[int]) -> None:
    for wid in workflow_ids:
        record = await store.get_workflow(wid)
        assert (record.state, record.open_tasks) == (WorkflowState.COMPLETED, 0), (
            f"workflow {wid} is {record.state} with {record.open_tasks} open tasks")


def assert_store_intact(db: Path) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()


# ---------------------------------------------------------------- R1: SIGKILL


async def test_repeated_sigkill_loses_nothing_and_records_each_completion_once(
        workers: Workers) -> None:
    rng = random.Random(SEED)
    context = f"seed {SEED}, {TASKS} tasks, {KILLS} kills; reproduce with ZEROGATE_CRASH_SEED"
    store = await open_store(workers.db)
    try:
        workflow_ids = await submit(store, random_workflows(rng, TASKS))
        for i in range(KILLS):
            worker = workers.start(f"killed-{i}")
            time.sleep(rng.uniform(0.05, 0.4))  # the random point of the kill
            workers.kill(worker)

        # Leases left behind by the dead must be reclaimed within the lease plus a sweep.
        orphans = [t for t in await all_tasks(store, workflow_ids)
                   if t.state is TaskState.RUNNING]
        final = workers.start("final")
        late = await _watch_orphans(store, orphans, final)
        assert not late, f"orphaned leases reclaimed late ({context}): {late[:10]}"
        await wait_until(all_terminal(store), timeout_s=60 + TASKS / 100,
                         what="every task to finish", diagnose=store.count_by_state)
        code, _ = workers.terminate(final, within_s=10)
        assert code == 0, workers.stderr(final)

        tasks = await all_tasks(store, workflow_ids)
        history = History.read(workers)
        assert len(tasks) >= TASKS
        assert await store.count_by_state() == {"completed": len(tasks)}
        assert_no_violations(violations(tasks, history), context)
        await assert_workflows_completed(store, workflow_ids)
        reruns = sum(t.failures for t in tasks)
        assert reruns > 0, f"no kill interrupted a running task ({context})"
        print(f"\n{len(tasks)} tasks, {KILLS} kills, {len(orphans)} orphans at the end, "
              f"{reruns} attempts ended by a lease expiry, {context}")
    finally:
        await store.close()
    assert_store_intact(workers.db)


async def _watch_orphans(store: SqliteStore, orphans: list[TaskRecord],
                         worker: Worker) -> list[str]:
    """Poll until every orphaned lease is reclaimed; list those reclaimed too late."""
    pending = {t.task_id: t for t in orphans}
    late = []
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for task_id, old in list(pending.items()):
            now = await store.get_task(task_id)
            if (now.state, now.owner, now.attempt) == (old.state, old.owner, old.attempt):
                continue
            del pending[task_id]
            due = max(old.lease_until or 0.0, worker.ready_at) + SWEEP_S + SLACK_S
            if time.time() > due:
                late.append(f"task {task_id} of {old.owner}: lease until {old.lease_until}, "
                            f"reclaimed {time.time() - due + SLACK_S:.2f} s after due")
        await asyncio.sleep(POLL_S)
    return late + [f"task {t} never reclaimed" for t in pending]


# ---------------------------------------------------------------- R7: SIGTERM


@pytest.mark.parametrize(("task_ms", "grace_s"), [(300, 5.0), (1000, 0.2)],
                         ids=["tasks-finish-within-grace", "leases-released-after-grace"])
async def test_sigterm_finishes_or_releases_running_tasks(workers: Workers, task_ms: int,
                                                          grace_s: float) -> None:
    store = await open_store(workers.db)
    try:
        workflow_ids = await submit(store, singles(48, task_ms))
        worker = workers.start("terminated", grace_s=grace_s, max_running=16)

        async def slots_full() -> bool:
            return (await store.count_by_state()).get("running", 0) >= 16
        await wait_until(slots_full, timeout_s=10, what="16 running tasks")
        term_at = time.time()
        code, took = workers.terminate(worker, within_s=grace_s + 2)
        assert code == 0, workers.stderr(worker)
        assert took <= grace_s + 2

        tasks = await all_tasks(store, workflow_ids)
        history = History.read(workers)
        states = {t.task_id: t.state for t in tasks}
        assert set(states.values()) <= {TaskState.COMPLETED, TaskState.WAITING}, states
        assert all(t.failures == 0 for t in tasks), "a lease expired or an attempt failed"
        late_starts = [at for at in history.start_times if at > term_at + 1.0]
        assert not late_starts, "tasks were still starting more than 1 s after SIGTERM"
        started = set(history.starts)
        released = [t for t in tasks if t.state is TaskState.WAITING and t.attempt > 0]
        assert {t.task_id for t in released} <= started
        if task_ms / 1000 < grace_s:
            assert not released, "tasks that could finish within the grace were released"
        else:
            assert released, "no running task was released at the end of the grace"

        # Nothing is lost: a new worker finishes everything, released tasks included.
        after = workers.start("after")
        await wait_until(all_terminal(store), timeout_s=30, what="every task to finish",
                         diagnose=store.count_by_state)
        code, _ = workers.terminate(after, within_s=grace_s + 2)
        assert code == 0, workers.stderr(after)
        tasks = await all_tasks(store, workflow_ids)
        for t in tasks:
            assert t.state is TaskState.COMPLETED and t.failures == 0, t
            assert json.loads(t.result_json or "{}")["attempt"] == t.attempt, t
    finally:
        await store.close()


# ---------------------------------------------------------------- R5: SIGSTOP


async def test_worker_stopped_past_its_lease_cannot_record_stale_completions(
        workers: Workers) -> None:
    store = await open_store(workers.db)
    try:
        workflow_ids = await submit(store, singles(24, 1500))
        zombie = workers.start("zombie")

        async def all_started() -> bool:
            return len(History.read(workers).starts) == 24
        await wait_until(all_started, timeout_s=10, what="the zombie to start 24 tasks")
        workers.stop(zombie)
        stopped_at = time.monotonic()

        rescuer = workers.start("rescuer")
        await wait_until(all_terminal(store), timeout_s=30,
                         what="the rescuer to reclaim and finish every task",
                         diagnose=store.count_by_state)
        assert time.monotonic() - stopped_at > LEASE_S + SWEEP_S

        # Wake the zombie: its blocking tasks (in threads) always run to their end and
        # it then tries to record them.
        zombie.proc.send_signal(signal.SIGCONT)

        async def zombie_ended() -> bool:
            ends = [k for k, v in History.read(workers).ends.items()
                    if any(owner == "zombie" for _, owner in v)]
            return len(ends) >= 12
        await wait_until(zombie_ended, timeout_s=10, what="the zombie's late ends")
        for worker in (zombie, rescuer):  # a clean exit flushes every pending write
            code, _ = workers.terminate(worker, within_s=7)
            assert code == 0, workers.stderr(worker)

        tasks = await all_tasks(store, workflow_ids)
        history = History.read(workers)
        assert_no_violations(violations(tasks, history), "zombie test")
        for t in tasks:
            result = json.loads(t.result_json or "{}")
            assert (t.attempt, t.failures, result["owner"]) == (2, 1, "rescuer"), t
            zombie_ends = [(a, o) for (tid, a), ends in history.ends.items() if tid == t.task_id
                           for _, o in ends if o == "zombie"]
            assert all(a != t.attempt for a, _ in zombie_ends), zombie_ends
        await assert_workflows_completed(store, workflow_ids)
    finally:
        await store.close()
