"""What a spreadsheet cell holds and whether it is of a declared type.

Cells arrive as ``excel_read`` wrote them to the rows file (``reading.py``): JSON
scalars, or ``{"date": iso}`` for an Excel date, ``{"amount": n, "currency": c}`` for a
number in a currency format, ``{"error": "#N/A"}`` for an Excel error. ``check`` says
whether a cell is of a declared type, of that type but written as text (``"$12,500"`` in
an amount column, ``"2024-03-05"`` in a date column), or not of it at all. The parsers
of amounts, dates, numbers, e-mail addresses and names here are shared by validation
(``validation.py``), column roles (``roles.py``) and entities (``entities.py``), so that
they all agree on what a value is.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, TypeGuard

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


def is_number(cell: Any) -> TypeGuard[int | float]:
    """A numeric cell (a boolean is not a number here)."""
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
    if not is_number(value) or kind == "email":
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
