"""Relationship mapping: paths of up to seven degrees between two people, connection
quality, centrality and influence radius in a network of relationships (networkx).

Modules: ``templates`` (params, outputs, the analyses, tasks, ``add_relationships``)
and ``graphs`` (reading and checking the edge list CSV, the compact graph file, the
seeded sample network).
"""

from __future__ import annotations

from zerogate.workflows.relationships.graphs import write_sample_edges
from zerogate.workflows.relationships.templates import add_relationships

__all__ = ["add_relationships", "write_sample_edges"]
