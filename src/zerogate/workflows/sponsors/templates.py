"""Registration of ``sponsor_analysis``: its feature, its tasks and its template.

``add_sponsors`` declares the tasks with their measured resources and builds the DAG
(load, then strength and influence in parallel, then funding, then the report).
"""

from __future__ import annotations

from pathlib import Path

from zerogate.registry import Registry, Workflow
from zerogate.templates import TemplateContext
from zerogate.workflows.inputs import workdir
from zerogate.workflows.sponsors.models import SponsorOutput, SponsorParams
from zerogate.workflows.sponsors.tasks import (
    sponsor_funding,
    sponsor_influence,
    sponsor_load,
    sponsor_report,
    sponsor_strength,
)


def add_sponsors(registry: Registry, root: Path) -> None:
    """Declare feature ``sponsor_analysis``, its tasks and its template."""
    feature = "sponsor_analysis"
    registry.feature(feature, "essential", description="sponsor relationship strength, "
                     "influence, funding probability and recommendations")
    # Peaks measured on a 4 MiB CSV (55,000 interactions, 300 sponsors), the largest
    # inline input; they grow about linearly with the input.
    load = registry.task(sponsor_load, run_in="process", timeout_s=300, feature=feature,
                         cpu=1.0, memory_mb=60)
    score = registry.task(sponsor_strength, run_in="process", timeout_s=300,
                          feature=feature, cpu=1.0, memory_mb=40)
    graph = registry.task(sponsor_influence, run_in="process", timeout_s=300,
                          feature=feature, cpu=1.0, memory_mb=40)
    fund = registry.task(sponsor_funding, run_in="thread", feature=feature, cpu=0.5,
                         memory_mb=40)
    report = registry.task(sponsor_report, run_in="thread", feature=feature, cpu=0.1,
                           memory_mb=5)

    @registry.template(params=SponsorParams, output=SponsorOutput, feature=feature)
    def sponsor_analysis(p: SponsorParams, ctx: TemplateContext) -> Workflow:
        """Score sponsor relationships from an interaction history: strength, influence
        and funding probability, ranked, with calls, asks and introductions to make."""
        work = str(workdir(root))
        wf = Workflow("sponsor_analysis")
        first = wf.add(load, {"source": p.source.model_dump(exclude_none=True),
                              "root": str(root), "tenant": ctx.tenant, "work": work,
                              "as_of": None if p.as_of is None else p.as_of.isoformat()})
        scored = wf.add(score, {"work": work, "half_life_days": p.half_life_days},
                        after=[first])
        mapped = wf.add(graph, {"work": work}, after=[first])
        funded = wf.add(fund, {"work": work}, after=[scored, mapped, first])
        wf.add(report, {"work": work, "top": p.top}, after=[first, scored, mapped, funded])
        return wf
