"""Template ``sponsor_analysis``: how close each sponsor is, and what to do next.

Replaces a sponsor-relationship platform's core analysis. The input is an interaction
history CSV, one row per contact with a sponsor: ``date`` (ISO date or datetime),
``contact``, ``organisation``, ``kind`` (meeting, call, email, letter, event, gift),
``direction`` (ours | theirs: who started it) and an optional ``amount`` for gifts.
The DAG (each step a task, so telemetry shows each one)::

    sponsor_load --+-- sponsor_strength ---+-- sponsor_funding -- sponsor_report
                   +-- sponsor_influence --+

Modules: ``models`` (params and output), ``parsing`` (the CSV), ``scoring`` (strength,
influence graph, funding probability), ``recommendations`` (asks, calls and
introductions), ``samples`` (the sample writer), ``tasks`` (the task handlers) and
``templates`` (``add_sponsors``: feature, tasks and template).
"""

from __future__ import annotations

from zerogate.workflows.sponsors.samples import write_sample_interactions
from zerogate.workflows.sponsors.templates import add_sponsors

__all__ = ["add_sponsors", "write_sample_interactions"]
