"""Template ``grant_timeline``: plan a grant application backwards from its deadline.

Replaces a grant platform's timeline planner. The params describe the application's
components (effort in working days, the fraction done, what each depends on), or a
seed of a generated one. The DAG::

    grant_plan --+-- grant_progress --+-- grant_report
                 +-- grant_risks -----+

Modules: ``components`` (a component and dependency order), ``models`` (params and
output), ``dates`` (the working-day calendar), ``schedule`` (the critical-path plan,
milestones and checkpoints), ``progress`` (the completion probability), ``risks``
(what threatens the deadline), ``samples`` (the sample generator), ``tasks`` (the task
handlers) and ``templates`` (``add_grants``: feature, tasks and template).
"""

from __future__ import annotations

from zerogate.workflows.grants.samples import sample_components
from zerogate.workflows.grants.templates import add_grants

__all__ = ["add_grants", "sample_components"]
