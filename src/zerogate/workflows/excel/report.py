"""Task ``excel_report`` and the published output of ``excel_processing``.

``ExcelReport`` is the template's declared output (its JSON schema is what clients
see): the sheet read, the issues found by validation, the entities and the quality
score. ``excel_report`` joins the steps' results into it.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from zerogate import TaskContext
from zerogate.workflows.excel.entities import Entities

Scalar = str | int | float | bool | None
IssueKind = Literal["missing", "wrong_type", "stored_as_text", "duplicate_row", "duplicate_key"]


class Issue(pydantic.BaseModel):
    """One problem: where, what kind, the value found and what was expected."""

    row: int = pydantic.Field(ge=1)
    column: str | None
    kind: IssueKind
    value: Scalar
    expected: str


class Part(pydantic.BaseModel):
    """One part of the quality score, 0-100, and how it was measured."""

    name: Literal["completeness", "validity", "uniqueness", "consistency"]
    score: float = pydantic.Field(ge=0, le=100)
    weight: float
    explanation: str


class Quality(pydantic.BaseModel):
    score: float = pydantic.Field(ge=0, le=100)
    parts: list[Part]


class ExcelReport(pydantic.BaseModel):
    """The result of ``excel_processing``."""

    sheet: str
    sheets: list[str]
    columns: list[str]
    records: int = pydantic.Field(ge=0)
    blank_rows: int = pydantic.Field(ge=0)
    issues_total: int = pydantic.Field(ge=0)
    issues_by_kind: dict[str, int]
    issues_by_column: dict[str, int]
    issues: list[Issue]
    entities: Entities
    quality: Quality


async def excel_report(ctx: TaskContext) -> dict[str, Any]:
    """Join the steps' results into the published output."""
    read, checked = ctx.deps["excel_read"], ctx.deps["excel_validate"]
    assert isinstance(read, dict) and isinstance(checked, dict)
    return ExcelReport(
        sheet=read["sheet"], sheets=read["sheets"], columns=read["columns"],
        records=read["records"], blank_rows=read["blank_rows"],
        issues_total=checked["issues_total"], issues_by_kind=checked["by_kind"],
        issues_by_column=checked["by_column"], issues=checked["issues"],
        entities=ctx.deps["excel_entities"], quality=ctx.deps["excel_quality"],
    ).model_dump(mode="json")
