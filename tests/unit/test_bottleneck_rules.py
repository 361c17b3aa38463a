"""Bottleneck rules as pure functions, and the book that opens and resolves findings."""

from __future__ import annotations

from zerogate.domain.bottlenecks import (
    Baseline,
    BottleneckRules,
    Finding,
    FindingBook,
    KeyLoad,
    ResourceLoad,
    Severity,
    StageLoad,
    TaskWindow,
    key_finding,
    resource_finding,
    stage_finding,
    task_findings,
)
from zerogate.domain.critical_path import StepTimes, critical_path

RULES = BottleneckRules()


def window(**kw: object) -> TaskWindow:
    base: dict[str, object] = dict(task="parse", attempts=40, failures=0, run_p50_s=0.1,
                                   run_p95_s=0.12, wait_p50_s=0.01, done_per_s=20.0)
    base.update(kw)
    return TaskWindow(**base)  # type: ignore[arg-type]


def learned(p50: float = 0.1, rate: float = 0.0) -> Baseline:
    b = Baseline()
    for _ in range(5):
        b.learn(window(run_p50_s=p50, failures=int(rate * 40)))
    return b


def test_a_normal_window_finds_nothing() -> None:
    assert task_findings(window(), learned(), RULES) == []


def test_slowdown_against_its_own_baseline_is_named_with_numbers() -> None:
    (f,) = task_findings(window(run_p50_s=0.5, run_p95_s=0.6), learned(0.1), RULES)
    assert (f.kind, f.subject) == ("task", "parse:latency")
    assert f.severity is Severity.HIGH  # 5x: at least 4x
    assert "5.0x" in f.summary and "100 ms" in f.summary
    assert f.evidence["ratio"] == 5.0


def test_no_slowdown_before_a_baseline_exists_or_on_timer_noise() -> None:
    assert task_findings(window(run_p50_s=0.5), Baseline(), RULES) == []
    tiny = learned(0.0001)
    assert task_findings(window(run_p50_s=0.0004), tiny, RULES) == []  # 0.3 ms growth


def test_too_few_attempts_are_not_judged() -> None:
    assert task_findings(window(attempts=3, run_p50_s=5.0), learned(), RULES) == []


def test_failures_risen_name_the_latest_error() -> None:
    (f,) = task_findings(window(failures=24, last_error="ValueError: bad row"), learned(),
                         RULES)
    assert f.subject == "parse:failures" and f.severity is Severity.HIGH
    assert "60%" in f.summary and "ValueError: bad row" in f.summary


def test_waiting_far_longer_than_running() -> None:
    (f,) = task_findings(window(wait_p50_s=12.0), learned(), RULES)
    assert f.subject == "parse:waiting" and "120x" in f.summary
    assert task_findings(window(wait_p50_s=0.6), learned(), RULES) == []  # under a second


def test_key_at_its_limit_with_a_growing_queue_gets_littles_law() -> None:
    load = KeyLoad(key="api", limit=2, running=2, queued=140, queued_before=100, span_s=4.0,
                   done_per_s=20.0, service_s=0.1)
    f = key_finding(load, RULES)
    assert f is not None and f.kind == "key" and f.subject == "api"
    # arrivals 20 + 10 = 30/s x 0.1 s = 3 busy slots; the backlog adds 140 x 0.1 / 60
    assert f.evidence["arrival_per_s"] == 30.0
    assert f.evidence["recommended_limit"] == 4
    assert "from 2 to 4" in f.recommendation


def test_key_below_its_limit_or_shrinking_queue_is_fine() -> None:
    base = dict(key="api", limit=2, queued=10, queued_before=10, span_s=4.0, done_per_s=20.0,
                service_s=0.1)
    assert key_finding(KeyLoad(running=1, **base), RULES) is None  # type: ignore[arg-type]
    shrinking = dict(base, queued_before=30)
    assert key_finding(KeyLoad(running=2, **shrinking), RULES) is None  # type: ignore[arg-type]


def test_resource_finding_needs_held_work_and_says_how_much_memory() -> None:
    load = ResourceLoad(resource="memory", tier=3, value=0.95, exit_value=0.85,
                        reason="memory at 95%", ready=12, capacity=8 * 2**30,
                        holders=[("excel", 0.8), ("parse", 0.2)], is_memory_critical=True)
    f = resource_finding(load)
    assert f is not None and f.severity is Severity.CRITICAL and f.subject == "memory"
    assert "excel 80%" in f.summary and "'excel'" in f.recommendation
    assert "963.8 MiB" in f.recommendation  # 8 GiB x (0.95 / 0.85 - 1)
    idle = ResourceLoad(resource="memory", tier=3, value=0.95, exit_value=0.85, reason="x",
                        ready=0, capacity=1.0)
    assert resource_finding(idle) is None


def test_stage_dominating_the_critical_path() -> None:
    s = StageLoad(workflow="essay", step="parse", runs=5, share=0.8, run_s=4.0, wait_s=0.1,
                  makespan_s=5.0, path_steps=3)
    f = stage_finding(s, RULES)
    assert f is not None and f.subject == "essay/parse" and f.severity is Severity.MEDIUM
    assert "80%" in f.summary and "3.0 s" in f.recommendation  # 5 - 4 / 2
    balanced = StageLoad(workflow="essay", step="parse", runs=5, share=0.34, run_s=1.0,
                         wait_s=0.0, makespan_s=3.0, path_steps=3)
    assert stage_finding(balanced, RULES) is None


def test_critical_path_follows_the_dependency_that_finished_last() -> None:
    steps = [StepTimes(step="a", deps=(), started_at=0.0, finished_at=1.0),
             StepTimes(step="b", deps=("a",), started_at=1.5, finished_at=9.0),
             StepTimes(step="c", deps=("a",), started_at=1.0, finished_at=2.0),
             StepTimes(step="d", deps=("b", "c"), started_at=9.0, finished_at=10.0)]
    path = critical_path(steps, run_started=0.0)
    assert [p.step for p in path] == ["a", "b", "d"]
    assert path[1].wait_s == 0.5 and path[1].run_s == 7.5
    assert critical_path([StepTimes(step="x", deps=(), started_at=None, finished_at=None)],
                         0.0) == []


def finding(subject: str) -> Finding:
    return Finding(kind="task", subject=subject, severity=Severity.LOW, summary="s",
                   recommendation="r")


def test_book_opens_once_and_resolves_after_two_misses() -> None:
    book = FindingBook(clear_after=2)
    assert [t.finding.subject for t in book.update([finding("a")], 1.0)] == ["a"]
    assert book.update([finding("a")], 2.0) == []
    assert book.update([], 3.0) == []  # one miss: still active
    assert book.is_active("task", "a")
    assert book.update([finding("a")], 4.0) == []  # back before clearing: same episode
    assert book.active[("task", "a")].first_seen == 1.0
    book.update([], 5.0)
    (done,) = book.update([], 6.0)
    assert done.resolved_at == 6.0 and not book.is_active("task", "a")
    assert list(book.resolved) == [done]
