"""Template ``excel_processing``: its params, its tasks' registration and its DAG.

An .xlsx comes in (inline base64, a file in the tenant's inbox, or a generated sample
of sponsor/grant records). The DAG::

    excel_read -> excel_validate ----\\
               \\-> excel_entities ---+-> excel_quality -> excel_report

``excel_read``, ``excel_validate`` and ``excel_entities`` each run in a child process
(validation and entities in parallel, both reading the rows file ``excel_read``
wrote); the quality score and the report are quick and run in the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pydantic

from zerogate.registry import Registry, Workflow
from zerogate.templates import TemplateContext
from zerogate.workflows.excel.cells import CellType
from zerogate.workflows.excel.entities import excel_entities
from zerogate.workflows.excel.quality import excel_quality
from zerogate.workflows.excel.reading import excel_read
from zerogate.workflows.excel.report import ExcelReport, excel_report
from zerogate.workflows.excel.validation import excel_validate
from zerogate.workflows.inputs import Source, workdir

FEATURE = "excel_processing"
Column = Annotated[str, pydantic.Field(min_length=1, max_length=255)]


class ExcelParams(pydantic.BaseModel):
    """An .xlsx to check: which sheet, where its header is, and what to check."""

    model_config = pydantic.ConfigDict(extra="forbid")
    source: Source = pydantic.Field(description="the .xlsx: base64, inbox file or sample")
    sheet: str | None = pydantic.Field(None, min_length=1, max_length=31,
                                       description="sheet name (default: the first sheet)")
    header_row: int = pydantic.Field(1, ge=1, le=1_048_576, description="row of column names")
    required: list[Column] = pydantic.Field([], max_length=500,
                                            description="columns that must be non-empty")
    types: dict[Column, CellType] = pydantic.Field({}, max_length=500,
                                                   description="expected type by column")
    unique: list[Column] = pydantic.Field([], max_length=50, description="columns that "
                                          "together identify a record (repeats: duplicates)")
    max_issues: int = pydantic.Field(200, ge=0, le=10_000,
                                     description="issues to list (counts are always full)")
    max_entities: int = pydantic.Field(50, ge=0, le=1_000, description="entities to list "
                                                                       "of each kind")


def add_spreadsheets(registry: Registry, root: Path) -> None:
    """Register the ``excel_processing`` feature, its tasks and its template."""
    registry.feature(FEATURE, "experimental",
                     description="spreadsheet checks, entities and a data quality score")
    # Peak RSS of a child measured on 200,000-row sheets (65 MB of it is the interpreter
    # and imports): read 85 MB in 21 s; validate 120 MB in 5 s; entities 210 MB in 8 s
    # when every name, e-mail and amount is distinct (70 MB on sample-like data).
    read = registry.task(excel_read, run_in="process", cpu=1.0, memory_mb=90,
                         timeout_s=600, feature=FEATURE)
    validate = registry.task(excel_validate, run_in="process", cpu=1.0, memory_mb=130,
                             timeout_s=600, feature=FEATURE)
    entities = registry.task(excel_entities, run_in="process", cpu=1.0, memory_mb=220,
                             timeout_s=600, feature=FEATURE)
    score = registry.task(excel_quality, feature=FEATURE)
    report = registry.task(excel_report, feature=FEATURE)

    @registry.template(params=ExcelParams, output=ExcelReport, feature=FEATURE)
    def excel_processing(p: ExcelParams, ctx: TemplateContext) -> Workflow:
        """Check an .xlsx sheet's types, required fields and duplicates, find its people,
        organisations, e-mails and amounts, and score its data quality (0-100)."""
        work = workdir(root)
        wf = Workflow("excel_processing")
        first = wf.add(read, {
            "source": p.source.model_dump(exclude_none=True), "root": str(root),
            "tenant": ctx.tenant, "work": str(work), "sheet": p.sheet,
            "header_row": p.header_row,
            "needed": {"required": p.required, "typed": list(p.types), "unique": p.unique}})
        checked = wf.add(validate, {"required": p.required, "types": dict(p.types),
                                    "unique": p.unique, "max_issues": p.max_issues},
                         after=[first])
        found = wf.add(entities, {"max_entities": p.max_entities}, after=[first])
        scored = wf.add(score, after=[checked, found])
        wf.add(report, after=[first, checked, found, scored])
        return wf
