"""Scoring the sponsors of ``sponsor_analysis``: strength, influence and funding.

- strength per contact and organisation, now and one half-life ago (``strengths``,
  with ``workflows.strength``), so a fading relationship shows;
- influence from a networkx graph of contacts, organisations and contacts who met at
  the same gathering (``influence_graph``, ``influence``); brokers link two sponsors;
- the probability that a sponsor funds us (``funding_probability``, ``gifts_by_org``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any

import networkx as nx

from zerogate.workflows import strength as st

GATHERINGS = ("meeting", "event")  # kinds where everyone there on one day met each other
# Funding model (see funding_probability): logit coefficients, all >= 0.
COEF = {"intercept": -3.0, "strength": 3.5, "gifts": 0.8, "gift_recency": 1.2,
        "influence": 1.0}
GIFT_HALF_LIFE_DAYS = 365.0


def strengths(rows: list[dict[str, Any]], now: float, half_life_days: float
              ) -> dict[str, dict[str, Any]]:
    """Per contact and per organisation: strength now, and one half-life earlier."""
    by: dict[str, dict[str, list[dict[str, Any]]]] = {"contacts": defaultdict(list),
                                                       "organisations": defaultdict(list)}
    for r in rows:
        by["contacts"][r["contact"]].append(r)
        by["organisations"][r["org"]].append(r)
    before = now - half_life_days * st.DAY
    out: dict[str, dict[str, Any]] = {}
    for group, key, other in (("contacts", "org", "organisation"),
                              ("organisations", "contact", "key_contact")):
        out[group] = {}
        for name, history in by[group].items():
            seen = [st.Interaction(r["at"], r["ours"]) for r in history]
            was = st.strength(seen, before, half_life_days=half_life_days)
            counts = Counter(r[key] for r in history)
            out[group][name] = {
                **st.strength(seen, now, half_life_days=half_life_days).as_dict(),
                "before_score": round(was.score, 2), "before_level": was.level,
                other: min(counts, key=lambda k: (-counts[k], k)), "links": len(counts)}
    return out


def influence_graph(rows: list[dict[str, Any]]) -> nx.Graph:
    """Contacts and organisations (edge weight: interactions), and contacts who met at
    the same meeting or event of one sponsor on one day (weight: times they met)."""
    graph = nx.Graph()
    met: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in rows:
        _bump(graph, ("contact", r["contact"]), ("org", r["org"]))
        if r["kind"] in GATHERINGS:
            met[(r["kind"], r["org"], r["day"])].add(r["contact"])
    for people in met.values():
        for a, b in combinations(sorted(people), 2):
            _bump(graph, ("contact", a), ("contact", b))
    return graph


def _bump(graph: nx.Graph, a: tuple[str, str], b: tuple[str, str]) -> None:
    weight = graph.get_edge_data(a, b, default={"weight": 0})["weight"]
    graph.add_edge(a, b, weight=weight + 1)


def influence(graph: nx.Graph) -> dict[str, Any]:
    """Influence 0..1 per node: half pagerank, half degree centrality, each relative to
    the graph's highest; brokers are contacts linked to two sponsors or more."""
    rank = nx.pagerank(graph, weight="weight")
    degree = nx.degree_centrality(graph)
    top_rank, top_degree = max(rank.values()), max(degree.values()) or 1.0
    out: dict[str, Any] = {"contacts": {}, "organisations": {}, "brokers": []}
    for node in graph:
        kind, name = node
        score = 0.5 * rank[node] / top_rank + 0.5 * degree[node] / top_degree
        entry = {"influence": round(score, 4), "pagerank": round(rank[node], 6),
                 "degree": round(degree[node], 4)}
        out["contacts" if kind == "contact" else "organisations"][name] = entry
        orgs = sorted(((-d["weight"], o) for (k, o), d in graph[node].items() if k == "org"))
        if kind == "contact" and len(orgs) >= 2:
            out["brokers"].append({"contact": name, "organisations": [o for _, o in orgs],
                                   "influence": entry["influence"]})
    out["brokers"].sort(key=lambda b: (-b["influence"], b["contact"]))
    return out


def funding_probability(strength_score: float, gifts: int, last_gift_days: float | None,
                        influence: float) -> float:
    """Probability that a sponsor funds us, by a logistic model with hand-set priors
    (the input has no outcomes to fit on)::

        logit = -3.0 + 3.5 s + 0.8 ln(1 + gifts) + 1.2 r + 1.0 i

    ``s`` strength score / 100; ``r = 2 ** (-days since last gift / 365)``, 0 without
    a gift; ``i`` influence 0..1. The intercept puts a cold, never-giving, peripheral
    sponsor near 5%. Strength weighs most: relationships fund. Past giving predicts
    giving, with diminishing returns (log), and a gift within the year counts most, as
    lapsed donors rarely return. A central sponsor (influence) hears of us more. Every
    coefficient is >= 0 and no feature depends on another, so the probability is
    monotone in each: a stronger relationship never lowers it."""
    recency = 0.0 if last_gift_days is None else 2.0 ** (-last_gift_days / GIFT_HALF_LIFE_DAYS)
    logit = (COEF["intercept"] + COEF["strength"] * strength_score / 100.0
             + COEF["gifts"] * math.log1p(gifts) + COEF["gift_recency"] * recency
             + COEF["influence"] * influence)
    return 1.0 / (1.0 + math.exp(-logit))


def gifts_by_org(rows: list[dict[str, Any]], now: float) -> dict[str, dict[str, Any]]:
    """Per organisation: number of gifts, their total, days since the last one."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["kind"] == "gift":
            g = out.setdefault(r["org"], {"gifts": 0, "gift_total": 0.0, "last": 0.0})
            g["gifts"] += 1
            g["gift_total"] += r["amount"] or 0.0
            g["last"] = max(g["last"], r["at"])
    return {o: {"gifts": g["gifts"], "gift_total": round(g["gift_total"], 2),
                "last_gift_days": int((now - g["last"]) // st.DAY)} for o, g in out.items()}
