"""Parsing the interaction history CSV of ``sponsor_analysis`` into interaction dicts.

Each row becomes ``{"at", "day", "contact", "org", "kind", "ours", "amount"}``; a bad
cell raises InvalidInput naming its line and column, so a tenant can fix the file.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime
from typing import Any

from zerogate.errors import InvalidInput

REQUIRED = ("date", "contact", "organisation", "kind", "direction")
KINDS = ("meeting", "call", "email", "letter", "event", "gift")
DIRECTIONS = {"ours": True, "theirs": False}


def parse_interactions(text: str) -> list[dict[str, Any]]:
    """The CSV's rows as interaction dicts; InvalidInput names the line and column of
    the first bad cell."""
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InvalidInput(f"the CSV lacks column(s) {', '.join(missing)} "
                               f"(its header: {', '.join(header) or 'empty'})")
        reader.fieldnames = header
        rows = [_row(f"line {reader.line_num}", raw) for raw in reader]
    except csv.Error as exc:
        raise InvalidInput(f"the input is not a readable CSV: {exc}") from None
    if not rows:
        raise InvalidInput("the CSV has a header but no interactions")
    return rows


def _row(where: str, raw: dict[str | None, Any]) -> dict[str, Any]:
    def cell(column: str) -> str:
        value = raw.get(column)
        return value.strip() if isinstance(value, str) else ""

    at, day = _when(cell("date"), where)
    for column in ("contact", "organisation"):
        if not cell(column):
            raise InvalidInput(f"{where}, column {column!r}: empty")
    kind, direction = cell("kind").lower(), cell("direction").lower()
    if kind not in KINDS:
        raise InvalidInput(f"{where}, column 'kind': {cell('kind')!r} is not one of "
                           f"{', '.join(KINDS)}")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"{where}, column 'direction': {cell('direction')!r} is not "
                           "ours or theirs")
    return {"at": at, "day": day, "contact": cell("contact"), "org": cell("organisation"),
            "kind": kind, "ours": DIRECTIONS[direction],
            "amount": _amount(cell("amount"), kind, where)}


def _when(text: str, where: str) -> tuple[float, str]:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{where}, column 'date': {text!r} is not an ISO date or "
                           "datetime") from None
    day = when.date().isoformat()  # the day as written, for who met whom
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp(), day


def _amount(text: str, kind: str, where: str) -> float | None:
    if not text:
        return None
    if kind != "gift":
        raise InvalidInput(f"{where}, column 'amount': {text!r} on a {kind} (only gifts "
                           "have amounts)")
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{where}, column 'amount': {text!r} is not an amount >= 0")
    return value
