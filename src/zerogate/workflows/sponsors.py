"""Template ``sponsor_analysis``: how close each sponsor is, and what to do next.

Replaces a sponsor-relationship platform's core analysis. The input is an interaction
history CSV, one row per contact with a sponsor: ``date`` (ISO date or datetime),
``contact``, ``organisation``, ``kind`` (meeting, call, email, letter, event, gift),
``direction`` (ours | theirs: who started it) and an optional ``amount`` for gifts.
The DAG (each step a task, so telemetry shows each one)::

    sponsor_load --+-- sponsor_strength ---+-- sponsor_funding -- sponsor_report
                   +-- sponsor_influence --+

- load validates the CSV and writes the interactions up to ``as_of`` as JSON;
- strength scores each contact and organisation with ``workflows.strength``, now and
  one half-life ago, so a fading relationship shows;
- influence builds a networkx graph (contacts, organisations, and contacts who sat in
  the same meeting or event) and scores nodes by pagerank and degree centrality; a
  contact linked to several sponsors is a broker;
- funding estimates each sponsor's probability of funding (``funding_probability``);
- report ranks the sponsors and recommends calls, asks and introductions.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate, combinations
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import pydantic

from zerogate.errors import InvalidInput
from zerogate.registry import Registry, Workflow
from zerogate.runtime.executor import TaskContext
from zerogate.templates import TemplateContext
from zerogate.workflows import strength as st
from zerogate.workflows.inputs import Source, materialize, workdir
from zerogate.workflows.samples import Cast

REQUIRED = ("date", "contact", "organisation", "kind", "direction")
KINDS = ("meeting", "call", "email", "letter", "event", "gift")
DIRECTIONS = {"ours": True, "theirs": False}
GATHERINGS = ("meeting", "event")  # kinds where everyone there on one day met each other
LEVEL_RANK = {name: i for i, (_, name) in enumerate(reversed(st.LEVELS))}
# Funding model (see funding_probability): logit coefficients, all >= 0.
COEF = {"intercept": -3.0, "strength": 3.5, "gifts": 0.8, "gift_recency": 1.2,
        "influence": 1.0}
GIFT_HALF_LIFE_DAYS = 365.0
ASK_AT = 0.5  # ask a sponsor at this probability or more ...
RENEW_AFTER_DAYS = 300  # ... when its last gift is at least this old (or there is none)


class SponsorParams(pydantic.BaseModel):
    """An interaction history to analyse, and how."""

    model_config = pydantic.ConfigDict(extra="forbid")
    source: Source = pydantic.Field(description="interaction CSV: date, contact, "
                                    "organisation, kind, direction, amount (optional)")
    as_of: date | None = pydantic.Field(
        None, description="score as of the start of this day; default: the day after "
        "the latest interaction (later interactions are ignored)")
    half_life_days: float = pydantic.Field(
        90.0, gt=0, le=3650, description="days after which an interaction counts half")
    top: int = pydantic.Field(10, ge=1, le=200, description="recommendations to return")


class SponsorRow(pydantic.BaseModel):
    rank: int
    organisation: str
    probability: float = pydantic.Field(ge=0, le=1)
    strength: float = pydantic.Field(ge=0, le=100)
    level: str
    influence: float = pydantic.Field(ge=0, le=1)
    gifts: int
    gift_total: float
    last_gift_days: int | None
    last_contact_days: int | None
    contacts: int
    key_contact: str


class Broker(pydantic.BaseModel):
    contact: str
    organisations: list[str]
    influence: float


class Recommendation(pydantic.BaseModel):
    action: Literal["ask", "call", "introduce"]
    organisation: str
    contact: str | None
    priority: float
    text: str


class SponsorOutput(pydantic.BaseModel):
    as_of: date
    interactions: int
    contacts: int
    organisations: int
    sponsors: list[SponsorRow] = pydantic.Field(description="ranked, at most 100")
    ranking_path: str = pydantic.Field(description="CSV of the full ranking")
    brokers: list[Broker]
    recommendations: list[Recommendation]


# --- parsing ---------------------------------------------------------------------------

def parse_interactions(text: str) -> list[dict[str, Any]]:
    """The CSV's rows as interaction dicts; InvalidInput names the line and column of
    the first bad cell."""
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InvalidInput(f"the CSV lacks column(s) {', '.join(missing)} "
                               f"(its header: {', '.join(header) or 'empty'})")
        reader.fieldnames = header
        rows = [_row(f"line {reader.line_num}", raw) for raw in reader]
    except csv.Error as exc:
        raise InvalidInput(f"the input is not a readable CSV: {exc}") from None
    if not rows:
        raise InvalidInput("the CSV has a header but no interactions")
    return rows


def _row(where: str, raw: dict[str | None, Any]) -> dict[str, Any]:
    def cell(column: str) -> str:
        value = raw.get(column)
        return value.strip() if isinstance(value, str) else ""

    at, day = _when(cell("date"), where)
    for column in ("contact", "organisation"):
        if not cell(column):
            raise InvalidInput(f"{where}, column {column!r}: empty")
    kind, direction = cell("kind").lower(), cell("direction").lower()
    if kind not in KINDS:
        raise InvalidInput(f"{where}, column 'kind': {cell('kind')!r} is not one of "
                           f"{', '.join(KINDS)}")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"{where}, column 'direction': {cell('direction')!r} is not "
                           "ours or theirs")
    return {"at": at, "day": day, "contact": cell("contact"), "org": cell("organisation"),
            "kind": kind, "ours": DIRECTIONS[direction],
            "amount": _amount(cell("amount"), kind, where)}


def _when(text: str, where: str) -> tuple[float, str]:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{where}, column 'date': {text!r} is not an ISO date or "
                           "datetime") from None
    day = when.date().isoformat()  # the day as written, for who met whom
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp(), day


def _amount(text: str, kind: str, where: str) -> float | None:
    if not text:
        return None
    if kind != "gift":
        raise InvalidInput(f"{where}, column 'amount': {text!r} on a {kind} (only gifts "
                           "have amounts)")
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{where}, column 'amount': {text!r} is not an amount >= 0")
    return value


# --- scoring ---------------------------------------------------------------------------

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


# --- recommendations ---------------------------------------------------------------------

def recommendations(ranked: list[dict[str, Any]], contacts: dict[str, Any],
                    brokers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Asks, calls and introductions, by priority 0..1 (highest first).

    - ask a sponsor whose probability is >= 0.5 and whose last gift is 300+ days old
      (or who never gave): priority = probability;
    - call the contact whose strength fell most to weak or dormant, per sponsor:
      priority = (sponsor's probability + fraction of the score lost) / 2;
    - introduce a weak or dormant sponsor via a broker who also links a strong or
      moderate one: priority = (broker's influence + warm sponsor's strength / 100) / 2.
    """
    orgs = {s["organisation"]: s for s in ranked}
    out = [_ask(s) for s in ranked if s["probability"] >= ASK_AT and (
        s["last_gift_days"] is None or s["last_gift_days"] >= RENEW_AFTER_DAYS)]
    calls = [_call(name, c, orgs[c["organisation"]]) for name, c in contacts.items()
             if LEVEL_RANK[c["level"]] < LEVEL_RANK[c["before_level"]]
             and c["level"] in ("weak", "dormant") and c["organisation"] in orgs]
    intros = []
    for b in brokers:
        linked = [orgs[o] for o in b["organisations"] if o in orgs]
        warm = max((s for s in linked if s["level"] in ("strong", "moderate")),
                   key=lambda s: s["strength"], default=None)
        intros += [_intro(b, warm, cold) for cold in linked
                   if warm is not None and cold["level"] in ("weak", "dormant")]
    return _by_priority(out + _by_priority(calls, 1) + _by_priority(intros, 1))


def _by_priority(recs: list[dict[str, Any]], per_org: int = 0) -> list[dict[str, Any]]:
    """Highest priority first; with ``per_org``, only that many per organisation."""
    out, seen = [], Counter[str]()
    for rec in sorted(recs, key=lambda r: (-r["priority"], r["text"])):
        seen[rec["organisation"]] += 1
        if not per_org or seen[rec["organisation"]] <= per_org:
            out.append(rec)
    return out


def _ask(s: dict[str, Any]) -> dict[str, Any]:
    days = s["last_gift_days"]
    gift = "no gift yet" if days is None else f"last gift {round(days / 30.44)} months ago"
    return {"action": "ask", "organisation": s["organisation"], "contact": s["key_contact"],
            "priority": round(s["probability"], 4),
            "text": f"ask {s['organisation']}: probability {s['probability']:.2f}, {gift}"}


def _call(name: str, c: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    lost = (c["before_score"] - c["score"]) / c["before_score"]
    return {"action": "call", "organisation": s["organisation"], "contact": name,
            "priority": round((s["probability"] + lost) / 2, 4),
            "text": f"call {name} ({s['organisation']}): last contact "
                    f"{int(c['last_days'])} days ago, strength fell to {c['level']} "
                    f"(from {c['before_level']})"}


def _intro(b: dict[str, Any], warm: dict[str, Any], cold: dict[str, Any]) -> dict[str, Any]:
    return {"action": "introduce", "organisation": cold["organisation"],
            "contact": b["contact"],
            "priority": round((b["influence"] + warm["strength"] / 100) / 2, 4),
            "text": f"introduce via broker {b['contact']}, who links {warm['organisation']} "
                    f"({warm['level']}) and {cold['organisation']} ({cold['level']})"}


# --- tasks -----------------------------------------------------------------------------

def sponsor_load(source: dict[str, Any], root: str, tenant: str, work: str,
                 as_of: str | None) -> dict[str, Any]:
    """Materialise and validate the CSV; write the interactions up to ``as_of``."""
    Path(work).mkdir(parents=True, exist_ok=True)  # an inbox file is read where it is
    got = materialize(source, root=root, tenant=tenant, dest=Path(work) / "input.csv",
                      sample=write_sample_interactions)
    try:
        text = Path(got["path"]).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the input is not UTF-8 text: {exc}") from None
    rows = parse_interactions(text)
    last = datetime.fromtimestamp(max(r["at"] for r in rows), UTC).date()
    day = date.fromisoformat(as_of) if as_of else last + timedelta(days=1)
    now = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    kept = [r for r in rows if r["at"] <= now]
    if not kept:
        raise InvalidInput(f"no interaction is dated before as_of {day} (the first is "
                           f"{min(r['day'] for r in rows)})")
    path = Path(work) / "interactions.json"
    path.write_text(json.dumps(kept), encoding="utf-8")
    return {"path": str(path), "as_of": day.isoformat(), "now": now,
            "interactions": len(kept), "ignored_after_as_of": len(rows) - len(kept),
            "contacts": len({r["contact"] for r in kept}),
            "organisations": len({r["org"] for r in kept}),
            "gifts": sum(1 for r in kept if r["kind"] == "gift"), "input": got}


def sponsor_strength(ctx: TaskContext, work: str, half_life_days: float) -> dict[str, Any]:
    """Score every contact and organisation (now and one half-life ago)."""
    load = ctx.deps["sponsor_load"]
    scores = strengths(_read(load["path"]), load["now"], half_life_days)
    levels = Counter(s["level"] for s in scores["organisations"].values())
    return {"path": _write(Path(work) / "strength.json", scores), "levels": dict(levels)}


def sponsor_influence(ctx: TaskContext, work: str) -> dict[str, Any]:
    """Build the graph and score influence; find the brokers."""
    graph = influence_graph(_read(ctx.deps["sponsor_load"]["path"]))
    scores = influence(graph)
    return {"path": _write(Path(work) / "influence.json", scores),
            "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
            "brokers": len(scores["brokers"])}


def sponsor_funding(ctx: TaskContext, work: str) -> dict[str, Any]:
    """Funding probability per organisation, from strength, gifts and influence."""
    load = ctx.deps["sponsor_load"]
    orgs = _read(ctx.deps["sponsor_strength"]["path"])["organisations"]
    inf = _read(ctx.deps["sponsor_influence"]["path"])["organisations"]
    gifts = gifts_by_org(_read(load["path"]), load["now"])
    out = {}
    for name, s in orgs.items():
        g = gifts.get(name, {"gifts": 0, "gift_total": 0.0, "last_gift_days": None})
        p = funding_probability(s["score"], g["gifts"], g["last_gift_days"],
                                inf[name]["influence"])
        out[name] = {**g, "probability": round(p, 4)}
    mean = sum(o["probability"] for o in out.values()) / len(out)
    return {"path": _write(Path(work) / "funding.json", out), "mean_probability": round(mean, 4)}


def sponsor_report(ctx: TaskContext, work: str, top: int) -> dict[str, Any]:
    """Rank the sponsors, write the full ranking as CSV, and recommend what to do."""
    load = ctx.deps["sponsor_load"]
    strength = _read(ctx.deps["sponsor_strength"]["path"])
    inf = _read(ctx.deps["sponsor_influence"]["path"])
    funding = _read(ctx.deps["sponsor_funding"]["path"])
    rows = [{"organisation": o, "probability": f["probability"],
             "strength": s["score"], "level": s["level"],
             "influence": inf["organisations"][o]["influence"], "gifts": f["gifts"],
             "gift_total": f["gift_total"], "last_gift_days": f["last_gift_days"],
             "last_contact_days": None if s["last_days"] is None else int(s["last_days"]),
             "contacts": s["links"], "key_contact": s["key_contact"]}
            for o, s in strength["organisations"].items() for f in [funding[o]]]
    rows.sort(key=lambda r: (-r["probability"], -r["strength"], r["organisation"]))
    ranked = [{"rank": i, **r} for i, r in enumerate(rows, start=1)]
    path = Path(work) / "sponsor_ranking.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(ranked[0]))
        writer.writeheader()
        writer.writerows(ranked)
    recs = recommendations(ranked, strength["contacts"], inf["brokers"])
    return SponsorOutput.model_validate({
        "as_of": load["as_of"], "interactions": load["interactions"],
        "contacts": load["contacts"], "organisations": load["organisations"],
        "sponsors": ranked[:100], "ranking_path": str(path), "brokers": inf["brokers"][:20],
        "recommendations": recs[:top]}).model_dump(mode="json")


def _read(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


# --- sample data -------------------------------------------------------------------------

SAMPLE_END, SAMPLE_DAYS = date(2025, 6, 30), 730
SAMPLE_KINDS = ("email", "call", "meeting", "letter")
SAMPLE_KIND_WEIGHTS = (0.35, 0.25, 0.22, 0.18)


def write_sample_interactions(path: Path, seed: int, *, rows: int = 2000, orgs: int = 40,
                              contacts: int = 150) -> None:
    """A seeded two-year history: sponsors of varied warmth (some lapse months before
    the end), yearly gifts from about half, events with several of a sponsor's people,
    and a few brokers who attend events of several sponsors."""
    rng = random.Random(seed)
    names = Cast(seed).orgs(orgs)
    people = Cast(seed).people(contacts, names)
    staff: dict[str, list[str]] = defaultdict(list)
    for person in people:
        staff[person.org].append(person.name)
    life = {o: (0 if rng.random() < 0.8 else rng.randrange(300),  # days active
                SAMPLE_DAYS if rng.random() < 0.7 else rng.randrange(480, 630))
            for o in names}
    weights = list(accumulate(rng.uniform(0.3, 1.7) * (life[o][1] - life[o][0])
                              for o in names))
    ours = {o: rng.uniform(0.35, 0.8) for o in names}
    links = {p.name: [p.org, *rng.sample(names, 3)] for p in rng.sample(people, 5)}
    out: list[tuple[int, str, str, str, bool, float | None]] = []
    for _ in range(rows // 40):  # events of one sponsor, with brokers who link it
        host = rng.choice(names)
        day = rng.randrange(*life[host])
        there = rng.sample(staff[host], min(len(staff[host]), rng.randint(1, 3)))
        there += [b for b, linked in links.items() if host in linked and rng.random() < 0.8]
        out += [(day, who, host, "event", rng.random() < 0.2, None) for who in set(there)]
    for o in (o for o in names if rng.random() < 0.5):  # yearly gifts from about half
        day = life[o][0] + rng.randrange(30, 200)
        while day < life[o][1]:
            out.append((day, rng.choice(staff[o]), o, "gift", False,
                        500.0 * rng.randint(4, 200)))
            day += rng.randrange(300, 420)
    while len(out) < rows:
        o = rng.choices(names, cum_weights=weights)[0]
        day = rng.randrange(*life[o])
        kind = rng.choices(SAMPLE_KINDS, SAMPLE_KIND_WEIGHTS)[0]
        who = rng.sample(staff[o], min(len(staff[o]), 2 if kind == "meeting" else 1))
        out += [(day, w, o, kind, rng.random() < ours[o], None) for w in who]
    _write_sample(path, sorted(out[:rows]), rng)


def _write_sample(path: Path, rows: list[tuple[int, str, str, str, bool, float | None]],
                  rng: random.Random) -> None:
    start = SAMPLE_END - timedelta(days=SAMPLE_DAYS)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["date", "contact", "organisation", "kind", "direction", "amount"])
        for day, who, org, kind, ours, amount in rows:
            when = datetime.combine(start + timedelta(days=day), datetime.min.time())
            stamp = (when + timedelta(minutes=rng.randrange(480, 1080))).isoformat() if (
                kind in ("call", "email")) else when.date().isoformat()
            writer.writerow([stamp, who, org, kind, "ours" if ours else "theirs",
                             "" if amount is None else f"{amount:.2f}"])


# --- registration ------------------------------------------------------------------------

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
