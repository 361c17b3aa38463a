"""The params and output models of template ``grant_timeline``.

Kept apart from the processing so the published request and output schemas are in one
place: ``GrantParams`` is what a request gives (validated for consistent dates and an
acyclic component list), ``GrantOutput`` (with its plan rows, milestones, checkpoints
and risks) what the report task returns and the engine enforces.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import pydantic

from zerogate.workflows.grants.components import Component, dependency_problems


class GrantParams(pydantic.BaseModel):
    """A grant application to plan: its components, or a sample seed (exactly one)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(min_length=1, max_length=200)
    deadline: date = pydantic.Field(description="submission day (work ends that day)")
    as_of: date = pydantic.Field(description="today, for planning: work starts this day")
    components: list[Component] | None = pydantic.Field(None, min_length=1, max_length=200)
    sample: int | None = pydantic.Field(None, ge=0, le=2**31,
                                        description="seed of a generated component list")
    team: float = pydantic.Field(2.0, gt=0, le=100, description="people working on it, "
                                 "each on one component at a time")

    @pydantic.field_validator("components")
    @classmethod
    def _acyclic(cls, components: list[Component] | None) -> list[Component] | None:
        problems = [] if components is None else dependency_problems(components)
        if problems:
            raise ValueError("; ".join(problems))
        return components

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> GrantParams:
        if (self.components is None) == (self.sample is None):
            raise ValueError("give exactly one of components or sample")
        if self.deadline < self.as_of:
            raise ValueError(f"the deadline {self.deadline} is before as_of {self.as_of}")
        if (self.deadline - self.as_of).days > 3 * 366:
            raise ValueError("the deadline is more than three years after as_of")
        return self


class Planned(pydantic.BaseModel):
    name: str
    effort_days: float
    done: float
    remaining_days: float
    depends_on: list[str]
    earliest_start: date
    earliest_finish: date
    latest_start: date
    latest_finish: date
    slack_days: float = pydantic.Field(description="working days; negative: behind")
    critical: bool
    late: bool = pydantic.Field(description="its latest start is already past")


class Milestone(pydantic.BaseModel):
    label: str
    date: date
    past: bool
    required_done: float = pydantic.Field(ge=0, le=1, description="share of all effort")
    must_finish: list[str]
    must_start: list[str]


class Checkpoint(pydantic.BaseModel):
    date: date
    required_done: float = pydantic.Field(ge=0, le=1)
    finishing: list[str]
    starting: list[str]


class Risk(pydantic.BaseModel):
    severity: Literal["critical", "high", "medium"]
    kind: str
    component: str | None
    days: float | None
    message: str


class GrantOutput(pydantic.BaseModel):
    name: str
    as_of: date
    deadline: date
    working_days_left: int
    total_effort: float
    earned: float
    planned_to_date: float
    velocity: float
    probability: float = pydantic.Field(ge=0, le=1)
    expected_finish: date
    bound: str = pydantic.Field(description="what limits the finish: critical path or team")
    critical_path: list[str]
    plan: list[Planned]
    milestones: list[Milestone]
    checkpoints: list[Checkpoint]
    risks: list[Risk]
