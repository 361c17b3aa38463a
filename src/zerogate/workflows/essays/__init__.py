"""Essay workflows, replacing an essay processing agent: ``essay_review`` (one essay as
a DAG of tool steps) and ``essay_portfolio`` (many essays for many colleges, plus
recycled passages between them).

Modules: ``templates`` (params, tasks, ``add_essays``), ``models`` (params and
outputs), the pure tools ``tools`` (counts, word limits, readability), ``structure``,
``prompt`` (prompt analysis, relevance), ``recycle`` (recycled passages), ``report``
and ``portfolio`` (scores and suggestions), and ``samples`` with ``bank`` (seeded
sample essays from original sentences).
"""

from __future__ import annotations

from zerogate.workflows.essays.samples import write_sample_essay
from zerogate.workflows.essays.templates import add_essays

__all__ = ["add_essays", "write_sample_essay"]
