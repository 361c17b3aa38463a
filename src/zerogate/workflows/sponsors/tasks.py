"""The task handlers of ``sponsor_analysis``, one per step of its DAG.

Module-level functions, since the process steps are imported by module and name in a
child process. Large intermediate results pass as JSON files in the work folder; the
results name them, with small summaries for telemetry.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from zerogate import TaskContext
from zerogate.errors import InvalidInput
from zerogate.workflows.inputs import materialize
from zerogate.workflows.sponsors.models import SponsorOutput
from zerogate.workflows.sponsors.parsing import parse_interactions
from zerogate.workflows.sponsors.recommendations import recommendations
from zerogate.workflows.sponsors.samples import write_sample_interactions
from zerogate.workflows.sponsors.scoring import (
    funding_probability,
    gifts_by_org,
    influence,
    influence_graph,
    strengths,
)


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
