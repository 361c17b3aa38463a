"""What a spreadsheet cell holds: its type, and the people, organisations, e-mail
addresses and amounts of money in it (for the ``excel_processing`` template).

Cells arrive as ``excel_read`` wrote them to the rows file: JSON scalars, or
``{"date": iso}`` for an Excel date, ``{"amount": n, "currency": c}`` for a number in
a currency format, ``{"error": "#N/A"}`` for an Excel error. ``check`` says whether a
cell is of a declared type, of that type but written as text (``"$12,500"`` in an
amount column, ``"2024-03-05"`` in a date column), or not of it at all. ``infer_roles``
guesses each column's role from its header and values; ``Finder`` collects entities,
row by row, using those roles (a person's name only counts in a person column, a bare
number only in an amount column; organisations, e-mails and money written as text count
in any column).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeGuard

import pydantic

CellType = Literal["text", "int", "number", "date", "email", "bool", "amount"]
Status = Literal["ok", "as_text", "wrong"]

SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
CODES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "SEK", "NOK", "DKK", "INR",
         "ZAR")
MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9,
               "billion": 1e9}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CUR = r"[$€£¥]|\b(?:" + "|".join(CODES) + r")\b"
_MUL = r"(?:\s?(?P<{}>k|mn|m|bn|thousand|million|billion))?"
AMOUNT = re.compile(
    rf"(?:(?P<pre>{_CUR})\s?(?P<n1>{_NUM}){_MUL.format('m1')}"
    rf"|(?<![\w.,])(?P<n2>{_NUM}){_MUL.format('m2')}\s?(?P<post>{_CUR}))(?!\w)", re.I)
NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
EMAIL = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@"
                   r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}")
ORG_SUFFIXES = ("Foundation", "Trust", "Fund", "Institute", "University", "College", "Council",
                "Alliance", "Partners", "Association", "Society", "Charity", "Inc", "Ltd",
                "LLC", "LLP", "PLC", "GmbH", "Corp", "Corporation", "Company", "Agency",
                "Bank", "Hospital", "Academy", "Museum", "Centre", "Center", "Network",
                "Federation", "Consortium", "Endowment", "Philanthropies", "Cooperative")
SUFFIX = re.compile(rf"\b(?:{'|'.join(ORG_SUFFIXES)})\b")  # a quick test before ORG
DIGIT = re.compile(r"\d")
_WORD = r"[A-Z][\w&'’.-]*"
ORG = re.compile(
    rf"\b{_WORD}(?:\s+(?:{_WORD}|&|of|and|for|the))*?,?\s+(?:{'|'.join(ORG_SUFFIXES)})\b\.?"
    rf"|\b(?:University|Institute|College|Museum|Bank) of (?:the )?{_WORD}(?:\s+{_WORD})*")
NAME_TOKEN = re.compile(r"(?:[A-Z][a-zA-Z'’-]*\.?|van|von|de|da|del|der|bin|al|la|le)")
PLACEHOLDERS = frozenset({"n/a", "na", "none", "null", "unknown", "tbd", "tba", "-", "?", "x"})
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y",
                "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d %b %y")
DATEISH = re.compile(r"(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
                     r"|\d{1,2} [A-Za-z]{3,9},? \d{2,4}|[A-Za-z]{3,9} \d{1,2},? \d{4})"
                     r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
BOOL_TEXT = frozenset({"true", "false", "yes", "no", "y", "n"})
EXPECTED: dict[str, str] = {
    "text": "text", "int": "a whole number", "number": "a number", "date": "a date",
    "email": "an e-mail address (name@domain.tld)", "bool": "TRUE or FALSE",
    "amount": "an amount of money"}
NATIVE = {"int": "a number cell", "number": "a number cell", "amount": "a number cell",
          "date": "an Excel date cell", "bool": "a TRUE/FALSE cell"}
ROLE_TYPES: dict[str, CellType] = {"email": "email", "amount": "amount", "date": "date",
                                   "number": "number"}


# --- cell values -----------------------------------------------------------------------

def is_blank(cell: Any) -> bool:
    """An empty cell, or one holding only spaces."""
    return cell is None or (isinstance(cell, str) and not cell.strip())


def plain(cell: Any) -> str | int | float | bool | None:
    """The cell as one JSON scalar (a date as ISO text, an amount as its number)."""
    if isinstance(cell, dict):
        value = cell.get("date", cell.get("amount", cell.get("error")))
        return value if isinstance(value, str | int | float) else None
    return cell if isinstance(cell, str | int | float | bool) or cell is None else str(cell)


def _is_number(cell: Any) -> TypeGuard[int | float]:
    return isinstance(cell, int | float) and not isinstance(cell, bool)


def parse_number(text: str) -> float | None:
    """``"1,234.5"`` -> 1234.5; None if the text is not a plain number."""
    text = text.strip()
    return float(text.replace(",", "")) if NUMBER.fullmatch(text) else None


def _amount(match: re.Match[str]) -> tuple[float, str]:
    number = match.group("n1") or match.group("n2")
    symbol = match.group("pre") or match.group("post")
    mult = (match.group("m1") or match.group("m2") or "").lower()
    return (round(float(number.replace(",", "")) * MULTIPLIERS.get(mult, 1.0), 2),
            SYMBOLS.get(symbol, symbol.upper()))


def parse_amount(text: str) -> tuple[float, str] | None:
    """``"EUR 1.2m"`` -> (1200000.0, "EUR"), if the whole text is an amount of money."""
    match = AMOUNT.fullmatch(text.strip())
    return None if match is None else _amount(match)


def find_amounts(text: str) -> list[tuple[float, str]]:
    """Every amount of money written in ``text`` (``"pledged $12,500 and USD 5,000"``)."""
    return [_amount(m) for m in AMOUNT.finditer(text)]


def parse_date(text: str) -> datetime | None:
    """A date written as text (ISO, ``05/03/2024``, ``5 Mar 2024``, ``March 5, 2024``)."""
    text = text.strip()
    if not DATEISH.fullmatch(text):
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def format_currency(number_format: str) -> str | None:
    """The currency a number format shows (``'"$"#,##0'`` -> USD), or None."""
    code = re.search(r"\[\$([^\]-]+)", number_format)
    if code:
        symbol = code.group(1).strip()
        return SYMBOLS.get(symbol, symbol.upper() if symbol.upper() in CODES else None)
    bare = re.sub(r"\[[^\]]*\]", "", number_format)
    return next((c for s, c in SYMBOLS.items() if s in bare), None)


def is_email(text: str) -> bool:
    """The whole text (spaces aside) is one e-mail address."""
    return EMAIL.fullmatch(text.strip()) is not None


def looks_like_person(text: str) -> bool:
    """Two to four name-like words, none a digit or an organisation suffix."""
    words = text.split()
    return (2 <= len(words) <= 4 and words[0][0].isupper()
            and all(NAME_TOKEN.fullmatch(w) for w in words)
            and not any(w.rstrip(".,") in ORG_SUFFIXES for w in words))


def looks_like_org(text: str) -> bool:
    """A value of an organisation column that names something (not ``n/a``)."""
    text = text.strip()
    return (0 < len(text) <= 100 and text.casefold() not in PLACEHOLDERS
            and (text[0].isupper() or text[0].isdigit()) and any(c.isalpha() for c in text))


# --- types --------------------------------------------------------------------------------

def check(cell: Any, kind: CellType) -> Status:
    """Whether a non-blank cell is of ``kind``, of it but written as text, or not of it."""
    if isinstance(cell, dict) and "error" in cell:
        return "wrong"
    if isinstance(cell, str) and kind != "text":
        return _check_text_as(cell, kind)
    if kind == "text":
        return "ok" if isinstance(cell, str) else "wrong"
    if kind == "date":
        return "ok" if isinstance(cell, dict) and "date" in cell else "wrong"
    if kind == "bool":
        return "ok" if isinstance(cell, bool) else "wrong"
    value = cell.get("amount") if isinstance(cell, dict) else cell
    if not _is_number(value) or kind == "email":
        return "wrong"
    return "ok" if kind != "int" or float(value).is_integer() else "wrong"


def _check_text_as(text: str, kind: CellType) -> Status:
    if kind == "email":
        return "ok" if is_email(text) else "wrong"
    if kind == "date":
        readable = parse_date(text) is not None
    elif kind == "bool":
        readable = text.strip().casefold() in BOOL_TEXT
    elif kind == "amount":
        readable = parse_amount(text) is not None or parse_number(text) is not None
    else:
        number = parse_number(text)
        readable = number is not None and (kind == "number" or number.is_integer())
    return "as_text" if readable else "wrong"


def expected(kind: CellType, status: Status) -> str:
    """What a cell of ``kind`` should have held, for an issue of ``status``."""
    if status == "as_text":
        return f"{EXPECTED[kind]} stored as {NATIVE[kind]}, not as text"
    return EXPECTED[kind]


# --- column roles -------------------------------------------------------------------------

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


# --- entities -----------------------------------------------------------------------------

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
            elif role.role == "amount" and _is_number(cell):
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
