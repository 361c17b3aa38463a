"""Template ``relationship_mapping``: who connects two people, who is central, how far
one person reaches, in a network of relationships (an edge list CSV, see ``graphs``).

DAG: ``rel_load`` (materialise, parse, validate, merge; writes the compact graph file)
then, in parallel, each in its own process: ``rel_paths`` (the best chains of ties of
at most ``max_degrees`` between ``from_person`` and ``to_person``), ``rel_centrality``
(degree, weighted pagerank, betweenness) and ``rel_radius`` (people at 1, 2 and 3
degrees of ``from_person``, weighted reach); then ``rel_report`` joins them.

Connection quality of a path is the product of its ties' normalised strengths (see
``graphs.strength``), so the best path is the cheapest under cost = -log(strength):
``nx.shortest_simple_paths`` yields simple paths in increasing cost, over the subgraph
of people who can lie on a path of at most ``max_degrees`` hops (hop distance from one
end plus to the other <= max_degrees). Paths over the limit are skipped; the first k
within it are exactly the k best. At most 20 candidates per path asked for are examined:
if the search stops there, the output says so (``complete`` false) and still gives a
path of fewest ties when one is within the limit. Betweenness is over hops, exact up to
``EXACT_BETWEENNESS`` people, else estimated from a seeded sample of sources.

Budget (this shared 2-core machine, ``python -m bench.relationships``): a 100,000-tie
sample graph (about 23,000 people) completes the whole workflow within 20 s (measured
medians 10-17 s with warm workers, depending on other load; 8 s of it is CPU on the
critical path: load 1.7 s, centrality 6.1 s, of which 4.4 s is betweenness from 32
sources), and no process step peaks above 250 MiB (measured 149-174 MiB; 262 MiB at
200,000 ties, which takes about 25 s). Inputs are capped at 250,000 rows.
"""

from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import pydantic

from zerogate import TaskContext
from zerogate.registry import Registry, Workflow
from zerogate.templates import TemplateContext
from zerogate.workflows.inputs import Source, materialize, workdir
from zerogate.workflows.relationships import graphs

FEATURE = "relationship_mapping"
EXACT_BETWEENNESS = 1_000  # people: exact betweenness up to here, sampled above
SAMPLE_BUDGET = 2_000_000  # sampled sources x ties: about 2 s of BFS
RADIUS = 3  # degrees the influence radius counts
Field = pydantic.Field


class Params(pydantic.BaseModel):
    """What to map: an edge list, and whose connections to look at."""

    model_config = pydantic.ConfigDict(extra="forbid")
    source: Source = Field(description="edge list CSV: source,target[,weight][,kind]")
    from_person: str | None = Field(None, min_length=1, max_length=200, description=(
        "the person whose paths and reach to map (required unless source.sample is given; "
        "then one is picked)"))
    to_person: str | None = Field(None, min_length=1, max_length=200, description=(
        "the person to reach; without it only centrality and radius (with a sample "
        "source one is picked)"))
    max_degrees: int = Field(7, ge=1, le=7, description="longest path, in ties")
    paths: int = Field(5, ge=1, le=10, description="how many best paths to list")
    top: int = Field(20, ge=1, le=200, description="central people to list")
    sample_edges: int = Field(5_000, ge=100, le=200_000,
                              description="ties in a generated sample (sample sources only)")

    @pydantic.model_validator(mode="after")
    def _people(self) -> Params:
        if self.source.sample is None and self.from_person is None:
            raise ValueError("from_person is required unless source.sample is given")
        if self.from_person is not None and self.from_person == self.to_person:
            raise ValueError("from_person and to_person must be different people")
        return self


class Tie(pydantic.BaseModel):
    source: str
    target: str
    weight: float
    kind: str | None
    strength: float = Field(description="weight normalised into (0, 1), 0.5 at the median")


class PathOut(pydantic.BaseModel):
    people: list[str]
    degrees: int
    quality: float = Field(description="product of the ties' strengths")
    ties: list[Tie]


class Paths(pydantic.BaseModel):
    from_person: str
    to_person: str
    max_degrees: int
    degrees_apart: int | None = Field(description="fewest ties between them; None: unconnected")
    found: bool
    paths: list[PathOut]
    candidates: int = Field(description="simple paths examined, within the limit or not")
    complete: bool = Field(description="False if the search stopped before finding all asked")
    message: str


class Central(pydantic.BaseModel):
    name: str
    ties: int
    weighted_degree: float
    degree_centrality: float
    pagerank: float
    betweenness: float


class Centrality(pydantic.BaseModel):
    betweenness: Literal["exact", "approximate"]
    betweenness_sources: int = Field(description="sources the betweenness counts from")
    by_pagerank: list[Central]
    by_betweenness: list[Central]


class Radius(pydantic.BaseModel):
    person: str
    at_degree: list[int] = Field(description="people at exactly 1, 2, 3 degrees")
    within: int
    share: float = Field(description="of everyone else in the graph, the share within reach")
    weighted_reach: float = Field(description="sum of best connection quality to those within")
    component: int = Field(description="people connected to the person at all")
    strongest_ties: list[Tie]


class Network(pydantic.BaseModel):
    people: int
    ties: int
    rows: int
    merged_rows: int
    self_loops_dropped: int
    median_weight: float
    origin: str


class Output(pydantic.BaseModel):
    network: Network
    paths: Paths | None
    centrality: Centrality
    radius: Radius
    summary: list[str]


# ---------------------------------------------------------------- pure analysis


def best_paths(graph: nx.Graph, source: str, target: str, *, max_degrees: int = 7,
               k: int = 5, max_candidates: int | None = None) -> dict[str, Any]:
    """The ``k`` best paths of at most ``max_degrees`` ties (a ``Paths`` as a dict)."""
    graphs.check_person(graph, source, "from_person")
    graphs.check_person(graph, target, "to_person")
    limit = max_candidates if max_candidates is not None else 20 * k
    apart = _degrees_apart(graph, source, target)
    found: list[list[str]] = []
    candidates, complete = 0, True
    if apart is not None and apart <= max_degrees:
        near = _within_hops(graph, source, target, max_degrees)
        for path in nx.shortest_simple_paths(near, source, target, weight="cost"):
            candidates += 1
            if len(path) - 1 <= max_degrees:
                found.append(path)
            if len(found) >= k:
                break
            if candidates >= limit:
                complete = False
                break
        if not found:  # stopped early: at least the path of fewest ties
            found.append(nx.shortest_path(near, source, target))
    paths = [_path_out(graph, p) for p in found]
    message = _paths_message(source, target, max_degrees, apart, paths)
    if not complete:
        message += (f" (the search stopped after {candidates} candidate paths, so better "
                    "ones within the limit may exist)")
    return {"from_person": source, "to_person": target, "max_degrees": max_degrees,
            "degrees_apart": apart, "found": bool(paths), "paths": paths,
            "candidates": candidates, "complete": complete, "message": message}


def _degrees_apart(graph: nx.Graph, a: str, b: str) -> int | None:
    try:
        return int(nx.shortest_path_length(graph, a, b))
    except nx.NetworkXNoPath:
        return None


def _within_hops(graph: nx.Graph, a: str, b: str, hops: int) -> nx.Graph:
    """The people who can lie on a path of at most ``hops`` ties from a to b."""
    from_a = nx.single_source_shortest_path_length(graph, a, cutoff=hops)
    from_b = nx.single_source_shortest_path_length(graph, b, cutoff=hops)
    return graph.subgraph(n for n, d in from_a.items() if d + from_b.get(n, hops + 1) <= hops)


def _path_out(graph: nx.Graph, path: list[str]) -> dict[str, Any]:
    ties = [tie_out(graph, a, b) for a, b in itertools.pairwise(path)]
    quality = math.prod(t["strength"] for t in ties)
    return {"people": path, "degrees": len(ties), "quality": round(quality, 8), "ties": ties}


def tie_out(graph: nx.Graph, a: str, b: str) -> dict[str, Any]:
    data = graph.edges[a, b]
    return {"source": a, "target": b, "weight": data["weight"], "kind": data["kind"],
            "strength": round(data["strength"], 6)}


def _paths_message(a: str, b: str, limit: int, apart: int | None,
                   paths: list[dict[str, Any]]) -> str:
    if apart is None:
        return f"{a} and {b} are not connected at all"
    if not paths:
        return f"no path within {limit} degrees: {a} and {b} are {apart} degrees apart"
    best = paths[0]
    via = ", ".join(best["people"][1:-1]) or "nobody (a direct tie)"
    return (f"{a} and {b} are {apart} degree{'s' * (apart != 1)} apart; the strongest "
            f"connection runs via {via} ({best['degrees']} degrees, quality "
            f"{best['quality']:.4g})")


def centrality(graph: nx.Graph, top: int = 20, *, exact_max: int = EXACT_BETWEENNESS,
               seed: int = 0) -> dict[str, Any]:
    """Degree, weighted pagerank and betweenness (a ``Centrality`` as a dict)."""
    n = graph.number_of_nodes()
    sources = betweenness_sources(n, graph.number_of_edges(), exact_max)
    between = nx.betweenness_centrality(graph, k=None if sources == n else sources, seed=seed)
    rank = nx.pagerank(graph, weight="weight", max_iter=200)
    degree = nx.degree_centrality(graph)
    strength = dict(graph.degree(weight="weight"))

    def person(name: str) -> dict[str, Any]:
        return {"name": name, "ties": graph.degree(name),
                "weighted_degree": round(strength[name], 4),
                "degree_centrality": round(degree[name], 6),
                "pagerank": round(rank[name], 8), "betweenness": round(between[name], 8)}

    def best(scores: dict[str, float]) -> list[dict[str, Any]]:
        return [person(p) for p in sorted(scores, key=lambda p: (-scores[p], p))[:top]]

    return {"betweenness": "exact" if sources == n else "approximate",
            "betweenness_sources": sources, "by_pagerank": best(rank),
            "by_betweenness": best(between)}


def betweenness_sources(people: int, ties: int, exact_max: int = EXACT_BETWEENNESS) -> int:
    """How many sources betweenness counts from: everyone up to ``exact_max`` people,
    else about ``SAMPLE_BUDGET`` tie visits' worth, between 32 and 256 (and <= people)."""
    if people <= exact_max:
        return people
    return min(people, max(32, min(256, SAMPLE_BUDGET // max(ties, 1))))


def radius(graph: nx.Graph, person: str, depth: int = RADIUS) -> dict[str, Any]:
    """How many people ``person`` reaches at 1..depth degrees (a ``Radius`` as a dict)."""
    graphs.check_person(graph, person, "from_person")
    hops = nx.single_source_shortest_path_length(graph, person, cutoff=depth)
    cost = nx.single_source_dijkstra_path_length(graph, person, weight="cost")
    at = [0] * depth
    for d in hops.values():
        if d:
            at[d - 1] += 1
    reach = sum(math.exp(-cost[name]) for name, d in hops.items() if d)
    others = graph.number_of_nodes() - 1
    ties = sorted(graph[person].items(), key=lambda kv: (-kv[1]["weight"], kv[0]))[:5]
    return {"person": person, "at_degree": at, "within": sum(at),
            "share": round(sum(at) / others, 6) if others else 0.0,
            "weighted_reach": round(reach, 4), "component": len(cost) - 1,
            "strongest_ties": [tie_out(graph, person, other) for other, _ in ties]}


def summary(out: dict[str, Any]) -> list[str]:
    """A few sentences for people: network, path, reach, the most central."""
    net, rad, cen = out["network"], out["radius"], out["centrality"]
    lines = [f"{net['people']:,} people, {net['ties']:,} ties ({net['merged_rows']:,} repeated "
             f"rows merged, {net['self_loops_dropped']:,} self-loops dropped)."]
    if out["paths"] is not None:
        lines.append(out["paths"]["message"] + ".")
    at = rad["at_degree"]
    lines.append(f"{rad['person']} knows {at[0]:,} people directly, reaches {sum(at[:2]):,} "
                 f"within 2 degrees and {rad['within']:,} within {len(at)} "
                 f"({rad['share']:.1%} of the network).")
    names = ", ".join(p["name"] for p in cen["by_pagerank"][:3])
    brokers = ", ".join(p["name"] for p in cen["by_betweenness"][:3])
    lines.append(f"Most central by pagerank: {names}; top brokers ({cen['betweenness']} "
                 f"betweenness, {cen['betweenness_sources']:,} sources): {brokers}.")
    return lines


# ---------------------------------------------------------------- tasks


def rel_load(source: dict[str, Any], root: str, tenant: str, work: str,
             from_person: str | None, to_person: str | None, sample_edges: int,
             paths: bool) -> dict[str, Any]:
    """Materialise the input, parse and validate it, and write the compact graph file."""
    seed = source.get("sample")
    writer = functools.partial(graphs.write_sample_edges, edges=sample_edges)
    got = materialize(source, root=root, tenant=tenant, dest=Path(work) / "input.csv",
                      sample=writer)
    edges = graphs.parse_edges(graphs.read_text(Path(got["path"])))
    path = Path(work) / "graph.csv"
    path.parent.mkdir(parents=True, exist_ok=True)  # an inbox input leaves it uncreated
    median = graphs.write_graph(edges, path)
    people = graphs.people(edges)
    if seed is not None:
        a, b = graphs.pick_people(edges, int(seed))
        if from_person is None:
            from_person = a if a != to_person else b
        if paths and to_person is None:
            to_person = b if b != from_person else a
    assert from_person is not None  # Params: required without a sample
    graphs.check_person(people, from_person, "from_person")
    if to_person is not None:
        graphs.check_person(people, to_person, "to_person")
    return {"graph": str(path), "people": len(people), "ties": len(edges.ties),
            "rows": edges.rows, "merged_rows": edges.merged,
            "self_loops_dropped": edges.self_loops, "median_weight": median,
            "origin": got["origin"], "from_person": from_person, "to_person": to_person}


def rel_paths(ctx: TaskContext, max_degrees: int, paths: int) -> dict[str, Any] | None:
    """The best paths between the two people (None when no to_person)."""
    load: Any = ctx.deps["rel_load"]
    if load["to_person"] is None:
        return None
    graph = graphs.read_graph(load["graph"])
    return best_paths(graph, load["from_person"], load["to_person"],
                      max_degrees=max_degrees, k=paths)


def rel_centrality(ctx: TaskContext, top: int) -> dict[str, Any]:
    """The most central people."""
    load: Any = ctx.deps["rel_load"]
    return centrality(graphs.read_graph(load["graph"]), top)


def rel_radius(ctx: TaskContext) -> dict[str, Any]:
    """The influence radius of from_person."""
    load: Any = ctx.deps["rel_load"]
    return radius(graphs.read_graph(load["graph"]), load["from_person"])


async def rel_report(ctx: TaskContext) -> dict[str, Any]:
    """Join the steps into the template's output (checked against ``Output``)."""
    load: Any = ctx.deps["rel_load"]
    network = {k: load[k] for k in Network.model_fields}
    out = {"network": network, "paths": ctx.deps.get("rel_paths"),
           "centrality": ctx.deps["rel_centrality"], "radius": ctx.deps["rel_radius"]}
    return Output(**out, summary=summary(out)).model_dump(mode="json")


# ---------------------------------------------------------------- registration


def add_relationships(registry: Registry, root: Path) -> None:
    """Register the relationship_mapping feature, its tasks and its template."""
    registry.feature(FEATURE, "standard", description=(
        "paths, centrality and reach in a network of relationships (networkx)"))
    heavy: dict[str, Any] = {"run_in": "process", "cpu": 1.0, "feature": FEATURE}
    # memory_mb: the peaks measured on 100,000 ties (bench/relationships.py), rounded up.
    load = registry.task(rel_load, timeout_s=300, memory_mb=160, **heavy)
    paths_task = registry.task(rel_paths, timeout_s=300, memory_mb=160, **heavy)
    central = registry.task(rel_centrality, timeout_s=300, memory_mb=185, **heavy)
    reach = registry.task(rel_radius, timeout_s=300, memory_mb=160, **heavy)
    report = registry.task(rel_report, feature=FEATURE)

    @registry.template(params=Params, output=Output, feature=FEATURE)
    def relationship_mapping(p: Params, ctx: TemplateContext) -> Workflow:
        """Map a relationship network: best paths between two people, central people,
        and one person's reach."""
        work = workdir(root)
        wants_paths = p.to_person is not None or p.source.sample is not None
        wf = Workflow("relationship_mapping")
        first = wf.add(load, {
            "source": p.source.model_dump(exclude_none=True), "root": str(root),
            "tenant": ctx.tenant, "work": str(work), "from_person": p.from_person,
            "to_person": p.to_person, "sample_edges": p.sample_edges, "paths": wants_paths})
        steps = [wf.add(central, {"top": p.top}, after=[first]),
                 wf.add(reach, after=[first])]
        if wants_paths:
            steps.append(wf.add(paths_task, {"max_degrees": p.max_degrees, "paths": p.paths},
                                after=[first]))
        wf.add(report, after=[first, *steps])
        return wf
