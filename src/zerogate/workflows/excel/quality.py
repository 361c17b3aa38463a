"""Task ``excel_quality``: a spreadsheet's data quality score, 0-100.

The score is ``completeness 35% + validity 30% + uniqueness 20% + consistency 15%``,
each part 0-100:

- completeness: filled cells of the required columns (without ``required``: of the
  columns filled in at least 80% of records; the others count as optional);
- validity: non-blank values of the typed columns (declared, or else inferred e-mail,
  amount, date and number columns) that are of their type, even if written as text;
- uniqueness: records that are not exact copies of an earlier row nor repeat its key;
- consistency: of the valid typed values, those stored natively rather than as text
  (``"2024-03-05"`` in a date column, ``"$12,500"`` in an amount column).

A part with nothing to measure scores 100. So on a clean sheet the score is 100, and
one missing required cell out of 20 costs ``0.35 * 5 = 1.75`` points. The tallies come
from validation (``validation.py``) and the role checks of entities (``entities.py``).
"""

from __future__ import annotations

from typing import Any

from zerogate import TaskContext

WEIGHTS = {"completeness": 0.35, "validity": 0.30, "uniqueness": 0.20, "consistency": 0.15}
USUALLY_FILLED = 0.8  # without `required`, columns this full are taken as expected filled


def quality(checked: dict[str, Any], roles: list[dict[str, Any]]) -> dict[str, Any]:
    """The weighted score (see the module docstring) from validation tallies and the
    checks of inferred roles of columns without a declared type."""
    typed = checked["typed"]
    inferred = [r for r in roles if r["check"] and r["column"] not in typed["columns"]]
    extra = [r["check"] for r in inferred]
    valid = typed["ok"] + typed["as_text"] + sum(c["matching"] for c in extra)
    seen = valid + typed["wrong"] + sum(c["values"] - c["matching"] for c in extra)
    as_text = typed["as_text"] + sum(c["as_text"] for c in extra)
    records, dups = checked["records"], checked["duplicates"]
    parts = [_completeness(checked),
             _part("validity", valid, seen,
                   f"{valid:,} of {seen:,} typed values are of their type (declared: "
                   f"{', '.join(typed['columns']) or 'none'}; inferred: "
                   f"{', '.join(r['column'] for r in inferred) or 'none'})"),
             _part("uniqueness", records - dups, records,
                   f"{records - dups:,} of {records:,} records are unique ("
                   f"{checked['by_kind'].get('duplicate_row', 0):,} copies of an earlier row, "
                   f"{checked['by_kind'].get('duplicate_key', 0):,} repeat a key)"),
             _part("consistency", valid - as_text, valid,
                   f"{valid - as_text:,} of {valid:,} valid typed values are stored natively; "
                   f"{as_text:,} are numbers, dates or booleans written as text")]
    score = sum(WEIGHTS[p["name"]] * p["score"] for p in parts)
    return {"score": round(score, 2), "parts": parts}


def _completeness(checked: dict[str, Any]) -> dict[str, Any]:
    records, filled = checked["records"], checked["filled"]
    columns = checked["required"] or [c for c, n in filled.items()
                                      if n >= USUALLY_FILLED * records]
    which = ("the required columns" if checked["required"]
             else f"the columns filled in at least {USUALLY_FILLED:.0%} of records")
    have = sum(filled[c] for c in columns)
    return _part("completeness", have, records * len(columns),
                 f"{have:,} of {records * len(columns):,} cells filled in {which} "
                 f"({', '.join(columns) or 'none'})")


def _part(name: str, good: int, total: int, explanation: str) -> dict[str, Any]:
    score = 100.0 if total == 0 else round(100.0 * good / total, 2)
    return {"name": name, "score": score, "weight": WEIGHTS[name],
            "explanation": explanation if total else f"nothing to measure: {explanation}"}


async def excel_quality(ctx: TaskContext) -> dict[str, Any]:
    """Score the data quality from the validation and the inferred column roles."""
    checked, found = ctx.deps["excel_validate"], ctx.deps["excel_entities"]
    assert isinstance(checked, dict) and isinstance(found, dict)
    return quality(checked, found["roles"])
