"""relationship_mapping: edge-list parsing, path quality and degree limits, centrality,
radius, and the template end to end on a real engine (SQLite, child processes)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from zerogate import Registry
from zerogate.domain.model import WorkflowState
from zerogate.errors import InvalidInput
from zerogate.templates import TemplateParamsInvalid
from zerogate.workflows.relationships import graphs
from zerogate.workflows.relationships.templates import (
    Output,
    add_relationships,
    best_paths,
    betweenness_sources,
    centrality,
    radius,
)

# Two routes from A to D: two weak ties (A-B-D) or three strong ones (A-C-E-D).
# Median weight 9: strength 1/(1+9) = 0.1 for a weight-1 tie, 9/18 = 0.5 for weight 9,
# so A-B-D has quality 0.01 and A-C-E-D 0.125.
DETOUR = ("source,target,weight,kind\nA,B,1,board\nB,D,1,board\nA,C,9,family\n"
          "C,E,9,colleague\nE,D,9,donor\n")
CHAIN = "source,target\n" + "".join(f"P{i},P{i + 1}\n" for i in range(8))  # P0 .. P8


def graph_of(tmp_path: Path, text: str) -> nx.Graph:
    path = tmp_path / "graph.csv"
    graphs.write_graph(graphs.parse_edges(text), path)
    return graphs.read_graph(path)


# ---------------------------------------------------------------- parsing


def test_parse_merges_repeated_pairs_and_drops_self_loops() -> None:
    edges = graphs.parse_edges("\ufeffSource, Target ,Weight,Kind\nA,B,2,Board\nB,A,3,donor\n"
                               "C,C,1,\n\nA,C,,\n")
    assert edges.ties == {("A", "B"): (5.0, frozenset({"board", "donor"})),
                          ("A", "C"): (1.0, frozenset())}
    assert (edges.rows, edges.merged, edges.self_loops) == (4, 1, 1)
    assert graphs.median_weight(edges) == 3.0
    assert graphs.strength(3.0, 3.0) == 0.5


@pytest.mark.parametrize(("text", "message"), [
    ("", "the edge list is empty"),
    ("source,target,color\nA,B,red\n", "unknown column(s) 'color'"),
    ("source,weight\nA,1\n", "missing column(s) 'target'"),
    ("source,target,source\nA,B,C\n", "'source' appear more than once"),
    ("source,target,weight\nA,B,1\nB,C,0\n", "line 3: weight 0 must be a finite number > 0"),
    ("source,target,weight\nA,B,-2\n", "line 2: weight -2 must be"),
    ("source,target,weight\nA,B,lots\n", "line 2: weight 'lots' is not a number"),
    ("source,target\nA,B\nC\n", "line 3: expected 2 fields, got 1"),
    ("source,target\nA, \n", "line 2: empty target"),
    ("source,target\nA,A\n", "no ties between two different people (1 rows, 1 of them"),
])
def test_parse_rejects_bad_edge_lists(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        graphs.parse_edges(text)
    assert message in str(err.value)


def test_non_utf8_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"source,target\n\xff\xfe,B\n")
    with pytest.raises(InvalidInput, match="not UTF-8 text"):
        graphs.read_text(path)


def test_sample_is_seeded_and_exactly_sized(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    graphs.write_sample_edges(a, 4, edges=3_000)
    graphs.write_sample_edges(b, 4, edges=3_000)
    graphs.write_sample_edges(c, 5, edges=3_000)
    assert a.read_text() == b.read_text() != c.read_text()
    edges = graphs.parse_edges(a.read_text())
    assert (len(edges.ties), edges.merged, edges.self_loops) == (3_000, 0, 0)
    graph = nx.Graph(list(edges.ties))
    assert nx.is_connected(graph)
    assert max(d for _, d in graph.degree()) >= 30  # hubs
    assert graphs.pick_people(edges, 4) == graphs.pick_people(edges, 4)


# ---------------------------------------------------------------- paths


def test_best_path_by_quality_is_not_the_shortest(tmp_path: Path) -> None:
    out = best_paths(graph_of(tmp_path, DETOUR), "A", "D", max_degrees=7, k=5)
    assert [p["people"] for p in out["paths"]] == [["A", "C", "E", "D"], ["A", "B", "D"]]
    assert [p["quality"] for p in out["paths"]] == [0.125, 0.01]
    assert out["degrees_apart"] == 2 and out["found"] and out["complete"]
    assert out["paths"][0]["ties"][0] == {"source": "A", "target": "C", "weight": 9.0,
                                          "kind": "family", "strength": 0.5}
    assert "2 degrees apart" in out["message"] and "via C, E (3 degrees" in out["message"]


def test_paths_longer_than_the_limit_are_not_returned(tmp_path: Path) -> None:
    out = best_paths(graph_of(tmp_path, DETOUR), "A", "D", max_degrees=2, k=5)
    assert [p["people"] for p in out["paths"]] == [["A", "B", "D"]]
    assert out["complete"]


def test_stopped_search_still_gives_the_fewest_ties(tmp_path: Path) -> None:
    # The cheapest candidate (A-C-E-D) is over the limit and the search stops after it.
    out = best_paths(graph_of(tmp_path, DETOUR), "A", "D", max_degrees=2, k=5,
                     max_candidates=1)
    assert [p["people"] for p in out["paths"]] == [["A", "B", "D"]]
    assert not out["complete"] and "the search stopped after 1 candidate" in out["message"]


def test_seven_degrees_reach_a_chain_of_seven_not_eight(tmp_path: Path) -> None:
    graph = graph_of(tmp_path, CHAIN)
    seven = best_paths(graph, "P0", "P7", max_degrees=7)
    assert [p["degrees"] for p in seven["paths"]] == [7]
    assert seven["paths"][0]["quality"] == 0.5 ** 7
    eight = best_paths(graph, "P0", "P8", max_degrees=7)
    assert (eight["found"], eight["paths"], eight["degrees_apart"]) == (False, [], 8)
    assert eight["message"] == "no path within 7 degrees: P0 and P8 are 8 degrees apart"


def test_unconnected_people_are_an_answer(tmp_path: Path) -> None:
    out = best_paths(graph_of(tmp_path, "source,target\nA,B\nC,D\n"), "A", "D")
    assert (out["found"], out["degrees_apart"]) == (False, None)
    assert out["message"] == "A and D are not connected at all"


def test_unknown_person_is_named(tmp_path: Path) -> None:
    graph = graph_of(tmp_path, DETOUR)
    with pytest.raises(InvalidInput, match="to_person 'Zed' is not among the 5 people"):
        best_paths(graph, "A", "Zed")
    with pytest.raises(InvalidInput, match="did you mean 'Ada Bauer'"):
        graphs.check_person({"Ada Bauer", "Ben Ito"}, "Ada Baur", "from_person")


# ---------------------------------------------------------------- centrality and radius


def test_centrality_of_a_star_is_exact_below_the_threshold(tmp_path: Path) -> None:
    star = "source,target,weight\n" + "".join(f"H,L{i},{i}\n" for i in range(1, 5))
    out = centrality(graph_of(tmp_path, star), top=2)
    assert (out["betweenness"], out["betweenness_sources"]) == ("exact", 5)
    hub = out["by_pagerank"][0]
    assert (hub["name"], hub["ties"], hub["weighted_degree"]) == ("H", 4, 10.0)
    assert (hub["degree_centrality"], hub["betweenness"]) == (1.0, 1.0)
    assert out["by_betweenness"][0]["name"] == "H"
    assert out["by_pagerank"][1]["name"] == "L4"  # the strongest tie holds most rank
    assert out["by_betweenness"][1]["betweenness"] == 0.0


def test_betweenness_is_sampled_above_the_threshold(tmp_path: Path) -> None:
    ring = "source,target\n" + "".join(f"R{i},R{(i + 1) % 400}\n" for i in range(400))
    graph = graph_of(tmp_path, ring)
    approx = centrality(graph, top=3, exact_max=100)
    assert (approx["betweenness"], approx["betweenness_sources"]) == ("approximate", 256)
    exact = centrality(graph, top=3, exact_max=400)
    assert (exact["betweenness"], exact["betweenness_sources"]) == ("exact", 400)
    # On a ring every person is equally between; the estimate is close to exact.
    truth = exact["by_betweenness"][0]["betweenness"]
    assert all(abs(p["betweenness"] - truth) < 0.25 * truth for p in approx["by_betweenness"])


def test_betweenness_sources_follow_the_size() -> None:
    assert betweenness_sources(1_000, 5_000) == 1_000  # exact up to the threshold
    assert betweenness_sources(1_001, 5_000) == 256  # 2,000,000 // 5,000 = 400, capped
    assert betweenness_sources(5_000, 20_000) == 100
    assert betweenness_sources(23_000, 100_000) == 32  # 20, raised to the floor
    assert betweenness_sources(200, 50, exact_max=100) == 200  # never more than people


def test_radius_counts_people_by_degree(tmp_path: Path) -> None:
    line = "source,target,weight\nA,B,1\nB,C,1\nC,D,1\nD,E,1\nA,F,3\n"
    out = radius(graph_of(tmp_path, line), "A")
    # Median weight 1: strengths 0.5, and 3/4 for A-F.
    assert out["at_degree"] == [2, 1, 1] and out["within"] == 4 and out["component"] == 5
    assert out["share"] == 0.8
    assert out["weighted_reach"] == 0.75 + 0.5 + 0.25 + 0.125
    assert [t["target"] for t in out["strongest_ties"]] == ["F", "B"]


# ---------------------------------------------------------------- params


def test_params_errors_name_each_problem() -> None:
    registry = Registry()
    add_relationships(registry, Path("unused"))
    template = registry.templates.get("relationship_mapping")
    with pytest.raises(TemplateParamsInvalid) as err:
        template.validate({"source": {"text": "x", "sample": 1}, "max_degrees": 8,
                           "paths": 0, "colour": "red"})
    locs = {tuple(e["loc"]) for e in err.value.errors}
    assert {("source",), ("max_degrees",), ("paths",), ("colour",)} <= locs
    with pytest.raises(TemplateParamsInvalid, match="from_person is required"):
        template.validate({"source": {"text": DETOUR}})
    with pytest.raises(TemplateParamsInvalid, match="must be different people"):
        template.validate({"source": {"text": DETOUR}, "from_person": "A", "to_person": "A"})
    ok = template.validate({"source": {"sample": 3}})
    assert (ok.max_degrees, ok.paths, ok.top, ok.sample_edges) == (7, 5, 20, 5_000)


# ---------------------------------------------------------------- end to end


async def test_inline_base64_and_inbox_inputs(template_rig: Callable[..., Any]) -> None:
    async with template_rig(add_relationships) as rig:
        (rig.inbox() / "team.csv").write_text(DETOUR)
        encoded = base64.b64encode(DETOUR.encode()).decode()
        for source in ({"text": DETOUR}, {"base64": encoded}, {"file": "team.csv"}):
            results = await rig.run("relationship_mapping", {
                "source": source, "from_person": "A", "to_person": "D", "top": 3})
            out = Output.model_validate(results["rel_report"])
            assert out.paths is not None and out.paths.paths[0].people == ["A", "C", "E", "D"]
            assert (out.network.people, out.network.ties) == (5, 5)
            assert out.radius.at_degree == [2, 2, 0] and len(out.centrality.by_pagerank) == 3
        assert out.network.origin == "file"
        alone = await rig.run("relationship_mapping", {"source": {"text": DETOUR},
                                                        "from_person": "B"})
        assert "rel_paths" not in alone
        assert Output.model_validate(alone["rel_report"]).paths is None


async def test_sample_graph_end_to_end(template_rig: Callable[..., Any]) -> None:
    async with template_rig(add_relationships) as rig:
        results = await rig.run("relationship_mapping", {
            "source": {"sample": 11}, "sample_edges": 20_000, "max_degrees": 6})
    out = Output.model_validate(results["rel_report"])
    assert out.network.ties == 20_000 and out.network.origin == "sample"
    assert 4_000 < out.network.people < 5_000
    assert out.centrality.betweenness == "approximate"
    assert out.paths is not None and out.paths.found and out.paths.complete
    assert all(p.degrees <= 6 for p in out.paths.paths)
    qualities = [p.quality for p in out.paths.paths]
    assert qualities == sorted(qualities, reverse=True) and len(qualities) == 5
    assert out.radius.person == out.paths.from_person and out.radius.within > 0
    assert len(out.summary) == 4


async def test_unknown_person_and_bad_file_fail_clearly(
        template_rig: Callable[..., Any]) -> None:
    async with template_rig(add_relationships) as rig:
        status = await rig.outcome("relationship_mapping", {
            "source": {"text": DETOUR}, "from_person": "A", "to_person": "Zed"})
        assert status.state is WorkflowState.FAILED
        assert "to_person 'Zed' is not among the 5 people" in status.errors["rel_load"]
        bad = await rig.outcome("relationship_mapping", {
            "source": {"text": "source,target,weight\nA,B,1\nB,C,none\n"},
            "from_person": "A"})
        assert bad.state is WorkflowState.FAILED
        assert "line 3: weight 'none' is not a number" in bad.errors["rel_load"]
        assert "attempts" not in bad.errors["rel_load"]  # failed at once, not retried
