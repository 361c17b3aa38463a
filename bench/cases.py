"""The cases, their sizes and targets (from the issue; 2-core machine)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import zg_work
from bench.report import MISSED, PEER, UNAVAILABLE, Check, Row, describe, verdict
from bench.runner import Series, measure, run_child

Say = Callable[[str], None]


@dataclass
class Context:
    """Options of this run, and figures one case hands to a later one."""

    quick: bool
    repeat: int
    million_repeat: int
    profile: bool
    results: Path
    say: Say
    stamp: str  # this run's timestamp, written into profiles
    noop: Series | None = None  # zerogate's durable_noop runs, for `million`
    profiles: list[Path] = field(default_factory=list)

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def measure(self, workload: str, size: int, repeat: int | None = None) -> Series:
        n = repeat or self.repeat
        self.say(f"  {workload} x{size:,} ({n} run{'s' * (n > 1)})")
        return measure(workload, size, n)

    def judge(self, case: str, series: Series, checks: list[Check]) -> str:
        """The verdict; a zerogate miss is run once more under cProfile."""
        status = verdict(checks)
        if status == MISSED and self.profile:
            try:
                self.profile_run(case, series)
            except Exception as exc:  # the figures matter more than their profile
                self.say(f"  profiling {series.workload} failed: {exc}")
        return status

    def profile_run(self, case: str, series: Series) -> None:
        path = self.results / f"profile-{case}.txt"
        self.say(f"  MISSED: profiling {series.workload} into {path}")
        part = path.with_suffix(f".{series.workload}.part")
        run_child(series.workload, series.size, profile=part)
        text = f"######## {series.workload} x{series.size:,}, run {self.stamp}\n{part.read_text()}"
        part.unlink()
        mode = "a" if path in self.profiles else "w"
        with path.open(mode) as out:
            out.write(text)
        self.profiles.append(path)


def zg_row(case: str, store: str, series: Series, status: str, checks: list[Check],
           **fields: object) -> Row:
    row = Row(case=case, engine="zerogate", store=store, status=status,
              detail=describe(checks), checks=[c._asdict() for c in checks])
    return fill(row, series, **fields)


def peer_row(case: str, series: Series, **fields: object) -> Row:
    """Huey's figures; no RSS, as the driver process is not where Huey works."""
    row = fill(Row(case=case, engine="huey", store="sqlite", status=PEER,
                   detail="Huey consumer, 2 worker processes"), series, rss_mb=None, **fields)
    for run in row.extra["runs"]:
        run.pop("rss_mb", None)
    return row


def fill(row: Row, series: Series, **fields: object) -> Row:
    row.tasks, row.repeat, row.rss_mb = series.tasks, len(series.runs), series.rss_mb
    if "seconds" in series.runs[0]:
        row.seconds, row.tasks_per_s = series.seconds, series.tasks_per_s
        row.runs_seconds = series.all_seconds()
    if "cpu_seconds" in series.runs[0]:
        row.extra["tasks_per_cpu_s"] = series.tasks_per_cpu_s
    if "latencies_s" in series.runs[0]:
        row.p50_ms, row.p99_ms = series.latency_ms(50), series.latency_ms(99)
    row.extra["runs"] = series.run_figures()
    row.extra.update(fields.pop("extra", {}))  # type: ignore[call-overload]
    for name, value in fields.items():
        setattr(row, name, value)
    return row


def unavailable(case: str, store: str, why: str) -> Row:
    return Row(case=case, engine="zerogate", store=store, status=UNAVAILABLE, detail=why)


def memory_missing() -> str | None:
    """Why the in-memory store cannot be benchmarked, or None when it can."""
    try:
        found = zg_work.memory_store_class()
    except Exception as exc:  # a half-written module may raise anything
        return f"memory store import failed: {type(exc).__name__}: {exc}"
    return None if found else "zerogate.adapters.memory_store.MemoryStore not importable"


# ---------------------------------------------------------------- throughput vs Huey


def _versus_huey(ctx: Context, case: str, workloads: tuple[str, str], size: int,
                 min_tps: int, min_ratio: float) -> tuple[Series, list[Row]]:
    zg, hy = (ctx.measure(w, size) for w in workloads)
    ratio = zg.tasks_per_s / hy.tasks_per_s
    checks = [Check(f"{zg.tasks_per_s:,.0f}/s (>= {min_tps:,})", zg.tasks_per_s >= min_tps),
              Check(f"{ratio:.1f}x Huey (>= {min_ratio:g}x)", ratio >= min_ratio)]
    status = ctx.judge(case, zg, checks)
    return zg, [zg_row(case, "sqlite", zg, status, checks, peer_ratio=ratio),
                peer_row(case, hy)]


def durable_noop(ctx: Context) -> list[Row]:
    size = ctx.size(10_000, 2_000)
    zg, rows = _versus_huey(ctx, "durable_noop", ("zg_durable_noop", "huey_noop"), size,
                            10_000, 5)
    ctx.noop = zg
    return rows


def chains(ctx: Context) -> list[Row]:
    size = ctx.size(1_000, 300)
    return _versus_huey(ctx, "chains", ("zg_chains", "huey_chains"), size, 5_000, 3)[1]


def memory_noop(ctx: Context) -> list[Row]:
    why = memory_missing()
    if why:
        return [unavailable("memory_noop", "memory", why)]
    series = ctx.measure("zg_memory_noop", ctx.size(100_000, 10_000))
    checks = [Check(f"{series.tasks_per_s:,.0f}/s (>= 50,000)", series.tasks_per_s >= 50_000)]
    status = ctx.judge("memory_noop", series, checks)
    return [zg_row("memory_noop", "memory", series, status, checks)]


# ---------------------------------------------------------------- latency


def latency(ctx: Context) -> list[Row]:
    samples = ctx.size(500, 100)
    hy = ctx.measure("huey_latency", samples)
    rows = [_latency_row(ctx, "zg_latency_sqlite", "sqlite", samples, hy)]
    why = memory_missing()
    rows.append(unavailable("latency", "memory", why) if why
                else _latency_row(ctx, "zg_latency_memory", "memory", samples, hy))
    rows.append(peer_row("latency", hy,
                         detail="Huey consumer, 2 worker processes, 1-10 ms queue polling"))
    return rows


def _latency_row(ctx: Context, workload: str, store: str, samples: int, hy: Series) -> Row:
    series = ctx.measure(workload, samples)
    p99 = series.latency_ms(99)
    checks = [Check(f"p99 {p99:.2f} ms (< 5 ms)", p99 < 5)]
    status = ctx.judge("latency", series, checks)
    return zg_row("latency", store, series, status, checks,
                  peer_ratio=hy.latency_ms(99) / p99)


# ---------------------------------------------------------------- scale


def million(ctx: Context) -> list[Row]:
    ref = ctx.noop  # durable_noop's zerogate runs, or (not selected) measured now
    ref = ref or ctx.measure("zg_durable_noop", ctx.size(10_000, 2_000))
    series = ctx.measure("zg_million", ctx.size(1_000_000, 100_000), ctx.million_repeat)
    share = series.tasks_per_s / ref.tasks_per_s
    cpu_share = series.tasks_per_cpu_s / ref.tasks_per_cpu_s
    checks = [Check(f"{share:.0%} of durable_noop's {ref.tasks_per_s:,.0f}/s (>= 80 %)",
                    share >= 0.8),
              Check(f"peak RSS {series.rss_mb:,.0f} MB (< 1,024)", series.rss_mb < 1024)]
    status = ctx.judge("million", series, checks)
    detail = f"{describe(checks)}; per CPU-second {cpu_share:.0%} of durable_noop's"
    return [zg_row("million", "sqlite", series, status, checks, detail=detail,
                   extra={"vs_durable_noop": share, "vs_durable_noop_per_cpu_s": cpu_share,
                          "reference_tasks_per_s": ref.tasks_per_s,
                          "submit_seconds": series.median("submit_seconds")})]


def inflight(ctx: Context) -> list[Row]:
    size = ctx.size(10_000, 10_000)
    series = ctx.measure("zg_inflight", size)
    peak = int(series.median("peak_concurrency"))
    checks = [Check(f"peak concurrency {peak:,} (= {size:,})", peak >= size)]
    status = ctx.judge("inflight", series, checks)
    detail = f"{describe(checks)}; wall {series.seconds:.2f} s for 0.5 s of I/O each"
    return [zg_row("inflight", "sqlite", series, status, checks, detail=detail,
                   extra={"peak_concurrency": peak})]


CASES: dict[str, Callable[[Context], list[Row]]] = {
    "durable_noop": durable_noop,
    "chains": chains,
    "memory_noop": memory_noop,
    "latency": latency,
    "million": million,
    "inflight": inflight,
}
