"""The sample writer of ``sponsor_analysis``: a seeded, realistic interaction history.

A request with ``source.sample`` gets this CSV, so the demo and the tests run the
template on data shaped like a real sponsor platform's export.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

from zerogate.workflows.samples import Cast

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
