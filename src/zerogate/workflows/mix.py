"""The demo's mixed load: which built-in template to submit next, with which params.

Deterministic for a seed: request ``i`` of run ``seed`` is always the same, so a demo
(or a benchmark built on it) can be repeated. Every request uses sample inputs the
template generates itself, so the load needs no files.

The weights follow what the source systems ran most: sponsor and grant work
(essential) is the bulk, relationship mapping (CPU-heavy) and e-mail and spreadsheet
ingestion (memory-heavy, experimental) come less often but cost more, and essays
come in single reviews and the occasional portfolio.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TENANTS = ("acme", "globex")
PROMPTS = (
    "Describe a challenge you faced and what you learned from it.",
    "Why do you want to study at our college? Explain how you would contribute.",
    "Reflect on an activity that shaped who you are.",
)


@dataclass(frozen=True, slots=True)
class Request:
    template: str
    params: dict[str, Any]
    priority: str
    tenant: str


def _sponsor(rng: random.Random, seed: int) -> dict[str, Any]:
    return {"source": {"sample": seed}}


def _grant(rng: random.Random, seed: int) -> dict[str, Any]:
    as_of = dt.date(2026, 1, 5) + dt.timedelta(days=rng.randrange(0, 300))
    deadline = as_of + dt.timedelta(days=rng.choice((21, 45, 75, 120, 160)))
    return {"name": f"Grant {seed}", "as_of": as_of.isoformat(),
            "deadline": deadline.isoformat(), "sample": seed}


def _relationships(rng: random.Random, seed: int) -> dict[str, Any]:
    return {"source": {"sample": seed}, "sample_edges": rng.choice((2_000, 5_000, 10_000))}


def _emails(rng: random.Random, seed: int) -> dict[str, Any]:
    return {"source": {"sample": seed}}


def _excel(rng: random.Random, seed: int) -> dict[str, Any]:
    return {"source": {"sample": seed}, "required": ["Grant ID", "Sponsor", "Email", "Amount"],
            "types": {"Email": "email", "Amount": "amount", "Awarded": "date"},
            "unique": ["Grant ID"]}


def _essay(rng: random.Random, seed: int) -> dict[str, Any]:
    colleges = rng.sample([("Stanford", 250), ("MIT", 200), ("Yale", 400),
                           ("Common App", 650), ("UCLA", 350)], k=2)
    return {"essay": {"sample": seed}, "prompt": rng.choice(PROMPTS),
            "colleges": [{"college": c, "limit": n} for c, n in colleges]}


def _portfolio(rng: random.Random, seed: int) -> dict[str, Any]:
    return {"sample": seed}


# template, weight, its params for a seed, priorities to draw from
MIX: tuple[tuple[str, int, Callable[[random.Random, int], dict[str, Any]], tuple[str, ...]],
           ...] = (
    ("sponsor_analysis", 20, _sponsor, ("high", "medium")),
    ("grant_timeline", 20, _grant, ("critical", "high", "medium")),
    ("relationship_mapping", 10, _relationships, ("medium", "low")),
    ("email_analysis", 12, _emails, ("medium", "low")),
    ("excel_processing", 12, _excel, ("medium", "low")),
    ("essay_review", 20, _essay, ("high", "medium")),
    ("essay_portfolio", 6, _portfolio, ("medium", "low")),
)


def request(i: int, seed: int = 0) -> Request:
    """The ``i``-th request of a demo run seeded with ``seed``."""
    rng = random.Random(seed * 1_000_003 + i)
    template, _, params, priorities = rng.choices(MIX, weights=[m[1] for m in MIX])[0]
    sample = seed * 100_000 + i
    return Request(template, params(rng, sample), rng.choice(priorities),
                   TENANTS[i % len(TENANTS)])
