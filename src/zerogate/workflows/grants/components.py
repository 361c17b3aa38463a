"""The components of a ``grant_timeline`` application, and their dependency order.

A component is one piece of the application (effort, share done, what it depends on).
The dependency checks live next to it so the params can reject duplicate names,
unknown or self dependencies and cycles, each named, before any task runs.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable

import pydantic


class Component(pydantic.BaseModel):
    """One piece of the application."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(min_length=1, max_length=100)
    effort_days: float = pydantic.Field(gt=0, le=1000,
                                        description="working days of one person's effort")
    done: float = pydantic.Field(0.0, ge=0, le=1, description="fraction done so far")
    depends_on: list[str] = pydantic.Field(
        default_factory=list, max_length=100, description="components that finish first")


def dependency_problems(components: list[Component]) -> list[str]:
    """Duplicate names, unknown or self dependencies, and a cycle, each named."""
    names = [c.name for c in components]
    problems = [f"component {n!r} is listed twice" for n in sorted(set(names))
                if names.count(n) > 1]
    for c in components:
        problems += [f"component {c.name!r} depends on unknown {d!r}"
                     for d in c.depends_on if d not in names]
        problems += [f"component {c.name!r} depends on itself" for d in c.depends_on
                     if d == c.name]
    if not problems:
        try:
            order(components)
        except graphlib.CycleError as exc:
            problems.append(f"dependency cycle: {' -> '.join(reversed(exc.args[1]))} "
                            "(each depends on the next)")
    return problems


def order(components: Iterable[Component]) -> list[str]:
    """Names, each after everything it depends on (graphlib.CycleError on a cycle)."""
    return list(graphlib.TopologicalSorter({c.name: c.depends_on for c in components})
                .static_order())
