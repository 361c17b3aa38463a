"""Template ``excel_processing``: check a spreadsheet, find its entities, score its quality.

An .xlsx comes in (inline base64, a file in the tenant's inbox, or a generated sample
of sponsor/grant records). The DAG::

    excel_read -> excel_validate ----\\
               \\-> excel_entities ---+-> excel_quality -> excel_report

``excel_read`` streams the sheet with openpyxl's read-only reader (memory stays flat
however big the workbook) into a JSON-lines rows file in the work folder, one record
per non-blank row with its sheet row number. ``excel_validate`` checks the declared
types, required columns and duplicates; ``excel_entities`` infers column roles and
collects people, organisations, e-mail addresses and amounts (``entities.py``).
Both run in parallel, each in a child process.

The quality score is ``completeness 35% + validity 30% + uniqueness 20% +
consistency 15%``, each part 0-100:

- completeness: filled cells of the required columns (without ``required``: of the
  columns filled in at least 80% of records; the others count as optional);
- validity: non-blank values of the typed columns (declared, or else inferred e-mail,
  amount, date and number columns) that are of their type, even if written as text;
- uniqueness: records that are not exact copies of an earlier row nor repeat its key;
- consistency: of the valid typed values, those stored natively rather than as text
  (``"2024-03-05"`` in a date column, ``"$12,500"`` in an amount column).

A part with nothing to measure scores 100. So on a clean sheet the score is 100, and
one missing required cell out of 20 costs ``0.35 * 5 = 1.75`` points.
"""

from __future__ import annotations

import hashlib
import json
import random
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal
from xml.etree.ElementTree import ParseError

import openpyxl
import pydantic
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException

from zerogate.errors import InvalidInput
from zerogate.registry import Registry, Workflow
from zerogate.runtime.executor import TaskContext
from zerogate.templates import TemplateContext
from zerogate.workflows import entities as ent
from zerogate.workflows.entities import CellType, Entities
from zerogate.workflows.inputs import Source, materialize, workdir
from zerogate.workflows.samples import TOPICS, Cast

FEATURE = "excel_processing"
WEIGHTS = {"completeness": 0.35, "validity": 0.30, "uniqueness": 0.20, "consistency": 0.15}
USUALLY_FILLED = 0.8  # without `required`, columns this full are taken as expected filled
ROLE_SAMPLE = 1_000  # records read to infer column roles
Column = Annotated[str, pydantic.Field(min_length=1, max_length=255)]
Scalar = str | int | float | bool | None
IssueKind = Literal["missing", "wrong_type", "stored_as_text", "duplicate_row", "duplicate_key"]


class ExcelParams(pydantic.BaseModel):
    """An .xlsx to check: which sheet, where its header is, and what to check."""

    model_config = pydantic.ConfigDict(extra="forbid")
    source: Source = pydantic.Field(description="the .xlsx: base64, inbox file or sample")
    sheet: str | None = pydantic.Field(None, min_length=1, max_length=31,
                                       description="sheet name (default: the first sheet)")
    header_row: int = pydantic.Field(1, ge=1, le=1_048_576, description="row of column names")
    required: list[Column] = pydantic.Field([], max_length=500,
                                            description="columns that must be non-empty")
    types: dict[Column, CellType] = pydantic.Field({}, max_length=500,
                                                   description="expected type by column")
    unique: list[Column] = pydantic.Field([], max_length=50, description="columns that "
                                          "together identify a record (repeats: duplicates)")
    max_issues: int = pydantic.Field(200, ge=0, le=10_000,
                                     description="issues to list (counts are always full)")
    max_entities: int = pydantic.Field(50, ge=0, le=1_000, description="entities to list "
                                                                       "of each kind")


class Issue(pydantic.BaseModel):
    """One problem: where, what kind, the value found and what was expected."""

    row: int = pydantic.Field(ge=1)
    column: str | None
    kind: IssueKind
    value: Scalar
    expected: str


class Part(pydantic.BaseModel):
    """One part of the quality score, 0-100, and how it was measured."""

    name: Literal["completeness", "validity", "uniqueness", "consistency"]
    score: float = pydantic.Field(ge=0, le=100)
    weight: float
    explanation: str


class Quality(pydantic.BaseModel):
    score: float = pydantic.Field(ge=0, le=100)
    parts: list[Part]


class ExcelReport(pydantic.BaseModel):
    """The result of ``excel_processing``."""

    sheet: str
    sheets: list[str]
    columns: list[str]
    records: int = pydantic.Field(ge=0)
    blank_rows: int = pydantic.Field(ge=0)
    issues_total: int = pydantic.Field(ge=0)
    issues_by_kind: dict[str, int]
    issues_by_column: dict[str, int]
    issues: list[Issue]
    entities: Entities
    quality: Quality


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
            if all(ent.is_blank(v) for v in values):
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
            formats[fmt] = ent.format_currency(fmt)
        if formats[fmt]:
            return {"amount": value, "currency": formats[fmt]}
    return value


def _rows(path: str) -> Iterator[tuple[int, list[Any]]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row, cells = json.loads(line)
            yield row, cells


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
            self.filled[i] += not ent.is_blank(cell)
        for name, i in self.required:
            if ent.is_blank(cells[i]):
                self._issue(row, name, "missing", None, "a value (the column is required)")
        for name, i, kind in self.types:
            if not ent.is_blank(cells[i]):
                self._type(row, name, kind, cells[i])
        self._duplicates(row, cells)

    def _type(self, row: int, name: str, kind: CellType, cell: Any) -> None:
        status = ent.check(cell, kind)
        self.typed[status] += 1
        if status != "ok":
            self._issue(row, name, "wrong_type" if status == "wrong" else "stored_as_text",
                        ent.plain(cell), ent.expected(kind, status))

    def _duplicates(self, row: int, cells: list[Any]) -> None:
        whole = _digest(cells)
        first = self.rows_seen.setdefault(whole, row)
        if first != row:
            self._issue(row, None, "duplicate_row", None,
                        f"a distinct row (row {first} is the same)")
            return
        key = [cells[i] for i in self.unique]
        if not key or all(ent.is_blank(k) for k in key):
            return
        norm = [k.strip().casefold() if isinstance(k, str) else k for k in key]
        first = self.keys_seen.setdefault(_digest(norm), row)
        if first != row:
            shown = " | ".join(str(ent.plain(k)) for k in key) if key[1:] else ent.plain(key[0])
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
    for row, cells in _rows(read["path"]):
        checker.feed(row, cells)
    return checker.result()


def excel_entities(ctx: TaskContext, max_entities: int) -> dict[str, Any]:
    """Infer column roles from the first records, then collect entities from all."""
    read = ctx.deps["excel_read"]
    assert isinstance(read, dict)
    rows = _rows(read["path"])
    head = [r for _, r in zip(range(ROLE_SAMPLE), rows, strict=False)]
    finder = ent.Finder(ent.infer_roles(read["columns"], [cells for _, cells in head]))
    for row, cells in head:
        finder.feed(row, cells)
    for row, cells in rows:
        finder.feed(row, cells)
    return finder.result(max_entities)


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


async def excel_report(ctx: TaskContext) -> dict[str, Any]:
    """Join the steps' results into the published output."""
    read, checked = ctx.deps["excel_read"], ctx.deps["excel_validate"]
    assert isinstance(read, dict) and isinstance(checked, dict)
    return ExcelReport(
        sheet=read["sheet"], sheets=read["sheets"], columns=read["columns"],
        records=read["records"], blank_rows=read["blank_rows"],
        issues_total=checked["issues_total"], issues_by_kind=checked["by_kind"],
        issues_by_column=checked["by_column"], issues=checked["issues"],
        entities=ctx.deps["excel_entities"], quality=ctx.deps["excel_quality"],
    ).model_dump(mode="json")


def add_spreadsheets(registry: Registry, root: Path) -> None:
    """Register the ``excel_processing`` feature, its tasks and its template."""
    registry.feature(FEATURE, "experimental",
                     description="spreadsheet checks, entities and a data quality score")
    # Peak RSS of a child measured on 200,000-row sheets (65 MB of it is the interpreter
    # and imports): read 85 MB in 21 s; validate 120 MB in 5 s; entities 210 MB in 8 s
    # when every name, e-mail and amount is distinct (70 MB on sample-like data).
    read = registry.task(excel_read, run_in="process", cpu=1.0, memory_mb=90,
                         timeout_s=600, feature=FEATURE)
    validate = registry.task(excel_validate, run_in="process", cpu=1.0, memory_mb=130,
                             timeout_s=600, feature=FEATURE)
    entities = registry.task(excel_entities, run_in="process", cpu=1.0, memory_mb=220,
                             timeout_s=600, feature=FEATURE)
    score = registry.task(excel_quality, feature=FEATURE)
    report = registry.task(excel_report, feature=FEATURE)

    @registry.template(params=ExcelParams, output=ExcelReport, feature=FEATURE)
    def excel_processing(p: ExcelParams, ctx: TemplateContext) -> Workflow:
        """Check an .xlsx sheet's types, required fields and duplicates, find its people,
        organisations, e-mails and amounts, and score its data quality (0-100)."""
        work = workdir(root)
        wf = Workflow("excel_processing")
        first = wf.add(read, {
            "source": p.source.model_dump(exclude_none=True), "root": str(root),
            "tenant": ctx.tenant, "work": str(work), "sheet": p.sheet,
            "header_row": p.header_row,
            "needed": {"required": p.required, "typed": list(p.types), "unique": p.unique}})
        checked = wf.add(validate, {"required": p.required, "types": dict(p.types),
                                    "unique": p.unique, "max_issues": p.max_issues},
                         after=[first])
        found = wf.add(entities, {"max_entities": p.max_entities}, after=[first])
        scored = wf.add(score, after=[checked, found])
        wf.add(report, after=[first, checked, found, scored])
        return wf


SAMPLE_COLUMNS = ("Grant ID", "Sponsor", "Contact", "Email", "Amount", "Awarded", "Program",
                  "Renewal", "Notes")
CURRENCIES = (("USD", '"$"#,##0'), ("EUR", "[$€-407] #,##0"), ("GBP", "[$£-809]#,##0"))
WRONG = {4: ("TBD", "pending", "see notes"), 5: ("soon", "Q3", "next year")}


def write_sample_xlsx(path: Path, seed: int, rows: int = 3_000) -> None:
    """A seeded workbook of sponsor/grant records with defects at seeded rates: ~2%
    missing values, ~2% bad e-mails, ~1% copied rows, ~0.5% repeated ids, ~1.5% wrong
    types; ~15% of amounts and ~8% of dates are written as text."""
    rng, cast = random.Random(seed), Cast(seed)
    orgs = [o for o in cast.orgs(40) if not any(c.isdigit() for c in o)]
    people = [p for p in cast.people(400, orgs) if not any(c.isdigit() for c in p.name)]
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("Grants")
    ws.append(SAMPLE_COLUMNS)
    made: list[list[Any]] = []
    for i in range(rows):
        roll = rng.random()
        record = (list(rng.choice(made[-200:])) if made and roll < 0.01
                  else _sample_record(rng, f"G-{seed % 1000:03d}-{i:05d}", people, orgs))
        if made and 0.01 <= roll < 0.015:
            record[0] = rng.choice(made)[0]
        made.append(record)
        ws.append([_sample_cell(ws, v) for v in record])
    book.save(path)


def _sample_record(rng: random.Random, gid: str, people: list[Any],
                   orgs: list[str]) -> list[Any]:
    who = rng.choice(people)
    code, fmt = rng.choices(CURRENCIES, weights=(7, 2, 1))[0]
    value = rng.randrange(2_000, 250_000, 500)
    money = [f"{code} {value:,}", f"{value:,} {code}", f"{code} {value / 1000:g}k",
             f"${value:,}" if code == "USD" else f"{code} {value / 1e6:g}m"]
    day: Any = date(2021, 1, 1) + timedelta(days=rng.randrange(1_600))
    if rng.random() < 0.08:
        day = day.strftime(rng.choice(("%Y-%m-%d", "%d %b %Y", "%B %d, %Y")))
    notes = (f"Co-funded with {rng.choice(orgs)}", "Board to trust the review process",
             f"Pledged USD {rng.randrange(1, 50) * 1000:,} more over three years",
             f"Renewal discussed with {who.name}; follow up at {who.email}")
    record = [gid, who.org, who.name, who.email,
              (value, fmt) if rng.random() > 0.15 else rng.choice(money), day,
              rng.choice(TOPICS).title(), rng.random() < 0.3,
              rng.choice(notes) if rng.random() < 0.35 else None]
    roll = rng.random()
    if roll < 0.02:
        record[rng.choice((2, 3, 4))] = None
    elif roll < 0.04:
        name, domain = who.email.split("@")
        record[3] = rng.choice((f"{name} at {domain}", f"{name}@", f"{name}@@{domain}",
                                f"{name}@{domain.split('.')[0]}"))
    elif roll < 0.055:
        at = rng.choice((4, 5))
        record[at] = rng.choice(WRONG[at])
    return record


def _sample_cell(ws: Any, value: Any) -> Any:
    if not isinstance(value, tuple):
        return value
    cell = WriteOnlyCell(ws, value=value[0])  # (amount, currency format)
    cell.number_format = value[1]
    return cell
