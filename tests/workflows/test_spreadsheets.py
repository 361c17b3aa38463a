"""excel_processing: a spreadsheet's issues, entities and quality score, checked on
workbooks built here with openpyxl whose defects are known, and run end to end."""

from __future__ import annotations

import base64
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from zerogate import Registry, TaskContext, WorkflowState
from zerogate.errors import InvalidInput
from zerogate.templates import TemplateParamsInvalid
from zerogate.workflows.excel import add_spreadsheets, cells, write_sample_xlsx
from zerogate.workflows.excel.entities import excel_entities
from zerogate.workflows.excel.quality import WEIGHTS, quality
from zerogate.workflows.excel.reading import excel_read
from zerogate.workflows.excel.report import ExcelReport
from zerogate.workflows.excel.validation import excel_validate

NO_CHECKS: dict[str, list[str]] = {"required": [], "typed": [], "unique": []}
HEADER = ["ID", "Name", "Email", "Amount", "Date", "Active"]
# Row 2 is clean; 3 writes an amount and a date as text; 4 lacks a name, has a bad e-mail
# and a word for an amount; 5 is blank; 6 copies row 2; 7 repeats ID 2 and writes a
# boolean as text; 8 has a number for a date.
DEFECTS: list[list[Any]] = [
    [1, "Ada Bauer", "ada@x.org", 100, date(2024, 1, 5), True],
    [2, "Ben Ito", "ben@x.org", "$1,200", "2024-02-01", False],
    [3, None, "not-an-email", "lots", date(2024, 3, 1), True],
    [None, None, None, None, None, None],
    [1, "Ada Bauer", "ada@x.org", 100, date(2024, 1, 5), True],
    [2, "Chen Wu", "chen@x.org", 50, date(2024, 4, 1), "yes"],
    [4, "Dara Lee", "dara@x.org", 7.5, 12, True],
]
CHECKS = {"required": ["Name", "Email"],
          "types": {"Email": "email", "Amount": "amount", "Date": "date", "Active": "bool",
                    "ID": "int"},
          "unique": ["ID"]}
EXPECTED_ISSUES = [
    {"row": 3, "column": "Amount", "kind": "stored_as_text", "value": "$1,200",
     "expected": "an amount of money stored as a number cell, not as text"},
    {"row": 3, "column": "Date", "kind": "stored_as_text", "value": "2024-02-01",
     "expected": "a date stored as an Excel date cell, not as text"},
    {"row": 4, "column": "Name", "kind": "missing", "value": None,
     "expected": "a value (the column is required)"},
    {"row": 4, "column": "Email", "kind": "wrong_type", "value": "not-an-email",
     "expected": "an e-mail address (name@domain.tld)"},
    {"row": 4, "column": "Amount", "kind": "wrong_type", "value": "lots",
     "expected": "an amount of money"},
    {"row": 6, "column": None, "kind": "duplicate_row", "value": None,
     "expected": "a distinct row (row 2 is the same)"},
    {"row": 7, "column": "Active", "kind": "stored_as_text", "value": "yes",
     "expected": "TRUE or FALSE stored as a TRUE/FALSE cell, not as text"},
    {"row": 7, "column": "ID", "kind": "duplicate_key", "value": 2,
     "expected": "a unique ID (row 3 has the same)"},
    {"row": 8, "column": "Date", "kind": "wrong_type", "value": 12, "expected": "a date"},
]


def workbook(rows: list[list[Any]], header: list[str] | None = None, *,
             formats: dict[int, str] | None = None, title: str = "Data",
             above: list[list[Any]] | None = None) -> bytes:
    """An .xlsx of ``header`` + ``rows`` (``formats``: number format by column index)."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = title
    for row in [*(above or []), header or HEADER, *rows]:
        ws.append(row)
    for col, fmt in (formats or {}).items():
        for (cell,) in ws.iter_rows(min_row=2, min_col=col + 1, max_col=col + 1):
            cell.number_format = fmt
    book.create_sheet("Other").append(["x"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def read(tmp_path: Path, data: bytes, *, needed: dict[str, list[str]] | None = None,
         sheet: str | None = None, header_row: int = 1) -> dict[str, Any]:
    source = {"base64": base64.b64encode(data).decode()}
    return excel_read(source, str(tmp_path), "t", str(tmp_path / "work"), sheet, header_row,
                      needed or NO_CHECKS)


def ctx(**deps: Any) -> TaskContext:
    return TaskContext(task_id=1, workflow_id=1, task="t", attempt=1, deps=deps)


def validate(got: dict[str, Any], checks: dict[str, Any], max_issues: int = 200
             ) -> dict[str, Any]:
    return excel_validate(ctx(excel_read=got), checks.get("required", []),
                          checks.get("types", {}), checks.get("unique", []), max_issues)


# --- cell values ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "want"), [
    ("$12,500", (12500.0, "USD")), ("USD 5,000", (5000.0, "USD")),
    ("EUR 1.2m", (1_200_000.0, "EUR")), ("12,500 usd", (12500.0, "USD")),
    ("£3k", (3000.0, "GBP")), ("12,500", None), ("USD", None), ("$5 more", None)])
def test_amounts_written_as_text(text: str, want: tuple[float, str] | None) -> None:
    assert cells.parse_amount(text) == want


def test_amounts_found_inside_text() -> None:
    assert cells.find_amounts("pledged $5 more, then EUR 1.2m and 300 GBP; A12 USD no") == [
        (5.0, "USD"), (1_200_000.0, "EUR"), (300.0, "GBP")]


@pytest.mark.parametrize("text", ["2024-03-05", "5 Mar 2024", "March 5, 2024", "05/03/2024",
                                  "2024-03-05T00:00:00"])
def test_dates_written_as_text(text: str) -> None:
    assert cells.parse_date(text) is not None


@pytest.mark.parametrize("text", ["G-001-00001", "soon", "2024-13-45", "Q3 2024"])
def test_text_that_is_not_a_date(text: str) -> None:
    assert cells.parse_date(text) is None


@pytest.mark.parametrize(("fmt", "want"), [
    ('"$"#,##0', "USD"), ("[$€-407] #,##0", "EUR"), ("#,##0 [$GBP]", "GBP"),
    ("[$-409]#,##0", None), ("#,##0.00", None), ("General", None)])
def test_currency_of_a_number_format(fmt: str, want: str | None) -> None:
    assert cells.format_currency(fmt) == want


@pytest.mark.parametrize(("cell", "kind", "want"), [
    ("x", "text", "ok"), (3, "text", "wrong"), (3, "int", "ok"), (2.5, "int", "wrong"),
    ("12", "int", "as_text"), ("1,234.5", "number", "as_text"), (True, "number", "wrong"),
    ({"amount": 5, "currency": "USD"}, "amount", "ok"), ("EUR 1.2m", "amount", "as_text"),
    ({"date": "2024-01-02T00:00:00"}, "date", "ok"), ("5 Mar 2024", "date", "as_text"),
    (45000, "date", "wrong"), ("a@b.org", "email", "ok"), ("a@b", "email", "wrong"),
    ("yes", "bool", "as_text"), (False, "bool", "ok"), ({"error": "#N/A"}, "number", "wrong")])
def test_type_checks(cell: Any, kind: cells.CellType, want: str) -> None:
    assert cells.check(cell, kind) == want


# --- validation -----------------------------------------------------------------------------

def test_known_defects_give_exactly_the_hand_listed_issues(tmp_path: Path) -> None:
    got = read(tmp_path, workbook(DEFECTS))
    assert (got["records"], got["blank_rows"], got["columns"]) == (6, 1, HEADER)
    assert got["sheets"] == ["Data", "Other"] and got["sheet"] == "Data"
    checked = validate(got, CHECKS)
    assert checked["issues"] == EXPECTED_ISSUES
    assert checked["issues_total"] == 9
    assert checked["by_kind"] == {"stored_as_text": 3, "missing": 1, "wrong_type": 3,
                                  "duplicate_row": 1, "duplicate_key": 1}
    assert checked["by_column"] == {"Amount": 2, "Date": 2, "Name": 1, "Email": 1,
                                    "(whole row)": 1, "Active": 1, "ID": 1}
    assert checked["typed"] == {"columns": ["Email", "Amount", "Date", "Active", "ID"],
                                "ok": 24, "as_text": 3, "wrong": 3}


def test_listing_stops_at_max_issues_but_counts_stay_full(tmp_path: Path) -> None:
    checked = validate(read(tmp_path, workbook(DEFECTS)), CHECKS, max_issues=2)
    assert checked["issues"] == EXPECTED_ISSUES[:2] and checked["issues_total"] == 9


def test_a_key_of_several_columns_ignores_case_and_spaces(tmp_path: Path) -> None:
    rows = [[1, "Ada Bauer", "a@x.org", 1, None, None],
            [2, " ada bauer ", "a@x.org", 2, None, None],
            [3, "Ada Bauer", "b@x.org", 3, None, None]]
    checked = validate(read(tmp_path, workbook(rows)), {"unique": ["Name", "Email"]})
    assert checked["issues"] == [
        {"row": 3, "column": "Name, Email", "kind": "duplicate_key",
         "value": " ada bauer  | a@x.org", "expected": "a unique Name, Email (row 2 has the same)"}]


def test_quality_on_the_defects_sheet_is_the_hand_computed_mix(tmp_path: Path) -> None:
    got = read(tmp_path, workbook(DEFECTS))
    found = excel_entities(ctx(excel_read=got), 10)
    scored = quality(validate(got, CHECKS), found["roles"])
    parts = {p["name"]: p["score"] for p in scored["parts"]}
    # 11/12 required cells, 27/30 valid, 4/6 unique, 24/27 stored natively
    assert parts == {"completeness": 91.67, "validity": 90.0, "uniqueness": 66.67,
                     "consistency": 88.89}
    assert scored["score"] == pytest.approx(0.35 * 91.67 + 0.3 * 90 + 0.2 * 66.67
                                            + 0.15 * 88.89, abs=0.01)


def clean_rows(n: int = 10) -> list[list[Any]]:
    return [[i, f"Person {chr(65 + i)}", f"p{i}@x.org", 100 * i, date(2024, 1, i + 1), True]
            for i in range(1, n + 1)]


CLEAN_CHECKS = {"required": ["Name", "Email"],
                "types": {"ID": "int", "Email": "email", "Amount": "number", "Date": "date",
                          "Active": "bool"}, "unique": ["ID"]}


def score(tmp_path: Path, rows: list[list[Any]]) -> dict[str, Any]:
    got = read(tmp_path, workbook(rows))
    return quality(validate(got, CLEAN_CHECKS), excel_entities(ctx(excel_read=got), 5)["roles"])


def test_a_clean_sheet_scores_100(tmp_path: Path) -> None:
    scored = score(tmp_path, clean_rows())
    assert scored["score"] == 100.0
    assert all(p["score"] == 100.0 for p in scored["parts"])
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_each_defect_costs_its_documented_weight(tmp_path: Path) -> None:
    missing = clean_rows()
    missing[0][2] = None  # 19 of 20 required cells: completeness 95, -0.35 * 5
    assert score(tmp_path / "a", missing)["score"] == 98.25
    copied = [*clean_rows(9), clean_rows(9)[0]]  # 9 of 10 unique: -0.20 * 10
    assert score(tmp_path / "b", copied)["score"] == 98.0
    texted = clean_rows()
    texted[0][4] = "2024-01-02"  # 49 of 50 valid values native: -0.15 * 2
    assert score(tmp_path / "c", texted)["score"] == 99.7
    wrong = clean_rows()
    wrong[0][3] = "lots"  # 49 of 50 valid: -0.30 * 2
    assert score(tmp_path / "d", wrong)["score"] == 99.4


def test_quality_without_declarations_uses_inferred_roles_and_usual_columns() -> None:
    checked = {"records": 10, "filled": {"A": 10, "B": 9, "Notes": 2}, "required": [],
               "typed": {"columns": [], "ok": 0, "as_text": 0, "wrong": 0},
               "by_kind": {}, "duplicates": 0}
    roles = [{"column": "B", "check": {"values": 9, "matching": 8, "as_text": 2}},
             {"column": "A", "check": None}]
    scored = quality(checked, roles)
    parts = {p["name"]: p["score"] for p in scored["parts"]}
    # Notes is mostly empty, so optional: 19 of 20 cells; 8 of 9 valid; 6 of 8 native
    assert parts == {"completeness": 95.0, "validity": 88.89, "uniqueness": 100.0,
                     "consistency": 75.0}
    assert "inferred: B" in scored["parts"][1]["explanation"]


# --- entities -------------------------------------------------------------------------------

def test_entities_and_column_roles(tmp_path: Path) -> None:
    header = ["Contact", "Organisation", "Email", "Amount (USD)", "Paid", "Notes"]
    rows = [
        ["Ada Bauer", "Northwind Foundation", "Ada@X.org", 5000, 12500,
         "Co-funded with Cedar Health Trust; pledged EUR 1.2m"],
        ["Ben Ito", "Acme Ltd", "ben@x.org", "7,000", 300, "We trust the board"],
        ["Ada Bauer", "Northwind Foundation", "ada@x.org", 5000, 250, "Trust"],
        ["Chen Wu", "Lumen Institute", "chen@x.org", 100, 50, "Foundation work, see ada@x.org"],
    ]
    got = read(tmp_path, workbook(rows, header, formats={4: '"$"#,##0'}))
    found = excel_entities(ctx(excel_read=got), 10)
    texts = {kind: {e["text"]: (e["count"], e["rows"]) for e in found[kind]}
             for kind in ("people", "organisations", "emails", "amounts")}
    assert texts["people"] == {"Ada Bauer": (2, [2, 4]), "Ben Ito": (1, [3]),
                               "Chen Wu": (1, [5])}
    assert texts["organisations"] == {"Northwind Foundation": (2, [2, 4]),
                                      "Acme Ltd": (1, [3]), "Lumen Institute": (1, [5]),
                                      "Cedar Health Trust": (1, [2])}
    assert texts["emails"] == {"ada@x.org": (3, [2, 4, 5]), "ben@x.org": (1, [3]),
                               "chen@x.org": (1, [5])}
    # "Amount (USD)" is USD by its header (text "7,000" too), "Paid" by its cell format
    assert texts["amounts"] == {
        "USD 5,000.00": (2, [2, 4]), "USD 7,000.00": (1, [3]), "USD 100.00": (1, [5]),
        "USD 12,500.00": (1, [2]), "USD 300.00": (1, [3]), "USD 250.00": (1, [4]),
        "USD 50.00": (1, [5]), "EUR 1,200,000.00": (1, [2])}
    assert found["amount_totals"] == [{"currency": "EUR", "count": 1, "total": 1_200_000.0},
                                      {"currency": "USD", "count": 8, "total": 30_200.0}]
    roles = {r["column"]: r["role"] for r in found["roles"]}
    assert roles == {"Contact": "person", "Organisation": "organisation", "Email": "email",
                     "Amount (USD)": "amount", "Paid": "amount", "Notes": "text"}
    assert found["roles"][3]["currency"] == "USD"


# --- reading --------------------------------------------------------------------------------

def test_a_chosen_sheet_and_header_row(tmp_path: Path) -> None:
    data = workbook([[1, "Ada Bauer", "a@x.org", 5, None, None]],
                    above=[["Grants 2024"], []])
    got = read(tmp_path, data, header_row=3)
    assert got["columns"] == HEADER and got["records"] == 1
    assert read(tmp_path, data, sheet="Other")["columns"] == ["x"]


def test_cells_keep_their_excel_types_in_the_rows_file(tmp_path: Path) -> None:
    row = [7, "Ada Bauer", "#N/A", 12500, datetime(2024, 3, 5, 9, 30), True]
    got = read(tmp_path, workbook([row, [None] * 6, [None] * 6], formats={3: '"$"#,##0'}))
    lines = Path(got["path"]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        [2, [7, "Ada Bauer", {"error": "#N/A"}, {"amount": 12500, "currency": "USD"},
             {"date": "2024-03-05T09:30:00"}, True]]]
    assert got["blank_rows"] == 0  # blank rows after the last record are not counted


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sheet": "Grants"}, "no sheet 'Grants' in the workbook (sheets: Data, Other)"),
    ({"header_row": 40}, "header row 40 of sheet 'Data' has no column names"),
    ({"needed": {"required": ["Phone"], "typed": ["Date"], "unique": ["Key"]}},
     "no column 'Phone' (required), 'Key' (unique) in header row 1 of sheet 'Data' "
     "(columns found: ID, Name, Email, Amount, Date, Active)")])
def test_sheet_and_column_problems_are_named(tmp_path: Path, kwargs: dict[str, Any],
                                             message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read(tmp_path, workbook(DEFECTS), **kwargs)
    assert str(caught.value) == message


@pytest.mark.parametrize("data", [b"ID,Name\n1,Ada\n", b"", workbook(DEFECTS)[:500]])
def test_a_file_that_is_not_a_workbook(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"^not an Excel workbook: input\.xlsx"):
        read(tmp_path, data)


def test_samples_are_deterministic_and_have_every_kind_of_defect(tmp_path: Path) -> None:
    rows, inbox = [], tmp_path / "inbox" / "t"
    inbox.mkdir(parents=True)
    for name in ("a", "b"):
        write_sample_xlsx(inbox / f"{name}.xlsx", 11, rows=400)
        got = excel_read({"file": f"{name}.xlsx"}, str(tmp_path), "t",
                         str(tmp_path / name), None, 1, NO_CHECKS)
        rows.append(Path(got["path"]).read_text())
    assert rows[0] == rows[1] and got["records"] == 400
    checked = validate(got, {"required": ["Contact", "Email", "Amount"],
                             "types": {"Email": "email", "Amount": "amount", "Awarded": "date"},
                             "unique": ["Grant ID"]})
    assert set(checked["by_kind"]) == {"missing", "wrong_type", "stored_as_text",
                                       "duplicate_row", "duplicate_key"}


# --- end to end -----------------------------------------------------------------------------

async def test_end_to_end_inline_inbox_and_sample(template_rig: Any) -> None:
    data = workbook(DEFECTS)
    params = {**CHECKS, "max_entities": 3}
    async with template_rig(add_spreadsheets) as rig:
        inline = await rig.run("excel_processing",
                               {"source": {"base64": base64.b64encode(data).decode()},
                                **params})
        (rig.inbox() / "grants.xlsx").write_bytes(data)
        inbox = await rig.run("excel_processing", {"source": {"file": "grants.xlsx"}, **params})
        sample = await rig.run("excel_processing", {"source": {"sample": 5}})
    for results in (inline, inbox):
        report = ExcelReport.model_validate(results["excel_report"])
        assert [i.model_dump() for i in report.issues] == EXPECTED_ISSUES
        assert (report.records, report.blank_rows, report.issues_total) == (6, 1, 9)
        assert report.quality.score == pytest.approx(85.75, abs=0.01)
        assert [e.text for e in report.entities.people][:1] == ["Ada Bauer"]
    assert inline["excel_read"]["origin"] == "base64"
    assert inbox["excel_read"]["origin"] == "file"
    report = ExcelReport.model_validate(sample["excel_report"])
    assert report.sheet == "Grants" and report.records == 3000
    # nothing declared: only copied rows are issues, yet inferred roles still find defects
    assert set(report.issues_by_kind) == {"duplicate_row"} and 80 < report.quality.score < 99
    assert {r.column: r.role for r in report.entities.roles}["Email"] == "email"
    assert report.entities.distinct["organisations"] > 10 and len(report.entities.people) == 50


async def test_bad_inputs_fail_the_workflow_with_clear_messages(template_rig: Any) -> None:
    junk = base64.b64encode(b"this is not a workbook").decode()
    good = base64.b64encode(workbook(DEFECTS)).decode()
    async with template_rig(add_spreadsheets) as rig:
        corrupt = await rig.outcome("excel_processing", {"source": {"base64": junk}})
        absent = await rig.outcome("excel_processing", {"source": {"base64": good},
                                                        "required": ["Phone"]})
    assert corrupt.state is WorkflowState.FAILED and absent.state is WorkflowState.FAILED
    assert "not an Excel workbook: input.xlsx (File is not a zip file)" in (
        corrupt.errors["excel_read"])
    assert "no column 'Phone' (required) in header row 1 of sheet 'Data'" in (
        absent.errors["excel_read"])
    assert "(invalid input)" in absent.errors["excel_read"]


def test_params_errors_name_each_problem() -> None:
    registry = Registry()
    add_spreadsheets(registry, Path("files"))
    template = registry.templates.get("excel_processing")
    with pytest.raises(TemplateParamsInvalid) as caught:
        template.validate({"source": {"sample": 1, "text": "x"}, "header_row": 0,
                           "types": {"Amount": "money"}, "required": [""], "colour": "red"})
    locs = {tuple(e["loc"]) for e in caught.value.errors}
    assert locs == {("source",), ("header_row",), ("types", "Amount"), ("required", 0),
                    ("colour",)}
    assert template.validate({"source": {"sample": 1}}).max_issues == 200


def test_declared_feature_and_resources() -> None:
    registry = Registry()
    add_spreadsheets(registry, Path("files"))
    assert [(f.name, str(f.category)) for f in registry.features()] == [
        ("excel_processing", "experimental")]
    for name in ("excel_read", "excel_validate", "excel_entities"):
        task = registry.get(name)
        assert task.run_in.value == "process" and task.need.cpu == 1.0 and task.timeout_s
    assert json.dumps(registry.templates.get("excel_processing").output_schema())
