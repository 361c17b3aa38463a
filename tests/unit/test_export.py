"""Report exports read back: JSON, CSV tables, zip, HTML tables and inline SVG charts."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from zerogate.errors import InvalidInput, InvalidPayload
from zerogate.telemetry.charts import bar_chart, format_value, line_chart
from zerogate.telemetry.export import (
    COLUMNS,
    TABLES,
    csv_tables,
    to_html,
    to_json,
    write_csv_dir,
    write_csv_zip,
    write_report,
)

NASTY = '<script>alert(1)</script>, "quoted"'
T0 = 1763683200.0  # 2025-11-21 00:00:00 UTC
HOUR = 3600.0


def task_type(task: str, count: int, p95: float | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "task": task, "count": count, "completed": count - 2, "failed": 1, "retried": 3,
        "success_rate": (count - 2) / count, "duration_mean_s": 0.4, "duration_p50_s": 0.35,
        "duration_p95_s": p95, "duration_max_s": 4.5, "queue_wait_p50_s": 0.01,
        "queue_wait_p95_s": 0.2, "cpu_s": 12.5, "peak_memory_bytes": 52_428_800,
    }
    return row | extra


def trend(i: int) -> dict[str, Any]:
    gap = i in (5, 6, 17)  # hours the sampler missed: durations and resources unknown
    return {
        "hour": T0 + i * HOUR, "completed": 100 + i, "failed": i % 4,
        "throughput_per_s": (100 + i) / HOUR,
        "duration_p50_s": None if gap else 0.2 + i / 100,
        "duration_p95_s": None if gap else 1.5 + i / 10,
        "failure_rate": (i % 4) / (100 + i), "cpu_percent": None if gap else 20.0 + i,
        "memory_percent": None if gap else 55.5,
    }


@pytest.fixture
def report() -> dict[str, Any]:
    return {
        "schema": "zerogate.report/1",
        "generated_at": T0 + 24 * HOUR + 60,
        "window": {"since": T0, "until": T0 + 24 * HOUR},
        "summary": {"tasks": 2530, "completed": 2480, "failed": 30, "retried": 41,
                    "cancelled": 20, "success_rate": 0.980237, "throughput_per_s": 0.0287,
                    "duration_p50_s": 0.35, "duration_p95_s": 2.75, "queue_wait_p50_s": None},
        "task_types": [
            task_type("resize_image", 1200, 2.75),
            task_type(NASTY, 30, 9.5, cpu_s=None, peak_memory_bytes=None),
            task_type("send-mail, bulk\nline two", 800, 0.125),
            task_type("unicode ✓ Ünïcødé", 500, None, success_rate=None),
        ],
        "stages": [
            {"workflow": "ingest", "step": "fetch", "runs": 40, "duration_p50_s": 1.25,
             "wait_p50_s": 0.5, "critical_path_share": 0.6},
            {"workflow": "ingest", "step": NASTY, "runs": 40, "duration_p50_s": None,
             "wait_p50_s": None, "critical_path_share": 0.0},
        ],
        "trends": [trend(i) for i in range(24)],
        "bottlenecks": [
            {"kind": "queue_wait", "subject": "resize_image", "severity": "warning",
             "summary": "tasks wait 2 s for a slot", "recommendation": "raise concurrency",
             "first_seen": T0 + HOUR, "last_seen": T0 + 3 * HOUR, "resolved_at": T0 + 4 * HOUR,
             "evidence": {"wait_p95_s": 2.0, "slots": 4.0}},
            {"kind": "memory", "subject": NASTY, "severity": "critical",
             "summary": "memory above 90 %", "recommendation": "lower the memory target",
             "first_seen": T0 + 20 * HOUR, "last_seen": T0 + 23 * HOUR, "resolved_at": None,
             "evidence": {"memory_percent": 93.5}},
        ],
        "capacity": {"action": "scale_up", "needed_concurrency": 12, "drain_s": 340.5},
        "status": {"status": "degraded", "reasons": ["memory at 93% is nearing its limit"],
                   "score": 61},
    }


@pytest.fixture
def empty_report(report: dict[str, Any]) -> dict[str, Any]:
    return report | {"task_types": [], "stages": [], "trends": [], "bottlenecks": [],
                     "capacity": None, "summary": {}}


# -- JSON --------------------------------------------------------------------------------


def test_json_round_trips_and_is_stable(report: dict[str, Any]) -> None:
    text = to_json(report)
    assert json.loads(text) == report
    assert text == to_json(copy.deepcopy(report))
    assert text.startswith('{\n  "bottlenecks"')  # sorted keys, indent 2


@pytest.mark.parametrize("bad", [math.nan, math.inf, {1, 2}, object()])
def test_json_rejects_values_json_cannot_hold_and_names_where(
        report: dict[str, Any], bad: Any) -> None:
    report["task_types"][1]["cpu_s"] = bad
    with pytest.raises(InvalidPayload, match=r"report\['task_types'\]\[1\]\['cpu_s'\]"):
        to_json(report)
    assert issubclass(InvalidPayload, InvalidInput)


# -- CSV ---------------------------------------------------------------------------------


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_has_one_table_per_name_with_fixed_headers(report: dict[str, Any]) -> None:
    tables = csv_tables(report)
    assert tuple(tables) == TABLES
    for name in TABLES[1:]:
        header = next(csv.reader(io.StringIO(tables[name])))
        assert tuple(header) == COLUMNS[name]
    assert COLUMNS["trends"][:2] == ("hour", "hour_iso")
    assert [len(read_csv(tables[name])) for name in TABLES[1:]] == [4, 2, 24, 2]


def test_csv_summary_is_field_value_with_empty_none(report: dict[str, Any]) -> None:
    rows = read_csv(csv_tables(report)["summary"])
    values = {row["field"]: row["value"] for row in rows}
    assert list(rows[0]) == ["field", "value"]
    assert values["tasks"] == "2530"
    assert float(values["success_rate"]) == 0.980237
    assert values["queue_wait_p50_s"] == ""


def test_csv_values_and_nasty_names_round_trip(report: dict[str, Any]) -> None:
    tables = csv_tables(report)
    tasks = read_csv(tables["task_types"])
    assert [row["task"] for row in tasks] == [t["task"] for t in report["task_types"]]
    assert tasks[1]["task"] == NASTY and tasks[1]["cpu_s"] == tasks[1]["peak_memory_bytes"] == ""
    assert int(tasks[0]["peak_memory_bytes"]) == 52_428_800
    assert float(tasks[0]["success_rate"]) == report["task_types"][0]["success_rate"]
    assert tasks[3]["success_rate"] == "" and tasks[3]["duration_p95_s"] == ""
    stages = read_csv(tables["stages"])
    assert stages[1]["step"] == NASTY and stages[1]["wait_p50_s"] == ""


def test_csv_trends_carry_iso_hours_and_gaps(report: dict[str, Any]) -> None:
    trends = read_csv(csv_tables(report)["trends"])
    assert trends[0]["hour_iso"] == "2025-11-21T00:00:00Z"
    assert trends[23]["hour_iso"] == "2025-11-21T23:00:00Z"
    assert float(trends[23]["hour"]) == T0 + 23 * HOUR
    assert trends[5]["duration_p50_s"] == "" and trends[17]["cpu_percent"] == ""
    assert float(trends[4]["duration_p50_s"]) == report["trends"][4]["duration_p50_s"]
    assert float(trends[7]["throughput_per_s"]) == 107 / HOUR


def test_csv_bottleneck_evidence_is_compact_json(report: dict[str, Any]) -> None:
    rows = read_csv(csv_tables(report)["bottlenecks"])
    assert json.loads(rows[0]["evidence"]) == {"wait_p95_s": 2.0, "slots": 4.0}
    assert " " not in rows[0]["evidence"]
    assert rows[1]["subject"] == NASTY and rows[1]["resolved_at"] == ""


def test_csv_zip_holds_every_table(report: dict[str, Any], tmp_path: Path) -> None:
    path = write_csv_zip(report, tmp_path / "out" / "report.zip")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(f"{name}.csv" for name in TABLES)
        tasks = read_csv(archive.read("task_types.csv").decode())
    assert tasks[1]["task"] == NASTY
    assert write_csv_zip(report, tmp_path / "again.zip").read_bytes() == path.read_bytes()
    assert [p.name for p in path.parent.iterdir()] == ["report.zip"]  # no temporary left


def test_csv_dir_holds_every_table(report: dict[str, Any], tmp_path: Path) -> None:
    directory = write_csv_dir(report, tmp_path / "tables")
    assert sorted(p.name for p in directory.iterdir()) == sorted(f"{n}.csv" for n in TABLES)
    with (directory / "stages.csv").open(encoding="utf-8", newline="") as handle:
        assert list(csv.DictReader(handle))[1]["step"] == NASTY


def test_csv_rejects_a_table_that_is_not_a_list(report: dict[str, Any], tmp_path: Path) -> None:
    report["stages"] = "fetch"
    with pytest.raises(InvalidInput, match="stages"):
        write_csv_dir(report, tmp_path / "tables")
    assert not (tmp_path / "tables").exists()


# -- write_report ------------------------------------------------------------------------


def test_write_report_picks_the_writer_by_format(report: dict[str, Any], tmp_path: Path) -> None:
    assert json.loads(write_report(report, tmp_path / "r.json", "json").read_text()) == report
    assert "<svg" in write_report(report, tmp_path / "r.html", "html").read_text()
    assert zipfile.is_zipfile(write_report(report, tmp_path / "r.zip", "csv"))
    assert (write_report(report, tmp_path / "r", "csv") / "trends.csv").is_file()


def test_write_report_names_the_accepted_formats(report: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="csv, html, json"):
        write_report(report, tmp_path / "r.pdf", "pdf")
    assert list(tmp_path.iterdir()) == []


# -- HTML --------------------------------------------------------------------------------


class Page(HTMLParser):
    """Collect tables by id (header and body rows), svg charts and every tag seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.heads: dict[str, list[str]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.values: dict[str, list[list[str | None]]] = {}
        self.svgs: list[dict[str, Any]] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._in_head = False
        self._cell: list[str] | None = None
        self._svg_title: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "table":
            self._table = found["id"]
            self.heads[self._table or ""], self.rows[self._table or ""] = [], []
            self.values[self._table or ""] = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table and not self._in_head:
            self.rows[self._table].append([])
            self.values[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
            if tag == "td" and not self._in_head:
                self.values[self._table][-1].append(found.get("data-value"))
        elif tag == "svg":
            self.svgs.append({"attrs": found, "title": None})
        elif tag == "title" and self.svgs and self.svgs[-1]["title"] is None:
            self._svg_title = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._table and self._cell is not None:
            text = "".join(self._cell)
            target = self.heads[self._table] if self._in_head else self.rows[self._table][-1]
            target.append(text)
            self._cell = None
        elif tag == "title" and self._svg_title is not None:
            self.svgs[-1]["title"] = "".join(self._svg_title)
            self._svg_title = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for sink in (self._cell, self._svg_title):
            if sink is not None:
                sink.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def column(page: Page, table: str, heading: str) -> list[str]:
    index = page.heads[table].index(heading)
    return [row[index] for row in page.rows[table]]


def test_html_is_self_contained_and_holds_no_script(report: dict[str, Any]) -> None:
    page_text = to_html(report)
    page = parse(page_text)
    lowered = page_text.lower()
    for forbidden in ("http", "src=", "<link", "<script", "//", "url("):
        assert forbidden not in lowered, forbidden
    assert {tag for tag, _ in page.tags} & {"script", "link", "img", "iframe"} == set()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text
    assert page_text.startswith("<!DOCTYPE html>") and "<style>" in page_text


def test_html_tables_hold_the_report_values(report: dict[str, Any]) -> None:
    page = parse(to_html(report))
    assert {"task_types", "stages", "bottlenecks", "trends", "summary", "capacity"} <= set(
        page.heads)
    assert column(page, "task_types", "Task") == [t["task"] for t in report["task_types"]]
    assert column(page, "task_types", "Count") == ["1200", "30", "800", "500"]
    assert column(page, "task_types", "Duration p95") == ["2.75 s", "9.5 s", "125 ms", "–"]
    assert column(page, "task_types", "Peak memory")[:2] == ["50 MiB", "–"]
    assert column(page, "task_types", "Success rate")[3] == "–"
    p95 = page.heads["task_types"].index("Duration p95")
    assert [row[p95] for row in page.values["task_types"]] == ["2.75", "9.5", "0.125", None]
    assert column(page, "stages", "Step") == ["fetch", NASTY]
    assert column(page, "stages", "Critical path share") == ["60%", "0%"]
    assert len(page.rows["trends"]) == 24
    assert column(page, "trends", "Hour (UTC)")[13] == "2025-11-21 13:00"
    assert column(page, "trends", "Duration p50")[5] == "–"


def test_html_lists_active_bottlenecks_first_with_severity(report: dict[str, Any]) -> None:
    page = parse(to_html(report))
    assert column(page, "bottlenecks", "State") == ["active", "resolved"]
    assert column(page, "bottlenecks", "Severity") == ["critical", "warning"]
    assert column(page, "bottlenecks", "Subject") == [NASTY, "resize_image"]
    assert column(page, "bottlenecks", "Resolved at (UTC)") == ["–", "2025-11-21 04:00"]


def test_html_header_shows_status_reasons_window_and_summary(report: dict[str, Any]) -> None:
    page = parse(to_html(report))
    text = "".join(page.text)
    assert "degraded" in text and "memory at 93% is nearing its limit" in text
    assert "2025-11-21 00:00:00 UTC" in text and "2025-11-22 00:00:00 UTC" in text
    header = next(attrs for tag, attrs in page.tags if tag == "header")
    assert header["class"] == "status-degraded"
    summary = dict(zip(column(page, "summary", "Field"), column(page, "summary", "Value"),
                       strict=True))
    assert summary["tasks"] == "2530" and summary["success_rate"] == "98%"
    assert summary["duration_p50_s"] == "350 ms" and summary["queue_wait_p50_s"] == "–"
    capacity = dict(zip(column(page, "capacity", "Field"), column(page, "capacity", "Value"),
                        strict=True))
    assert capacity == {"action": "scale_up", "needed_concurrency": "12", "drain_s": "5.67 min"}


def test_html_charts_are_accessible_svgs(report: dict[str, Any]) -> None:
    page = parse(to_html(report))
    assert len(page.svgs) >= 5
    for svg in page.svgs:
        assert svg["attrs"]["role"] == "img"
        assert svg["attrs"]["aria-label"] and svg["title"] == svg["attrs"]["aria-label"]
    assert "no data" not in "".join(page.text)
    legends = [a for tag, a in page.tags if tag == "text" and a.get("class") == "legend"]
    assert len(legends) >= 4  # p50/p95 and cpu/memory


def test_html_bar_chart_ranks_task_types_by_p95(report: dict[str, Any]) -> None:
    report["task_types"] += [task_type(f"t{i:02d}", 10, i / 10) for i in range(30)]
    page_text = to_html(report)
    bars = ElementTree.fromstring(page_text[page_text.rindex("<svg"):page_text.rindex("</svg>")
                                           + 6])
    titles = [rect.findtext("title") for rect in bars.iter("rect")]
    assert len(titles) == 20
    assert titles[:4] == [f"{NASTY}: 9.5 s", "t29: 2.9 s", "t28: 2.8 s", "resize_image: 2.75 s"]
    assert titles[-1] == "t12: 1.2 s"  # the 20th: send-mail (125 ms) and None p95 fall off


def test_html_of_an_empty_report_says_no_data(empty_report: dict[str, Any]) -> None:
    page = parse(to_html(empty_report))
    text = "".join(page.text)
    assert len(page.svgs) == 5 and all(svg["title"] for svg in page.svgs)
    assert text.count("no data") >= 5 + 5  # five charts, four lists and capacity
    assert all(page.rows[name] == [] for name in ("task_types", "stages", "bottlenecks",
                                                     "trends", "capacity"))
    assert not [tag for tag, _ in page.tags if tag in ("polyline", "circle")]


# -- SVG charts --------------------------------------------------------------------------


def svg_tree(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # inline SVG is also well-formed XML


def polylines(root: ElementTree.Element, name: str) -> list[list[tuple[float, float]]]:
    found = []
    for line in root.iter("polyline"):
        if line.get("data-series") == name:
            pairs = (pair.split(",") for pair in (line.get("points") or "").split())
            found.append([(float(x), float(y)) for x, y in pairs])
    return found


def test_line_chart_maps_points_inside_the_viewbox_in_order() -> None:
    values = [3.0, 7.5, 1.0, 12.0, 12.0, 0.5]
    points = [(T0 + i * HOUR, v) for i, v in enumerate(values)]
    root = svg_tree(line_chart({"load": points}, title="Load", y_unit="/s", width=500,
                               height=200))
    assert root.get("viewBox") == "0 0 500 200"
    (line,) = polylines(root, "load")
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert 0 <= min(xs) < max(xs) <= 500 and 0 <= min(ys) < max(ys) <= 200
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # Larger values sit higher on screen: the pixel order is the reverse of the value order.
    by_value = sorted(range(len(values)), key=lambda i: (values[i], -i))
    by_pixel = sorted(range(len(values)), key=lambda i: (-ys[i], -i))
    assert by_value == by_pixel
    assert ys[3] == ys[4] and ys[3] == min(ys)


def test_line_chart_sorts_unordered_input_by_time() -> None:
    points = [(T0 + 2 * HOUR, 2.0), (T0, 0.0), (T0 + HOUR, 1.0)]
    (line,) = polylines(svg_tree(line_chart({"a": points}, title="a", y_unit="")), "a")
    assert [y for _, y in line] == sorted((y for _, y in line), reverse=True)


def test_a_none_value_splits_the_line() -> None:
    points = [(T0 + i * HOUR, None if i in (3, 7) else float(i)) for i in range(10)]
    root = svg_tree(line_chart({"p95": points, "p50": [(T0, 1.0)]}, title="d", y_unit="s"))
    runs = polylines(root, "p95")
    assert [len(run) for run in runs] == [3, 3, 2]
    assert runs[0][-1][0] < runs[1][0][0] and runs[1][-1][0] < runs[2][0][0]
    dots = [c for c in root.iter("circle") if c.get("data-series") == "p50"]
    assert len(dots) == 1  # a lone point is a dot, not an invisible one-point line
    assert [t.text for t in root.iter("text") if t.get("class") == "legend"] == ["p95", "p50"]


@pytest.mark.parametrize("points", [
    [(T0, 5.0)],
    [(T0 + i * HOUR, 0.0) for i in range(4)],
    [(T0 + i * HOUR, 42.0) for i in range(4)],
    [(T0 + i * HOUR, -1.0 if i % 2 else math.nan) for i in range(4)],
])
def test_line_chart_survives_degenerate_series(points: list[tuple[float, float]]) -> None:
    svg = line_chart({"a": points}, title="degenerate", y_unit="%")
    root = svg_tree(svg)
    coordinates = [float(v) for el in root.iter() for attr in ("cx", "cy", "x", "y")
                   if (v := el.get(attr)) is not None]
    coordinates += [float(v) for line in polylines(root, "a") for xy in line for v in xy]
    assert coordinates and all(0 <= c <= 640 for c in coordinates)
    assert "nan" not in svg.lower() and "inf" not in svg.lower()


def test_line_chart_without_values_says_no_data() -> None:
    for series in ({}, {"a": []}, {"a": [(T0, None), (T0 + HOUR, None)]}):
        root = svg_tree(line_chart(series, title="Empty", y_unit="s"))
        assert root.get("role") == "img" and root.findtext("title") == "Empty"
        assert [t.text for t in root.iter("text")] == ["no data"]


def test_line_chart_labels_time_in_utc_and_values_with_units() -> None:
    points = [(T0 + i * HOUR, 0.1 * i) for i in range(24)]
    root = svg_tree(line_chart({"p50": points}, title="d", y_unit="s"))
    ticks = [t.text for t in root.iter("text") if t.get("class") == "tick"]
    assert "00:00" in ticks and "12:00" in ticks
    assert "0 s" in ticks and "500 ms" in ticks and "2.5 s" in ticks
    week = [(T0 + i * 86400, 1.0) for i in range(8)]
    labels = [t.text for t in svg_tree(line_chart({"a": week}, title="w", y_unit="")).iter(
        "text") if t.get("class") == "tick"]
    dates = [label for label in labels if re.fullmatch(r"2025-11-2\d", label or "")]
    assert len(dates) >= 3 and dates == sorted(dates)


def test_bar_chart_scales_bars_to_the_largest_and_escapes_labels() -> None:
    svg = bar_chart([(NASTY, 4.0), ("half", 2.0), ("zero", 0.0)], title="p95", unit="s")
    root = svg_tree(svg)
    widths = [float(rect.get("width") or "nan") for rect in root.iter("rect")]
    assert widths[0] == 2 * widths[1] > 0 and widths[2] == 0
    assert "<script>" not in svg
    assert next(rect.findtext("title") for rect in root.iter("rect")) == f"{NASTY}: 4 s"
    assert svg_tree(bar_chart([("a", 0.0)], title="z", unit="s")).findtext("title") == "z"
    assert [t.text for t in svg_tree(bar_chart([], title="e", unit="s")).iter("text")] == [
        "no data"]


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.0123, "s", "12.3 ms"), (2.75, "s", "2.75 s"), (150.0, "s", "2.5 min"),
    (7200.0, "s", "2 h"), (999.7, "", "1k"), (12345.0, "", "12.3k"), (0.25, "/s", "0.25/s"),
    (98.0237, "%", "98%"), (52_428_800, "bytes", "50 MiB"), (0.0, "s", "0 s"),
    (math.nan, "s", "–"),
])
def test_numbers_are_formatted_compactly(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text
