"""The built-in workflow templates that ``zerogate serve`` offers by default.

``registry(folder)`` returns a Registry with every built-in task and template: the
source systems' workloads (sponsor_analysis, grant_timeline, relationship_mapping,
email_analysis, excel_processing, essay_review, essay_portfolio), the engine demo's
document_analysis, and the two examples greet and fan. Files the templates read and
write live under ``folder`` (server configuration, never a request): tenants' input
files in ``folder/inbox/<tenant>/``, each workflow's work in ``folder/work/<token>/``.
"""

from __future__ import annotations

from pathlib import Path

import pydantic

from zerogate.demo import build_registry, document_workflow
from zerogate.registry import Registry, Workflow
from zerogate.workflows.essays import add_essays
from zerogate.workflows.examples import add_examples
from zerogate.workflows.excel import add_spreadsheets
from zerogate.workflows.grants import add_grants
from zerogate.workflows.mail import add_emails
from zerogate.workflows.relationships import add_relationships
from zerogate.workflows.sponsors import add_sponsors

WORKLOADS = (add_sponsors, add_grants, add_relationships, add_emails, add_spreadsheets,
             add_essays)


class DocumentParams(pydantic.BaseModel):
    """One generated document, analysed by a DAG of async, thread and process steps."""

    model_config = pydantic.ConfigDict(extra="forbid")
    doc: int = pydantic.Field(ge=0, le=10_000_000, description="document number (its seed)")
    words: int = pydantic.Field(2_000, ge=1, le=200_000)
    rounds: int = pydantic.Field(20_000, ge=1, le=5_000_000, description="hashing rounds")


def registry(folder: Path | str = "zerogate-files") -> Registry:
    reg = add_examples(build_registry())
    root = Path(folder)
    for add in WORKLOADS:
        add(reg, root)

    @reg.template(params=DocumentParams)
    def document_analysis(p: DocumentParams) -> Workflow:
        """Generate a document, count its words and hash it in parallel, then report."""
        root.mkdir(parents=True, exist_ok=True)
        return document_workflow(root, p.doc, words=p.words, rounds=p.rounds)

    return reg
