"""How much concurrency a backlog needs, and whether to add it here or on more machines.

Little's law: ``concurrency`` slots, each busy ``service_s`` per task, complete
``concurrency / service_s`` tasks a second. A backlog drains at that rate minus the
arrivals; draining it within ``target_drain_s`` takes ``(arrival + backlog / target)
x service_s`` slots. Those slots belong on this machine only with headroom to spare
(load level below 0.5) and no resource forecast to cross its threshold within the target
drain time, the period the extra slots would run; otherwise add machines. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from zerogate.errors import InvalidConfig

Action = Literal["scale_up", "scale_out", "hold", "scale_down"]

# Past half-way from high to critical, slots added here would push the level to critical.
SCALE_UP_LEVEL = 0.5
# Under 30 % busy with nothing queued, a third of the slots carry the load with margin.
SCALE_DOWN_UTILISATION = 0.3
# Float noise (0.1 + 0.2 = 0.30000000000000004) must not ask for a slot nobody needs.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Scaling:
    """What to do about capacity, and a sentence with the numbers behind it."""

    action: Action
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityPlan:
    """Throughput now, when the backlog drains (None: never), and what it takes to drain."""

    throughput_per_s: float
    drain_s: float | None
    needed_concurrency: int
    needed_workers: int | None
    utilisation: float
    scaling: Scaling


@dataclass(frozen=True, slots=True, kw_only=True)
class _Case:
    """The inputs and figures a recommendation is argued from."""

    backlog: int
    arrival_per_s: float
    concurrency: int
    target_drain_s: float
    per_worker: int | None
    throughput_per_s: float
    drain_s: float | None
    needed: int
    workers: int | None
    utilisation: float


def plan(*, backlog: int, arrival_per_s: float, service_s: float, concurrency: int,
         target_drain_s: float, per_worker: int | None = None,
         resource_eta_s: Mapping[str, float | None] | None = None,
         resource_level: float = 0.0) -> CapacityPlan:
    """Plan the concurrency that drains ``backlog`` within ``target_drain_s``, and where."""
    etas = dict(resource_eta_s or {})
    _check(backlog, arrival_per_s, service_s, concurrency, target_drain_s, per_worker,
           etas, resource_level)
    throughput = concurrency / service_s
    needed = math.ceil((arrival_per_s + backlog / target_drain_s) * service_s - _EPSILON)
    case = _Case(backlog=backlog, arrival_per_s=arrival_per_s, concurrency=concurrency,
                 target_drain_s=target_drain_s, per_worker=per_worker,
                 throughput_per_s=throughput,
                 drain_s=_drain_s(backlog, throughput - arrival_per_s), needed=needed,
                 workers=None if per_worker is None else -(-needed // per_worker),
                 utilisation=arrival_per_s * service_s / concurrency)
    return CapacityPlan(throughput_per_s=case.throughput_per_s, drain_s=case.drain_s,
                        needed_concurrency=needed, needed_workers=case.workers,
                        utilisation=case.utilisation,
                        scaling=_recommend(case, etas, resource_level))


def _drain_s(backlog: int, net_per_s: float) -> float | None:
    if backlog == 0 and net_per_s >= 0:
        return 0.0  # nothing queued, and arrivals do not outpace completions
    return backlog / net_per_s if net_per_s > 0 else None


def _recommend(case: _Case, etas: Mapping[str, float | None], level: float) -> Scaling:
    if case.needed > case.concurrency:
        return _more(case, etas, level)
    if case.utilisation < SCALE_DOWN_UTILISATION and case.backlog == 0:
        return Scaling("scale_down", f"utilisation {case.utilisation:.0%} with no backlog: "
                                     f"{_slots(max(case.needed, 1))} would carry "
                                     f"{case.arrival_per_s:.1f} tasks/s")
    return Scaling("hold", f"{_backlog(case)}; {_slots(case.concurrency)} run at "
                           f"{case.utilisation:.0%} utilisation")


def _more(case: _Case, etas: Mapping[str, float | None], level: float) -> Scaling:
    goal = (f"{_slots(case.needed)} drain it in {_duration(case.target_drain_s)}"
            if case.backlog else f"{_slots(case.needed)} keep up")
    need = f"{_backlog(case)}; {goal}"
    if level >= SCALE_UP_LEVEL:
        return Scaling("scale_out", f"{need}, but resources are near their limit (level "
                                    f"{level:.2f}){_workers(case)}")
    crossing = _first_crossing(etas, case.target_drain_s)
    if crossing is not None:
        name, eta_s = crossing
        return Scaling("scale_out", f"{need}, but {name} is forecast to reach its threshold "
                                    f"in {_duration(eta_s)}{_workers(case)}")
    return Scaling("scale_up", f"{need}; raise concurrency from {case.concurrency} to "
                               f"{case.needed}")


def _first_crossing(etas: Mapping[str, float | None],
                    horizon_s: float) -> tuple[str, float] | None:
    due = [(eta, name) for name, eta in etas.items() if eta is not None and eta <= horizon_s]
    if not due:
        return None
    eta, name = min(due)
    return name, eta


def _backlog(case: _Case) -> str:
    if case.drain_s is None:
        queued = f"backlog {case.backlog:,} never drains" if case.backlog else "a backlog builds"
        return (f"{queued}: {case.arrival_per_s:.1f} tasks/s arrive, "
                f"{case.throughput_per_s:.1f} complete")
    if case.backlog == 0:
        return "no backlog"
    net = case.throughput_per_s - case.arrival_per_s
    return f"backlog {case.backlog:,} drains in {_duration(case.drain_s)} at {net:.1f} tasks/s"


def _workers(case: _Case) -> str:
    if case.workers is None:
        return ""
    return f"; at {case.per_worker} slots per worker that is {case.workers} workers"


def _slots(count: int) -> str:
    return f"{count} slot" if count == 1 else f"{count} slots"


def _duration(seconds: float) -> str:
    """Say a duration the way a person reads a dashboard: 45 s, 40 min, 2.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _check(backlog: int, arrival_per_s: float, service_s: float, concurrency: int,
           target_drain_s: float, per_worker: int | None, etas: Mapping[str, float | None],
           level: float) -> None:
    rules = [
        (backlog >= 0, f"backlog must not be negative, got {backlog}"),
        (0 <= arrival_per_s < math.inf, f"arrival_per_s must be a finite rate, not negative; "
                                        f"got {arrival_per_s}"),
        (0 < service_s < math.inf, f"service_s must be a finite positive time, got {service_s}"),
        (concurrency >= 1, f"concurrency must be at least 1, got {concurrency}"),
        (0 < target_drain_s < math.inf, f"target_drain_s must be a finite positive time, "
                                        f"got {target_drain_s}"),
        (per_worker is None or per_worker >= 1, f"per_worker must be at least 1, got "
                                                f"{per_worker}"),
        (0 <= level <= 1, f"resource_level must lie within 0..1, got {level}"),
    ]
    rules += [(eta is None or eta >= 0, f"resource_eta_s[{name!r}] must not be negative, "
                                        f"got {eta}") for name, eta in etas.items()]
    for is_ok, message in rules:
        if not is_ok:
            raise InvalidConfig(message)
