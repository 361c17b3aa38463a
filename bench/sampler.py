"""G9: the cost of sampling. ``python -m bench.sampler`` prints a table, writes one JSON line.

300 samples back to back with the real SystemSampler; the CPU cost at 1 Hz is the mean
sample duration times one sample per second, as a share of one core.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from zerogate.adapters.sampler import SystemSampler

SAMPLES = 300
P99_TARGET_MS = 5.0
CPU_TARGET_PCT = 1.0
RESULTS = Path(__file__).resolve().parent / "results"


def measure(samples: int = SAMPLES) -> dict[str, object]:
    sampler = SystemSampler()
    sampler.sample()  # warm up: imports, file caches, the CPU baseline
    wall_s: list[float] = []
    cpu_start = time.process_time()
    for _ in range(samples):
        start = time.perf_counter()
        sampler.sample()
        wall_s.append(time.perf_counter() - start)
    cpu_per_sample_s = (time.process_time() - cpu_start) / samples
    p99_ms = statistics.quantiles(wall_s, n=100)[98] * 1e3
    cost_pct = statistics.fmean(wall_s) * 1.0 * 100  # 1 Hz, share of one core
    return {
        "case": "sampler", "scope": sampler.scope, "samples": samples,
        "median_ms": round(statistics.median(wall_s) * 1e3, 4), "p99_ms": round(p99_ms, 4),
        "max_ms": round(max(wall_s) * 1e3, 4),
        "cpu_per_sample_ms": round(cpu_per_sample_s * 1e3, 4),
        "cost_at_1hz_pct_core": round(cost_pct, 5),
        "p99_ok": p99_ms < P99_TARGET_MS, "cost_ok": cost_pct < CPU_TARGET_PCT,
    }


def show(row: dict[str, object]) -> None:
    table = Table(title=f"G9 sampler cost ({row['scope']}, {row['samples']} samples)")
    for column in ("figure", "value", "target", "verdict"):
        table.add_column(column)
    table.add_row("median sample", f"{row['median_ms']} ms", "", "")
    table.add_row("p99 sample", f"{row['p99_ms']} ms", f"< {P99_TARGET_MS} ms",
                  "met" if row["p99_ok"] else "MISSED")
    table.add_row("CPU per sample", f"{row['cpu_per_sample_ms']} ms", "", "")
    table.add_row("cost at 1 Hz", f"{row['cost_at_1hz_pct_core']} % of a core",
                  f"< {CPU_TARGET_PCT} %", "met" if row["cost_ok"] else "MISSED")
    Console().print(table)


def main() -> int:
    row = measure()
    show(row)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"sampler-{stamp}.jsonl"
    with path.open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(f"wrote {path}")
    return 0 if row["p99_ok"] and row["cost_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
