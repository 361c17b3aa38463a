"""The sample generator of ``grant_timeline``: a seeded, realistic component list.

A request with ``sample`` instead of ``components`` plans this application, so the demo
and the tests run the template on a plausible plan without writing one.
"""

from __future__ import annotations

import random

from zerogate.workflows.grants.components import Component
from zerogate.workflows.samples import Cast


def sample_components(seed: int) -> list[Component]:
    """A seeded application: partner agreements and their letters of support, a data
    appendix, budget, narrative, internal review and submission; the earlier pieces
    further along than the later ones."""
    rng = random.Random(seed)
    partners = Cast(seed).orgs(rng.randint(2, 3))
    pace = rng.uniform(0.0, 0.7)

    def part(name: str, low: float, high: float, depth: int, *deps: str) -> Component:
        done = min(max(pace * (1.5 - 0.5 * depth) + rng.uniform(-0.1, 0.1), 0.0), 1.0)
        return Component(name=name, effort_days=round(rng.uniform(low, high), 1),
                         done=round(done * 20) / 20, depends_on=list(deps))

    agreements = [part(f"partner agreement: {o}", 2, 5, 0) for o in partners]
    letters = [part(f"letter of support: {o}", 1, 3, 1, a.name)
               for o, a in zip(partners, agreements, strict=True)]
    parts = [*agreements, *letters, part("data appendix", 4, 8, 0),
             part("budget", 3, 6, 1, *(a.name for a in agreements))]
    parts.append(part("narrative", 8, 15, 1, "data appendix"))
    parts.append(part("internal review", 3, 5, 2, "narrative", "budget",
                      *(x.name for x in letters)))
    return [*parts, part("submission", 0.5, 1.5, 3, "internal review")]
