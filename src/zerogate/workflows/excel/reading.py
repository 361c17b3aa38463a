"""Task ``excel_read``: stream one sheet of an .xlsx into a JSON-lines rows file.

The sheet is read with openpyxl's read-only reader, so memory stays flat however big
the workbook. Each non-blank row becomes one line ``[row, [cells]]`` of ``rows.jsonl``
in the work folder, with its sheet row number, so the steps after it (validation and
entities, each in its own child process) read plain JSON rather than the workbook. A
cell keeps what Excel knew of it: ``{"date": iso}`` for a date, ``{"amount": n,
"currency": c}`` for a number in a currency format, ``{"error": "#N/A"}`` for an error.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from zerogate.errors import InvalidInput
from zerogate.workflows.excel.cells import format_currency, is_blank
from zerogate.workflows.excel.samples import write_sample_xlsx
from zerogate.workflows.inputs import materialize


def excel_read(source: dict[str, Any], root: str, tenant: str, work: str, sheet: str | None,
               header_row: int, needed: dict[str, list[str]]) -> dict[str, Any]:
    """Stream one sheet into ``rows.jsonl`` (``[row, [cells]]`` per non-blank row)."""
    got = materialize(source, root=root, tenant=tenant, dest=Path(work) / "input.xlsx",
                      sample=write_sample_xlsx)
    Path(work).mkdir(parents=True, exist_ok=True)
    out = Path(work) / "rows.jsonl"
    path = Path(got["path"])
    with path.open("rb") as fh:
        book = _open(fh, path.name)
        try:
            name = sheet or book.sheetnames[0]
            if name not in book.sheetnames:
                raise InvalidInput(f"no sheet {name!r} in the workbook (sheets: "
                                   f"{', '.join(book.sheetnames)})")
            info = _stream(book[name], name, header_row, needed, out)
        except (zipfile.BadZipFile, ParseError, KeyError) as exc:
            raise InvalidInput(f"not an Excel workbook: {path.name} is damaged ({exc})") from None
        finally:
            book.close()
    return {**info, "sheet": name, "sheets": list(book.sheetnames), "path": str(out),
            "bytes": got["bytes"], "origin": got["origin"]}


def read_rows(path: str) -> Iterator[tuple[int, list[Any]]]:
    """The records of a rows file written by ``excel_read``: (sheet row number, cells)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row, cells = json.loads(line)
            yield row, cells


def _open(fh: BinaryIO, name: str) -> Any:
    try:
        return openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ParseError, ValueError,
            OSError) as exc:
        raise InvalidInput(f"not an Excel workbook: {name} ({exc})") from None


def _stream(ws: Any, sheet: str, header_row: int, needed: dict[str, list[str]],
            out: Path) -> dict[str, Any]:
    if not hasattr(ws, "iter_rows"):
        raise InvalidInput(f"sheet {sheet!r} is a chart sheet, not a sheet of cells")
    ws.reset_dimensions()  # some writers record a wrong size; read what is there
    rows = ws.iter_rows(min_row=header_row)
    columns = _columns(next(rows, ()), header_row, sheet)
    _require(columns, needed, header_row, sheet)
    formats: dict[str, str | None] = {}
    records = blank = pending = 0
    with out.open("w", encoding="utf-8") as fh:
        for number, cells in enumerate(rows, start=header_row + 1):
            values = [_encode(c, formats) for c in cells[:len(columns)]]
            if all(is_blank(v) for v in values):
                pending += 1
                continue
            values += [None] * (len(columns) - len(values))
            fh.write(json.dumps([number, values], separators=(",", ":"), ensure_ascii=False))
            fh.write("\n")
            records, blank, pending = records + 1, blank + pending, 0
    return {"columns": columns, "records": records, "blank_rows": blank,
            "header_row": header_row}


def _columns(header: Sequence[Any], row: int, sheet: str) -> list[str]:
    names = ["" if c.value is None else str(c.value).strip() for c in header]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise InvalidInput(f"header row {row} of sheet {sheet!r} has no column names")
    columns: list[str] = []
    for i, name in enumerate(names):
        letter = openpyxl.utils.get_column_letter(i + 1)
        label = name or f"column {letter}"
        columns.append(label if label not in columns else f"{label} ({letter})")
    return columns


def _require(columns: list[str], needed: dict[str, list[str]], row: int, sheet: str) -> None:
    missing = [f"{name!r} ({what})" for what, names in needed.items() for name in names
               if name not in columns]
    if missing:
        raise InvalidInput(f"no column {', '.join(missing)} in header row {row} of sheet "
                           f"{sheet!r} (columns found: {', '.join(columns)})")


def _encode(cell: Any, formats: dict[str, str | None]) -> Any:
    """One cell as JSON; ``formats`` caches, for one sheet, each number format's currency."""
    value = cell.value
    if isinstance(value, datetime | date | time):
        return {"date": value.isoformat()}
    if isinstance(value, timedelta):
        return str(value)
    if getattr(cell, "data_type", None) == "e":
        return {"error": str(value)}
    if isinstance(value, int | float) and not isinstance(value, bool):
        fmt = cell.number_format
        if fmt not in formats:
            formats[fmt] = format_currency(fmt)
        if formats[fmt]:
            return {"amount": value, "currency": formats[fmt]}
    return value
