"""The ``email_strength`` step: each contact's relationship strength from the message
history, moved by the tone of their messages.

``workflows.strength`` scores each contact's dated messages (ours = we sent it). The
tone adjustment is ``10 * mean * n / (n + 3)`` points for a contact whose ``n`` scored
messages average ``mean``, so one angry message moves a score at most 2.5 points and a
long, consistently warm or cold history up to 10; the score is clamped to 0-100.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from zerogate import TaskContext
from zerogate.workflows.mail.records import as_of_time, counterparts, iso, load, write_json
from zerogate.workflows.strength import Interaction, level, strength

TONE_POINTS, TONE_PRIOR = 10.0, 3.0  # the strength adjustment, see the module docstring


def email_strength(ctx: TaskContext, as_of: str | None, half_life_days: float) -> dict[str, Any]:
    """Relationship strength per contact from the message history, moved by tone."""
    parsed: dict[str, Any] = ctx.deps["email_parse"]
    tone_path = ctx.deps["email_sentiment"]["path"]
    tones = json.loads(Path(tone_path).read_text(encoding="utf-8"))["contacts"]
    me, now = frozenset(parsed["me"]), as_of_time(as_of, parsed)
    history: defaultdict[str, list[Interaction]] = defaultdict(list)
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    names: dict[str, str] = {}
    for m in load(parsed["path"], text=False):
        names.update(m.names)
        for c in counterparts(m, me):
            counts[c]["sent" if m.sender in me else "received"] += 1
            if m.at is not None:
                history[c].append(Interaction(m.at, m.sender in me))
    rows = [{"address": c, "name": names.get(c, ""), "sent": counts[c]["sent"],
             "received": counts[c]["received"],
             **contact_strength(history[c], now, half_life_days, tones.get(c))}
            for c in counts]
    rows.sort(key=lambda r: (-r["score"], r["address"]))
    path = write_json(Path(parsed["path"]).with_name("strength.json"), rows)
    return {"path": path, "contacts": len(rows), "as_of": iso(now),
            "levels": dict(Counter(r["level"] for r in rows))}


def contact_strength(history: list[Interaction], now: float | None, half_life_days: float,
                     tone: dict[str, Any] | None) -> dict[str, Any]:
    """Strength of one relationship, then the tone adjustment (module docstring)."""
    base = strength(history, now if now is not None else 0.0, half_life_days=half_life_days)
    mean, n = (tone or {}).get("mean"), (tone or {}).get("n", 0)
    points = 0.0 if mean is None else TONE_POINTS * mean * n / (n + TONE_PRIOR)
    score = min(max(base.score + points, 0.0), 100.0)
    return {**base.as_dict(), "base_score": round(base.score, 2), "tone_points": round(points, 2),
            "score": round(score, 2), "level": level(score)}
