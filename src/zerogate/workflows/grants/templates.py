"""Registration of ``grant_timeline``: its feature, its tasks and its template.

``add_grants`` declares the four light thread tasks and builds the DAG (plan, then
progress and risks in parallel, then the report).
"""

from __future__ import annotations

from pathlib import Path

from zerogate.registry import Registry, Workflow
from zerogate.workflows.grants.models import GrantOutput, GrantParams
from zerogate.workflows.grants.samples import sample_components
from zerogate.workflows.grants.tasks import (
    grant_plan,
    grant_progress,
    grant_report,
    grant_risks,
)


def add_grants(registry: Registry, root: Path) -> None:
    """Declare feature ``grant_timeline``, its tasks and its template (``root`` is
    unused: the template reads and writes no files)."""
    feature = "grant_timeline"
    registry.feature(feature, "essential", description="grant application timeline: "
                     "backwards plan, completion probability and risks")
    steps = [registry.task(fn, run_in="thread", feature=feature, cpu=0.1, memory_mb=5)
             for fn in (grant_plan, grant_progress, grant_risks, grant_report)]

    @registry.template(params=GrantParams, output=GrantOutput, feature=feature)
    def grant_timeline(p: GrantParams) -> Workflow:
        """Plan a grant application backwards from its deadline: critical path,
        milestones, checkpoints, completion probability and ranked risks."""
        parts = p.components if p.components is not None else sample_components(
            p.sample or 0)
        wf = Workflow("grant_timeline")
        first = wf.add(steps[0], {"name": p.name, "as_of": p.as_of.isoformat(),
                                  "deadline": p.deadline.isoformat(),
                                  "components": [c.model_dump() for c in parts]})
        odds = wf.add(steps[1], {"team": p.team}, after=[first])
        threats = wf.add(steps[2], {"team": p.team}, after=[first])
        wf.add(steps[3], after=[first, odds, threats])
        return wf
