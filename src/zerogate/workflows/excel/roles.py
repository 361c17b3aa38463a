"""Each spreadsheet column's inferred role: e-mail, amount, date, number, person,
organisation or plain text.

``infer_roles`` guesses a role from the column's header words and a sample of its
values (the first records of the sheet), and says why. The entity finder
(``entities.py``) uses the roles to decide what a value counts as (a person's name only
in a person column, a bare number only in an amount column), and the quality score
(``quality.py``) checks the values of typed roles of columns without a declared type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from zerogate.workflows.excel.cells import (
    CODES,
    ORG,
    SYMBOLS,
    CellType,
    check,
    is_blank,
    is_email,
    looks_like_org,
    looks_like_person,
    parse_amount,
)

ROLE_TYPES: dict[str, CellType] = {"email": "email", "amount": "amount", "date": "date",
                                   "number": "number"}
EMAIL_WORDS = frozenset({"email", "mail", "emails"})
AMOUNT_WORDS = frozenset({"amount", "budget", "value", "total", "funding", "donation", "pledge",
                          "pledged", "price", "cost", "sum", "revenue", "fee", "payment",
                          "paid", "usd", "eur", "gbp"})
ORG_WORDS = frozenset({"organisation", "organization", "org", "company", "funder", "sponsor",
                       "foundation", "institution", "employer", "agency", "charity", "donor",
                       "grantor", "partner", "firm"})
PERSON_WORDS = frozenset({"contact", "person", "officer", "manager", "owner", "applicant",
                          "recipient", "lead", "representative", "signatory", "author"})


@dataclass(frozen=True)
class Role:
    """A column's inferred role (email, amount, date, number, person, organisation, text)
    and why; ``currency`` is one the header names (``Amount (EUR)``)."""

    column: str
    role: str
    why: str
    currency: str | None = None


def _share(values: Sequence[Any], test: Any) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def _role(header: str, values: Sequence[Any]) -> tuple[str, str]:
    words = set(re.split(r"[^a-z0-9]+", header.casefold()))
    texts = [v for v in values if isinstance(v, str)]
    money = _share(values, lambda v: (isinstance(v, dict) and "amount" in v)
                   or (isinstance(v, str) and parse_amount(v) is not None))
    numeric = _share(values, lambda v: check(v, "amount") != "wrong")
    rules: list[tuple[bool, str, str]] = [
        (bool(words & EMAIL_WORDS), "email", "the header names e-mail"),
        (_share(values, lambda v: isinstance(v, str) and is_email(v)) >= 0.5, "email",
         "most values are e-mail addresses"),
        (bool(words & AMOUNT_WORDS) and numeric >= 0.5, "amount",
         "the header names an amount and most values are numbers"),
        (money >= 0.5, "amount", "most values are in a currency format or written as money"),
        (_share(values, lambda v: check(v, "date") != "wrong") >= 0.5, "date",
         "most values are dates"),
        (bool(words & PERSON_WORDS or ("name" in words and not words & ORG_WORDS))
         and _share(texts, looks_like_person) >= 0.5, "person",
         "the header names a person and most values are names"),
        (bool(words & ORG_WORDS) and _share(texts, looks_like_org) >= 0.5, "organisation",
         "the header names an organisation"),
        (_share(texts, lambda v: ORG.search(v) is not None) >= 0.5, "organisation",
         "most values end like organisation names (Foundation, Trust, Inc, ...)"),
        (_share(values, lambda v: check(v, "number") != "wrong") >= 0.5, "number",
         "most values are numbers")]
    return next(((role, why) for hit, role, why in rules if hit), ("text", "none of the above"))


def infer_roles(columns: Sequence[str], sample: Iterable[Sequence[Any]]) -> list[Role]:
    """Each column's role, from its header and the non-blank values of ``sample`` rows."""
    values: list[list[Any]] = [[] for _ in columns]
    for cells in sample:
        for i, cell in enumerate(cells[:len(columns)]):
            if not is_blank(cell):
                values[i].append(cell)
    roles = []
    for name, vals in zip(columns, values, strict=True):
        role, why = _role(name, vals) if vals else ("empty", "no values")
        currency = next((c for c in CODES if re.search(rf"\b{c}\b", name, re.I)),
                        next((c for s, c in SYMBOLS.items() if s in name), None))
        roles.append(Role(name, role, why, currency if role == "amount" else None))
    return roles
