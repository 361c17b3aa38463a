"""The recommendations of ``sponsor_analysis``: asks, calls and introductions.

From the ranked sponsors, the contacts' strength now and before, and the brokers, each
recommendation carries a priority 0..1 so the report can list the most useful first.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from zerogate.workflows import strength as st

LEVEL_RANK = {name: i for i, (_, name) in enumerate(reversed(st.LEVELS))}
ASK_AT = 0.5  # ask a sponsor at this probability or more ...
RENEW_AFTER_DAYS = 300  # ... when its last gift is at least this old (or there is none)


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
