"""The built-in workflow templates that ``zerogate serve`` offers by default.

``registry(folder)`` returns a Registry with every built-in task and template (and the
two examples ``greet`` and ``fan``); files
the templates write go under ``folder`` (server configuration, never a request).
"""

from __future__ import annotations

from pathlib import Path

import pydantic

from zerogate.demo import build_registry, document_workflow
from zerogate.registry import Registry, Workflow
from zerogate.workflows.examples import add_examples


class DocumentParams(pydantic.BaseModel):
    """One generated document, analysed by a DAG of async, thread and process steps."""

    model_config = pydantic.ConfigDict(extra="forbid")
    doc: int = pydantic.Field(ge=0, le=10_000_000, description="document number (its seed)")
    words: int = pydantic.Field(2_000, ge=1, le=200_000)
    rounds: int = pydantic.Field(20_000, ge=1, le=5_000_000, description="hashing rounds")


def registry(folder: Path | str = "zerogate-files") -> Registry:
    reg = add_examples(build_registry())
    root = Path(folder)

    @reg.template(params=DocumentParams)
    def document_analysis(p: DocumentParams) -> Workflow:
        """Generate a document, count its words and hash it in parallel, then report."""
        root.mkdir(parents=True, exist_ok=True)
        return document_workflow(root, p.doc, words=p.words, rounds=p.rounds)

    return reg
