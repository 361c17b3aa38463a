"""A deterministic cast for generated sample data: people, organisations, addresses.

Every template's sample generator draws from here, so the demo's sponsors, mailboxes,
spreadsheets and relationship graphs name the same kind of people and organisations.
``Cast(seed)`` always yields the same names for the same seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST = ("Ada", "Amara", "Ben", "Carmen", "Chen", "Dara", "Elif", "Farid", "Grace", "Hana",
         "Ivan", "Jonas", "Kofi", "Lena", "Mateo", "Mei", "Nadia", "Omar", "Priya", "Quinn",
         "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Yara", "Zoe")
LAST = ("Adeyemi", "Bauer", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
        "Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov",
        "Quispe", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Walsh", "Yilmaz", "Zhou")
ORG_HEAD = ("Northwind", "Bluebell", "Cedar", "Harbor", "Lumen", "Meridian", "Oakridge",
            "Pioneer", "Riverbend", "Summit", "Tidewater", "Evergreen")
ORG_TAIL = ("Foundation", "Trust", "Fund", "Institute", "Partners", "Council", "Alliance",
            "Charitable Trust", "Community Fund", "Family Foundation")
TOPICS = ("education", "health", "climate", "arts", "housing", "youth", "science",
          "food security", "digital inclusion", "water")


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str
    org: str


class Cast:
    """Seeded names: ``people(n)`` and ``orgs(n)`` are stable for a seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def orgs(self, n: int) -> list[str]:
        rng = random.Random(self.seed * 7919 + 1)
        return _unique([f"{rng.choice(ORG_HEAD)} {rng.choice(TOPICS).title()} "
                        f"{rng.choice(ORG_TAIL)}" for _ in range(n)])

    def people(self, n: int, orgs: list[str] | None = None) -> list[Person]:
        rng = random.Random(self.seed * 7919 + 2)
        orgs = orgs or self.orgs(max(n // 8, 1))
        names = _unique([f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(n)])
        people = []
        for i, name in enumerate(names):
            org = orgs[i % len(orgs)]
            domain = "".join(c for c in org.split()[0].lower() if c.isalpha()) + ".org"
            people.append(Person(name, f"{name.lower().replace(' ', '.')}@{domain}", org))
        return people


def _unique(names: list[str]) -> list[str]:
    """The names, with a number added to each repeat (``Ada Bauer 2``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return out
