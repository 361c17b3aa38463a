"""What the governor lets a claim start: priority classes, features, reserved resources.

The governor decides; a claim carries the decision (``Admission``) into the store, whose
selection applies it next to the concurrency scopes, so resource admission holds in
the same transaction that leases the work. Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from zerogate.domain.model import Priority


class Category(enum.StrEnum):
    """How much a feature matters; under load the last one here goes off first."""

    ESSENTIAL = "essential"  # never shed
    STANDARD = "standard"
    ADVANCED = "advanced"
    EXPERIMENTAL = "experimental"


# Shed in this order as the load level rises: tier 1, 2, 3. Essential never goes off.
SHED_ORDER = (Category.EXPERIMENTAL, Category.ADVANCED, Category.STANDARD)
# The priority class that stops at each tier, alongside the feature category.
TIER_CLASSES = (Priority.LOW, Priority.MEDIUM, Priority.HIGH)


@dataclass(frozen=True, slots=True)
class Need:
    """Resources one task declares: CPU in cores (a share, e.g. 0.5) and memory in bytes."""

    cpu: float = 0.0
    memory: int = 0

    def __bool__(self) -> bool:
        return self.cpu > 0 or self.memory > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """The governor's decision for one claim.

    ``max_priority``: the numerically highest priority class admitted (-1 admits
    none). Tasks of an ``essential`` feature pass the class cut. ``cpu_free`` and
    ``memory_free`` are what this instance may still reserve (None: no limit known).
    The ``why_*`` texts end up in wait reasons, so they name resource and threshold.
    """

    max_priority: int = Priority.LOW
    features_off: frozenset[str] = frozenset()
    essential: frozenset[str] = frozenset()
    cpu_free: float | None = None
    memory_free: int | None = None
    why_class: str = ""
    why_features: Mapping[str, str] = field(default_factory=dict)
    why_resources: str = ""

    @property
    def is_open(self) -> bool:
        """True when nothing is held back, so a store may skip the checks."""
        return (self.max_priority >= Priority.LOW and not self.features_off
                and self.cpu_free is None and self.memory_free is None)

    def passes(self, priority: int, feature: str | None) -> bool:
        """True when the class cut and the feature switches let this task through."""
        if feature is not None and feature in self.features_off:
            return False
        return priority <= self.max_priority or (feature is not None and feature in self.essential)

    def held_by(self, priority: int, feature: str | None, need: Need) -> str | None:
        """Why the governor holds this task back right now, or None if it would pass."""
        if feature is not None and feature in self.features_off:
            return f"feature {feature!r} is off: {self.why_features.get(feature, 'shed')}"
        if not self.passes(priority, feature):
            name = Priority(priority).name.lower() if 0 <= priority <= 3 else str(priority)
            return f"{name} priority is not admitted now: {self.why_class}"
        budget = Budget.of(self)
        if not budget.fits(need):
            return f"needs {_describe(need)}; {self.why_resources or budget.describe()}"
        return None


OPEN = Admission()
NO_NEED = Need()


@dataclass(slots=True)
class Budget:
    """Resources left to reserve during one claim; taken from as tasks are chosen."""

    cpu: float | None
    memory: int | None

    @classmethod
    def of(cls, admission: Admission | None) -> Budget:
        if admission is None:
            return cls(None, None)
        return cls(admission.cpu_free, admission.memory_free)

    def fits(self, need: Need) -> bool:
        return ((self.cpu is None or need.cpu <= self.cpu + 1e-9)
                and (self.memory is None or need.memory <= self.memory))

    def take(self, need: Need) -> None:
        if self.cpu is not None:
            self.cpu -= need.cpu
        if self.memory is not None:
            self.memory -= need.memory

    def describe(self) -> str:
        parts = []
        if self.cpu is not None:
            parts.append(f"{max(self.cpu, 0.0):.2f} cores")
        if self.memory is not None:
            parts.append(f"{_mib(max(self.memory, 0))} memory")
        return (" and ".join(parts) + " free to reserve") if parts else "no limit"


def _describe(need: Need) -> str:
    parts = []
    if need.cpu:
        parts.append(f"{need.cpu:g} cores")
    if need.memory:
        parts.append(f"{_mib(need.memory)} memory")
    return " and ".join(parts) or "nothing"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"
