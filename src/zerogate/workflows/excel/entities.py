"""Task ``excel_entities``: the people, organisations, e-mail addresses and amounts of
money in a spreadsheet.

The column roles are inferred from the first ``ROLE_SAMPLE`` records (``roles.py``);
``Finder`` then collects entities from every record using them: a person's name only
counts in a person column, a bare number only in an amount column, while organisations,
e-mail addresses and money written as text count in any column. Each kind is tallied
compactly (``Tally``), as a sheet can hold a million distinct values, and the result
lists the most frequent of each kind, totals per currency, and each column's role with
a check of its values when the role implies a type.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic

from zerogate import TaskContext
from zerogate.workflows.excel.cells import (
    DIGIT,
    EMAIL,
    ORG,
    SUFFIX,
    check,
    find_amounts,
    is_blank,
    is_number,
    looks_like_org,
    looks_like_person,
    parse_number,
    plain,
)
from zerogate.workflows.excel.reading import read_rows
from zerogate.workflows.excel.roles import ROLE_TYPES, Role, infer_roles

ROLE_SAMPLE = 1_000  # records read to infer column roles


class Entity(pydantic.BaseModel):
    text: str
    count: int = pydantic.Field(ge=1)
    rows: list[int]


class Amount(Entity):
    value: float
    currency: str | None


class ColumnRole(pydantic.BaseModel):
    column: str
    role: str
    why: str
    currency: str | None
    check: dict[str, Any] | None  # values, matching, as_text, examples (typed roles only)


class Entities(pydantic.BaseModel):
    """What ``Finder.result`` returns (the most frequent of each kind)."""

    people: list[Entity]
    organisations: list[Entity]
    emails: list[Entity]
    amounts: list[Amount]
    amount_totals: list[dict[str, Any]]
    distinct: dict[str, int]
    roles: list[ColumnRole]


@dataclass
class Tally:
    """Occurrences of each entity and (up to ``keep_rows``) the rows it appears in.

    Compact, as a sheet can hold a million distinct values: an entity seen once maps to
    its row; one seen again to ``[count, row, row, ...]``.
    """

    keep_rows: int
    seen: dict[str, int | list[int]] = field(default_factory=dict)

    def add(self, key: str, row: int) -> None:
        """Count one occurrence of ``key`` in ``row``."""
        got = self.seen.get(key)
        if got is None:
            self.seen[key] = row
        elif isinstance(got, int):
            self.seen[key] = [2, got] if got == row else [2, got, row][:self.keep_rows + 1]
        else:
            got[0] += 1
            if len(got) <= self.keep_rows and got[-1] != row:
                got.append(row)

    def counts(self) -> Iterator[tuple[str, int]]:
        """Each entity and its number of occurrences."""
        return ((k, 1 if isinstance(v, int) else v[0]) for k, v in self.seen.items())

    def top(self, n: int) -> list[dict[str, Any]]:
        """The ``n`` most frequent, most frequent first (ties by text)."""
        best = heapq.nsmallest(n, self.counts(), key=lambda kc: (-kc[1], kc[0]))
        return [{"text": k, "count": c, "rows": _rows_of(self.seen[k])} for k, c in best]


def _rows_of(got: int | list[int]) -> list[int]:
    return [got] if isinstance(got, int) else got[1:]


def _unformat(text: str) -> tuple[float, str | None]:
    """The value and currency of an amount's text (``"USD 12,500.00"``)."""
    *currency, number = text.rsplit(" ", 1)
    return float(number.replace(",", "")), currency[0] if currency else None


@dataclass
class RoleCheck:
    """How many non-blank values of a typed role's column fit its type."""

    values: int = 0
    matching: int = 0
    as_text: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


class Finder:
    """Collects entities from rows fed in order, using the columns' roles."""

    def __init__(self, roles: Sequence[Role], keep_rows: int = 50) -> None:
        self.roles = list(roles)
        self.people, self.orgs, self.emails = (Tally(keep_rows) for _ in range(3))
        self.amounts = Tally(keep_rows)
        self.checks = {r.column: RoleCheck() for r in self.roles if r.role in ROLE_TYPES}

    def feed(self, row: int, cells: Sequence[Any]) -> None:
        """Take the entities of one row (``row`` is its sheet row number)."""
        for role, cell in zip(self.roles, cells, strict=False):
            if is_blank(cell):
                continue
            if role.column in self.checks:
                self._check(role, row, cell)
            if isinstance(cell, dict) and "amount" in cell:
                self._money(row, float(cell["amount"]), cell.get("currency") or role.currency)
            elif role.role == "amount" and is_number(cell):
                self._money(row, float(cell), role.currency)
            elif isinstance(cell, str):
                self._text(row, role, cell)

    def _check(self, role: Role, row: int, cell: Any) -> None:
        tally, status = self.checks[role.column], check(cell, ROLE_TYPES[role.role])
        tally.values += 1
        tally.matching += status != "wrong"
        tally.as_text += status == "as_text"
        if status == "wrong" and len(tally.examples) < 5:
            tally.examples.append({"row": row, "value": plain(cell)})

    def _text(self, row: int, role: Role, text: str) -> None:
        if "@" in text:
            for address in EMAIL.findall(text):
                self.emails.add(address.lower(), row)
        if role.role == "email":
            return
        words = text.split()
        if role.role == "person" and looks_like_person(text):
            self.people.add(" ".join(words), row)
        elif role.role == "organisation" and looks_like_org(text):
            self.orgs.add(" ".join(words), row)
        elif SUFFIX.search(text):
            for match in ORG.finditer(text):
                self.orgs.add(" ".join(match.group().rstrip(".,").split()), row)
        if DIGIT.search(text) is None:
            return
        whole = parse_number(text) if role.role == "amount" else None
        found = [(whole, role.currency)] if whole is not None else find_amounts(text)
        for value, currency in found:
            self._money(row, value, currency)

    def _money(self, row: int, value: float, currency: str | None) -> None:
        text = f"{currency} {value:,.2f}" if currency else f"{value:,.2f}"
        self.amounts.add(text, row)

    def result(self, top: int) -> dict[str, Any]:
        """The entities as JSON: the ``top`` most frequent of each kind, totals, roles."""
        amounts = [{**a, "value": _unformat(a["text"])[0], "currency": _unformat(a["text"])[1]}
                   for a in self.amounts.top(top)]
        return {"people": self.people.top(top), "organisations": self.orgs.top(top),
                "emails": self.emails.top(top), "amounts": amounts,
                "amount_totals": self._totals(),
                "distinct": {"people": len(self.people.seen),
                             "organisations": len(self.orgs.seen),
                             "emails": len(self.emails.seen), "amounts": len(self.amounts.seen)},
                "roles": [self._role_json(r) for r in self.roles]}

    def _totals(self) -> list[dict[str, Any]]:
        totals: dict[str | None, list[float]] = {}
        for text, count in self.amounts.counts():
            value, currency = _unformat(text)
            entry = totals.setdefault(currency, [0, 0.0])
            entry[0] += count
            entry[1] += value * count
        return [{"currency": c, "count": int(n), "total": round(t, 2)}
                for c, (n, t) in sorted(totals.items(), key=lambda kv: kv[0] or "")]

    def _role_json(self, role: Role) -> dict[str, Any]:
        checked = self.checks.get(role.column)
        return {"column": role.column, "role": role.role, "why": role.why,
                "currency": role.currency,
                "check": None if checked is None else {
                    "values": checked.values, "matching": checked.matching,
                    "as_text": checked.as_text, "examples": checked.examples}}


def excel_entities(ctx: TaskContext, max_entities: int) -> dict[str, Any]:
    """Infer column roles from the first records, then collect entities from all."""
    read = ctx.deps["excel_read"]
    assert isinstance(read, dict)
    rows = read_rows(read["path"])
    head = [r for _, r in zip(range(ROLE_SAMPLE), rows, strict=False)]
    finder = Finder(infer_roles(read["columns"], [cells for _, cells in head]))
    for row, cells in head:
        finder.feed(row, cells)
    for row, cells in rows:
        finder.feed(row, cells)
    return finder.result(max_entities)
