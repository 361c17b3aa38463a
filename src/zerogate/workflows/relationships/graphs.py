"""Relationship graphs on disk: parsing an edge list, the compact graph file, samples.

The relationship_mapping template (``zerogate.workflows.relationships``) reads a CSV
edge list with a header of ``source``, ``target``, optional ``weight`` (interaction
strength, > 0, default 1) and optional ``kind`` (colleague, board, donor, ...). Ties
are undirected: rows naming the same pair (either way round) merge into one tie whose
weight is their sum; self-loops are dropped and counted.

Each tie also gets a normalised strength ``w / (w + m)``, ``m`` the median merged
weight, so a typical tie scores 0.5, a tie ten times as strong about 0.9, and no hop
is ever free (strength < 1). The load step writes the merged ties with their strength
to a compact CSV that each analysis step, in its own process, reads back into networkx.

The sample generator builds communities of about 400 people, each a
``powerlaw_cluster_graph`` (hubs and triangles), joined by bridge ties that favour
hubs; people are named by ``samples.Cast``, weights and kinds are seeded.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import random
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from zerogate.errors import InvalidInput
from zerogate.workflows.samples import Cast

REQUIRED = ("source", "target")
COLUMNS = (*REQUIRED, "weight", "kind")
MAX_ROWS = 250_000
COMMUNITY = 400  # people per sample community
INSIDE = (("colleague", 55), ("alumni", 15), ("advisor", 15), ("board", 10), ("family", 5))
BRIDGE = (("donor", 35), ("board", 25), ("advisor", 20), ("alumni", 20))


@dataclass
class EdgeList:
    """Merged undirected ties ``{(a, b): [weight, kinds]}`` with a < b, and what was dropped."""

    ties: dict[tuple[str, str], tuple[float, frozenset[str]]] = field(default_factory=dict)
    rows: int = 0
    merged: int = 0
    self_loops: int = 0


def parse_edges(text: str) -> EdgeList:
    """Parse and validate an edge list CSV; InvalidInput says exactly what is wrong."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise InvalidInput("the edge list is empty: expected a header row with "
                               "source,target[,weight][,kind]")
        index = _columns(header)
        edges = EdgeList()
        for row in reader:
            if row and any(cell.strip() for cell in row):
                _add_row(edges, row, index, reader.line_num)
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV: {exc}") from None
    if not edges.ties:
        raise InvalidInput(f"the edge list has no ties between two different people "
                           f"({edges.rows} rows, {edges.self_loops} of them self-loops)")
    return edges


def _columns(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown column(s) {', '.join(map(repr, unknown))} in the header "
                           f"(allowed: {', '.join(COLUMNS)})")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(f"column(s) {', '.join(map(repr, repeated))} appear more than once")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise InvalidInput(f"missing column(s) {', '.join(map(repr, missing))} "
                           f"(header: {','.join(names)})")
    return {n: i for i, n in enumerate(names)}


def _add_row(edges: EdgeList, row: list[str], index: dict[str, int], line: int) -> None:
    if len(row) != len(index):
        raise InvalidInput(f"line {line}: expected {len(index)} fields, got {len(row)}")
    edges.rows += 1
    if edges.rows > MAX_ROWS:
        raise InvalidInput(f"the edge list has more than {MAX_ROWS:,} rows")
    a, b = row[index["source"]].strip(), row[index["target"]].strip()
    for column, name in (("source", a), ("target", b)):
        if not name:
            raise InvalidInput(f"line {line}: empty {column}")
    weight = _weight(row[index["weight"]], line) if "weight" in index else 1.0
    kind = row[index["kind"]].strip().lower() if "kind" in index else ""
    if a == b:
        edges.self_loops += 1
        return
    key = (a, b) if a < b else (b, a)
    kinds = frozenset([kind] if kind else [])
    known = edges.ties.get(key)
    if known is not None:
        edges.merged += 1
        weight, kinds = weight + known[0], kinds | known[1]
    edges.ties[key] = (weight, kinds)


def _weight(cell: str, line: int) -> float:
    text = cell.strip()
    if not text:
        return 1.0
    try:
        weight = float(text)
    except ValueError:
        raise InvalidInput(f"line {line}: weight {text!r} is not a number") from None
    if not (math.isfinite(weight) and weight > 0):
        raise InvalidInput(f"line {line}: weight {text} must be a finite number > 0")
    return weight


def read_text(path: Path) -> str:
    """The file as text (UTF-8, with or without a byte-order mark)."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the edge list is not UTF-8 text (byte {exc.start}: "
                           f"{exc.reason})") from None


# ---------------------------------------------------------------- the compact graph file


def median_weight(edges: EdgeList) -> float:
    return float(statistics.median(w for w, _ in edges.ties.values()))


def strength(weight: float, median: float) -> float:
    """A weight normalised into (0, 1): 0.5 at the median weight."""
    return weight / (weight + median)


def write_graph(edges: EdgeList, path: Path) -> float:
    """Write the merged ties with their strength; returns the median weight used."""
    median = median_weight(edges)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("source", "target", "weight", "kind", "strength"))
        for (a, b), (w, kinds) in edges.ties.items():
            out.writerow((a, b, repr(w), "+".join(sorted(kinds)), repr(strength(w, median))))
    return median


def read_graph(path: Path | str) -> nx.Graph:
    """The graph ``write_graph`` wrote; each tie has weight, kind, strength and
    cost = -log(strength), so the cheapest path is the strongest chain of ties."""
    graph = nx.Graph()
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        graph.add_edges_from(_tie(row) for row in rows)
    return graph


def _tie(row: list[str]) -> tuple[str, str, dict[str, object]]:
    a, b, w, kind, s = row
    value = float(s)
    return a, b, {"weight": float(w), "kind": kind or None, "strength": value,
                  "cost": -math.log(value)}


def people(edges: EdgeList) -> set[str]:
    """Everyone with at least one tie."""
    return {name for pair in edges.ties for name in pair}


def check_person(people: nx.Graph | set[str], name: str, role: str) -> None:
    """InvalidInput naming ``name`` (and close matches) if nobody in ``people`` has it."""
    if name in people:
        return
    close = difflib.get_close_matches(name, [str(n) for n in people], n=3, cutoff=0.75)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise InvalidInput(f"{role} {name!r} is not among the {len(people):,} people with ties "
                       f"in the graph{hint}")


def pick_people(edges: EdgeList, seed: int) -> tuple[str, str]:
    """Two different people of the largest connected group, chosen by ``seed``."""
    biggest = max(nx.connected_components(nx.Graph(list(edges.ties))), key=len)
    a, b = random.Random(seed).sample(sorted(biggest), 2)
    return a, b


# ---------------------------------------------------------------- sample data


def write_sample_edges(path: Path, seed: int, edges: int = 5_000) -> None:
    """Write a sample edge list of exactly ``edges`` ties (at least 10) for ``seed``."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(sample_rows(rng, seed, max(edges, 10)))


def sample_rows(rng: random.Random, seed: int,
                edges: int) -> Iterator[tuple[str, str, int, str]]:
    """Rows (source, target, weight, kind): communities, then bridges up to ``edges``."""
    people = max(edges * 11 // 48, 8)  # 4 ties a person inside: about 11/12 of the ties
    names = [p.name for p in Cast(seed).people(people, orgs=["sample"])]
    sizes = _community_sizes(people)
    seen: set[tuple[int, int]] = set()
    start = 0
    for c, size in enumerate(sizes):
        ties = nx.powerlaw_cluster_graph(size, min(4, size - 1), 0.3, seed=seed * 1009 + c)
        for u, v in ties.edges():
            if len(seen) < edges:
                seen.add((start + u, start + v))
                yield names[start + u], names[start + v], _sample_weight(rng), _kind(rng, INSIDE)
        start += size
    for u, v in _bridges(rng, seen, sizes, edges - len(seen)):
        yield names[u], names[v], _sample_weight(rng), _kind(rng, BRIDGE)


def _community_sizes(people: int) -> list[int]:
    count = max(math.ceil(people / COMMUNITY), 1)
    base, extra = divmod(people, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def _bridges(rng: random.Random, seen: set[tuple[int, int]], sizes: list[int],
             wanted: int) -> Iterable[tuple[int, int]]:
    """``wanted`` new ties: one end degree-biased (a random end of a known tie), the
    other anyone (in another community when there are several)."""
    ends = [x for pair in seen for x in pair]
    people = sum(sizes)
    owner = [c for c, size in enumerate(sizes) for _ in range(size)]
    made = 0
    while made < wanted:
        u, v = rng.choice(ends), rng.randrange(people)
        key = (min(u, v), max(u, v))
        if u == v or key in seen or (len(sizes) > 1 and owner[u] == owner[v]):
            continue
        seen.add(key)
        made += 1
        yield key


def _sample_weight(rng: random.Random) -> int:
    return min(int(rng.paretovariate(1.4)), 60)


def _kind(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]
