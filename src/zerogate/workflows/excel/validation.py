"""Task ``excel_validate``: check every record against the declared rules.

``Checker`` is fed the rows file's records in order and finds missing required cells,
values not of their declared type (or of it but written as text), copies of an earlier
row and repeats of an earlier record's key (the ``unique`` columns, compared without
case or surrounding spaces). It lists up to ``max_issues`` issues but counts them all,
and keeps the tallies the quality score (``quality.py``) needs. Rows and keys already
seen are kept as 16-byte digests, so a million-row sheet stays small in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from zerogate import TaskContext
from zerogate.workflows.excel.cells import CellType, check, expected, is_blank, plain
from zerogate.workflows.excel.reading import read_rows


class Checker:
    """Checks rows fed in order: required cells, declared types, duplicates."""

    def __init__(self, columns: list[str], required: list[str], types: dict[str, CellType],
                 unique: list[str], max_issues: int) -> None:
        at = {c: i for i, c in enumerate(columns)}
        self.columns, self.max_issues = columns, max_issues
        self.required = [(c, at[c]) for c in dict.fromkeys(required)]
        self.types = [(c, at[c], k) for c, k in types.items()]
        self.unique = [at[c] for c in dict.fromkeys(unique)]
        self.filled = [0] * len(columns)
        self.issues: list[dict[str, Any]] = []
        self.kinds, self.by_column, self.typed = Counter[str](), Counter[str](), Counter[str]()
        self.records = 0
        self.rows_seen: dict[bytes, int] = {}  # digest of a whole row -> its first row
        self.keys_seen: dict[bytes, int] = {}  # digest of a key -> its first row

    def feed(self, row: int, cells: list[Any]) -> None:
        """Check one record (``row`` is its sheet row number)."""
        self.records += 1
        for i, cell in enumerate(cells):
            self.filled[i] += not is_blank(cell)
        for name, i in self.required:
            if is_blank(cells[i]):
                self._issue(row, name, "missing", None, "a value (the column is required)")
        for name, i, kind in self.types:
            if not is_blank(cells[i]):
                self._type(row, name, kind, cells[i])
        self._duplicates(row, cells)

    def _type(self, row: int, name: str, kind: CellType, cell: Any) -> None:
        status = check(cell, kind)
        self.typed[status] += 1
        if status != "ok":
            self._issue(row, name, "wrong_type" if status == "wrong" else "stored_as_text",
                        plain(cell), expected(kind, status))

    def _duplicates(self, row: int, cells: list[Any]) -> None:
        whole = _digest(cells)
        first = self.rows_seen.setdefault(whole, row)
        if first != row:
            self._issue(row, None, "duplicate_row", None,
                        f"a distinct row (row {first} is the same)")
            return
        key = [cells[i] for i in self.unique]
        if not key or all(is_blank(k) for k in key):
            return
        norm = [k.strip().casefold() if isinstance(k, str) else k for k in key]
        first = self.keys_seen.setdefault(_digest(norm), row)
        if first != row:
            shown = " | ".join(str(plain(k)) for k in key) if key[1:] else plain(key[0])
            names = ", ".join(self.columns[i] for i in self.unique)
            self._issue(row, names, "duplicate_key", shown,
                        f"a unique {names} (row {first} has the same)")

    def _issue(self, row: int, column: str | None, kind: str, value: Any, want: str) -> None:
        self.kinds[kind] += 1
        self.by_column[column or "(whole row)"] += 1
        if len(self.issues) < self.max_issues:
            self.issues.append({"row": row, "column": column, "kind": kind, "value": value,
                                "expected": want})

    def result(self) -> dict[str, Any]:
        """Counts, listed issues, and the tallies the quality score needs."""
        typed = {"columns": [c for c, _, _ in self.types],
                 **{k: self.typed[k] for k in ("ok", "as_text", "wrong")}}
        return {"records": self.records, "issues_total": sum(self.kinds.values()),
                "by_kind": dict(self.kinds), "by_column": dict(self.by_column),
                "issues": self.issues, "filled": dict(zip(self.columns, self.filled, strict=True)),
                "required": [c for c, _ in self.required], "typed": typed,
                "duplicates": self.kinds["duplicate_row"] + self.kinds["duplicate_key"]}


def _digest(values: list[Any]) -> bytes:
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def excel_validate(ctx: TaskContext, required: list[str], types: dict[str, CellType],
                   unique: list[str], max_issues: int) -> dict[str, Any]:
    """Check every record of the rows file against the declared rules."""
    read = ctx.deps["excel_read"]
    assert isinstance(read, dict)
    checker = Checker(read["columns"], required, types, unique, max_issues)
    for row, cells in read_rows(read["path"]):
        checker.feed(row, cells)
    return checker.result()
