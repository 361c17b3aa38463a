"""Export a performance report as JSON, CSV tables (zip or directory) or one HTML page.

A report is the plain dict of schema ``zerogate.report/1``. Every string in it is
untrusted (task names come from users): HTML escapes all of it and holds no script and
no URL, CSV goes through the csv module. Rates and shares are fractions (0.25) and show
as percentages in HTML; CSV keeps raw values, with None as an empty cell.
"""

from __future__ import annotations

import csv
import io
import json
import math
import secrets
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from zerogate.errors import InvalidInput, InvalidPayload
from zerogate.telemetry.charts import bar_chart, format_value, line_chart

__all__ = ["COLUMNS", "FORMATS", "SUMMARY_FIELDS", "TABLES", "csv_tables", "to_html", "to_json",
           "write_csv_dir", "write_csv_zip", "write_report"]

TABLES: tuple[str, ...] = ("summary", "task_types", "stages", "trends", "bottlenecks")
FORMATS: tuple[str, ...] = ("csv", "html", "json")

SUMMARY_FIELDS: tuple[str, ...] = (
    "tasks", "completed", "failed", "retried", "cancelled", "success_rate", "throughput_per_s",
    "duration_p50_s", "duration_p95_s", "queue_wait_p50_s",
)
COLUMNS: dict[str, tuple[str, ...]] = {
    "task_types": (
        "task", "count", "completed", "failed", "retried", "success_rate", "duration_mean_s",
        "duration_p50_s", "duration_p95_s", "duration_max_s", "queue_wait_p50_s",
        "queue_wait_p95_s", "cpu_s", "peak_memory_bytes",
    ),
    "stages": (
        "workflow", "step", "runs", "duration_p50_s", "wait_p50_s", "critical_path_share",
    ),
    "trends": (
        "hour", "hour_iso", "completed", "failed", "throughput_per_s", "duration_p50_s",
        "duration_p95_s", "failure_rate", "cpu_percent", "memory_percent",
    ),
    "bottlenecks": (
        "kind", "subject", "severity", "summary", "recommendation", "first_seen", "last_seen",
        "resolved_at", "evidence",
    ),
}
# HTML formats a cell by its key's suffix, the naming rule of the report schema.
_SUFFIX_UNITS = (("_per_s", "/s"), ("_s", "s"), ("_bytes", "bytes"), ("_percent", "%"),
                 ("_rate", "ratio"), ("_share", "ratio"))
_TIME_KEYS = frozenset({"hour", "first_seen", "last_seen", "resolved_at"})
_STATUSES = ("healthy", "degraded", "critical")
_SEVERITY_RANK = {"critical": 0, "high": 1, "warning": 2, "medium": 2, "low": 3, "info": 4}
_TOP_BARS = 20


def to_json(report: Mapping[str, Any]) -> str:
    """Serialise ``report`` as stable JSON; fix the value the InvalidPayload names, then retry."""
    try:
        return json.dumps(report, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        try:
            where = _first_bad(report, "report") or "report"
        except RecursionError:  # a report that contains itself: json said so already
            where = "report"
        raise InvalidPayload(f"report cannot be exported as JSON at {where}: {exc}") from exc


def _first_bad(value: Any, where: str) -> str | None:
    """Return the path of the first value JSON cannot hold, to name it in the error."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            return where
        found = (_first_bad(item, f"{where}[{key!r}]") for key, item in value.items())
    elif isinstance(value, list | tuple):
        found = (_first_bad(item, f"{where}[{i}]") for i, item in enumerate(value))
    else:
        ok = value is None or isinstance(value, str | int | float)
        return None if ok else where
    return next((path for path in found if path), None)


def csv_tables(report: Mapping[str, Any]) -> dict[str, str]:
    """Render each table of TABLES as CSV text; None becomes an empty cell."""
    tables = {"summary": _csv_text(("field", "value"), _summary_rows(report))}
    for name in TABLES[1:]:
        rows = ([_csv_cell(row.get(key)) for key in COLUMNS[name]] for row in _rows(report, name))
        tables[name] = _csv_text(COLUMNS[name], rows)
    return tables


def _summary_rows(report: Mapping[str, Any]) -> Iterator[list[str]]:
    for field, value in _summary_items(report):
        yield [field, _csv_cell(value)]


def _summary_items(report: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Return the known summary fields in order, then any others sorted by name."""
    summary = _mapping(report, "summary")
    extra = sorted(str(key) for key in summary if key not in SUMMARY_FIELDS)
    return [(field, summary.get(field)) for field in (*SUMMARY_FIELDS, *extra)]


def _csv_text(header: Sequence[str], rows: Iterator[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _rows(report: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """Return the rows of list table ``name``, with derived columns (trends' ``hour_iso``)."""
    items = report.get(name) or []
    if not isinstance(items, list | tuple) or not all(isinstance(i, Mapping) for i in items):
        raise InvalidInput(f"report[{name!r}] must be a list of objects")
    rows = [dict(item) for item in items]
    if name == "trends":
        for row in rows:
            row["hour_iso"] = _iso(row.get("hour"))
    return rows


def _mapping(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = report.get(name) or {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"report[{name!r}] must be an object or null")
    return value


def _number(value: Any) -> float | None:
    """Return ``value`` as a finite float, or None for missing, NaN and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _utc(value: Any, pattern: str) -> str | None:
    epoch_s = _number(value)
    if epoch_s is None:
        return None
    try:
        return datetime.fromtimestamp(epoch_s, UTC).strftime(pattern)
    except (OverflowError, OSError, ValueError):  # outside the calendar: no date to show
        return None


def _iso(value: Any) -> str | None:
    return _utc(value, "%Y-%m-%dT%H:%M:%SZ")


def csv_zip(report: Mapping[str, Any]) -> bytes:
    """Each table as ``<table>.csv`` in one zip archive (bytes)."""
    stamp = _zip_stamp(report.get("generated_at"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in csv_tables(report).items():
            # A fixed stamp makes the same report produce byte-identical archives.
            info = zipfile.ZipInfo(f"{name}.csv", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    return buffer.getvalue()


def write_csv_zip(report: Mapping[str, Any], path: Path | str) -> Path:
    """Write each table as ``<table>.csv`` into one zip at ``path``, replacing it whole."""
    return _write_atomically(Path(path), csv_zip(report))


def _zip_stamp(generated_at: Any) -> tuple[int, int, int, int, int, int]:
    text = _utc(generated_at, "%Y %m %d %H %M %S")
    parts = tuple(int(part) for part in text.split()) if text else ()
    if len(parts) == 6 and 1980 <= parts[0] <= 2107:  # the years a zip entry can hold
        return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
    return 1980, 1, 1, 0, 0, 0


def write_csv_dir(report: Mapping[str, Any], path: Path | str) -> Path:
    """Write each table as ``<table>.csv`` into the directory ``path``, creating it."""
    tables = csv_tables(report)  # before mkdir: a bad report leaves no empty directory
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        _write_atomically(directory / f"{name}.csv", text.encode())
    return directory


def write_report(report: Mapping[str, Any], path: Path, fmt: str) -> Path:
    """Write ``report`` to ``path`` as json, html or csv (a .zip path, else a directory)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
    path = Path(path)
    if fmt == "csv":
        is_zip = path.suffix.lower() == ".zip"
        return write_csv_zip(report, path) if is_zip else write_csv_dir(report, path)
    text = to_json(report) + "\n" if fmt == "json" else to_html(report)
    return _write_atomically(path, text.encode())


def _write_atomically(path: Path, data: bytes) -> Path:
    """Write through a sibling temporary file so readers never see half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("xb") as handle:
            handle.write(data)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def to_html(report: Mapping[str, Any]) -> str:
    """Render ``report`` as one self-contained HTML page: inline CSS and SVG, no script, no URL."""
    body = "".join((_header(report), _summary(report), _charts(report), _tables(report)))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>zerogate performance report</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def _header(report: Mapping[str, Any]) -> str:
    status = _mapping(report, "status")
    level = str(status.get("status", "unknown"))
    listed = status.get("reasons") or []
    listed = [listed] if isinstance(listed, str) else listed
    reasons = "".join(f"<li>{escape(str(reason))}</li>" for reason in listed)
    extra = "".join(f"<li>{escape(str(key))}: {escape(_display(value, ''))}</li>"
                    for key, value in status.items() if key not in ("status", "reasons"))
    window = _mapping(report, "window")
    return (f'<header class="status-{level if level in _STATUSES else "unknown"}">'
            "<h1>zerogate performance report</h1>"
            f'<p class="status">Status: <strong>{escape(level)}</strong></p>'
            f'<ul class="reasons">{reasons}{extra}</ul>'
            f'<p class="window">Window: {_time_tag(window.get("since"))} to '
            f'{_time_tag(window.get("until"))}; generated '
            f'{_time_tag(report.get("generated_at"))}</p></header>')


def _time_tag(value: Any) -> str:
    iso, shown = _iso(value), _utc(value, "%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{iso}">{shown}</time>' if iso else "–"


def _summary(report: Mapping[str, Any]) -> str:
    items = [(field, value, _unit(field)) for field, value in _summary_items(report)]
    return _field_table("Summary", "summary", items)


def _capacity(report: Mapping[str, Any]) -> str:
    items = [(str(key), value, _unit(str(key))) for key, value in
             _mapping(report, "capacity").items()]
    return _field_table("Capacity", "capacity", items)


def _field_table(heading: str, name: str, items: list[tuple[str, Any, str]]) -> str:
    """Render (field, value, unit) triples as a two-column table with the field as row head."""
    rows = [f'<tr><th scope="row">{escape(field)}</th>{_td(value, unit)}</tr>'
            for field, value, unit in items]
    return _section(heading, name, ("Field", "Value"), rows)


def _section(heading: str, name: str, labels: Sequence[str], rows: list[str]) -> str:
    head = "".join(f'<th scope="col">{escape(label)}</th>' for label in labels)
    empty = "" if rows else '<p class="no-data">no data</p>'
    return (f'<section><h2>{escape(heading)}</h2><table id="{name}"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>{empty}</section>')


def _charts(report: Mapping[str, Any]) -> str:
    trends = _rows(report, "trends")

    def series(key: str, scale: float = 1.0) -> list[tuple[float, float | None]]:
        points = ((_number(row.get("hour")), _number(row.get(key))) for row in trends)
        return [(x, None if y is None else y * scale) for x, y in points if x is not None]

    charts = (
        ("Throughput", line_chart({"throughput": series("throughput_per_s")},
                                  title="Hourly throughput, tasks per second", y_unit="/s")),
        ("Task duration", line_chart({"p50": series("duration_p50_s"),
                                      "p95": series("duration_p95_s")},
                                     title="Hourly task duration, p50 and p95", y_unit="s")),
        ("Failure rate", line_chart({"failure rate": series("failure_rate", 100.0)},
                                    title="Hourly failure rate", y_unit="%")),
        ("Resource use", line_chart({"cpu": series("cpu_percent"),
                                     "memory": series("memory_percent")},
                                    title="Hourly CPU and memory use", y_unit="%")),
        ("Slowest task types", bar_chart(_slowest(report), unit="s",
                                         title=f"Task types by p95 duration, top {_TOP_BARS}")),
    )
    return "".join(f'<section class="chart"><h2>{heading}</h2>{svg}</section>'
                   for heading, svg in charts)


def _slowest(report: Mapping[str, Any]) -> list[tuple[str, float]]:
    bars = [(str(row.get("task", "")), _number(row.get("duration_p95_s")))
            for row in _rows(report, "task_types")]
    known = [(task, p95) for task, p95 in bars if p95 is not None]
    return sorted(known, key=lambda bar: -bar[1])[:_TOP_BARS]


def _tables(report: Mapping[str, Any]) -> str:
    bottlenecks = sorted(_rows(report, "bottlenecks"), key=_bottleneck_order)
    return "".join((
        _table_section("Task types", "task_types", _rows(report, "task_types")),
        _table_section("Stages", "stages", _rows(report, "stages")),
        _table_section("Bottlenecks, active first", "bottlenecks", bottlenecks),
        _table_section("Hourly trends", "trends", _rows(report, "trends")),
        _capacity(report),
    ))


def _bottleneck_order(row: Mapping[str, Any]) -> tuple[bool, int, float]:
    """Sort active before resolved, then by severity, then the most recent first."""
    last_seen = _number(row.get("last_seen")) or 0.0
    rank = _SEVERITY_RANK.get(str(row.get("severity", "")).lower(), len(_SEVERITY_RANK))
    return row.get("resolved_at") is not None, rank, -last_seen


def _table_section(heading: str, name: str, rows: list[dict[str, Any]]) -> str:
    # hour_iso is for tools; the page already shows the hour as a UTC date and time.
    keys = [key for key in COLUMNS[name] if key != "hour_iso"]
    keys = ["state", *keys] if name == "bottlenecks" else keys
    labels = [_label(key) for key in keys]
    return _section(heading, name, labels, [_tr(row, keys, name) for row in rows])


def _unit(key: str) -> str:
    if key in _TIME_KEYS:
        return "time"
    return next((unit for suffix, unit in _SUFFIX_UNITS if key.endswith(suffix)), "")


def _label(key: str) -> str:
    """Turn ``queue_wait_p95_s`` into ``Queue wait p95``; the cells carry the unit."""
    units = _SUFFIX_UNITS[:4]  # rates and shares keep their word: "Failure rate"
    stem = next((key.removesuffix(suffix) for suffix, _ in units if key.endswith(suffix)), key)
    text = stem.replace("_", " ").capitalize().replace("Cpu", "CPU")
    return f"{text} (UTC)" if key in _TIME_KEYS else text


def _tr(row: Mapping[str, Any], keys: Sequence[str], name: str) -> str:
    if name != "bottlenecks":
        return f"<tr>{_tds(row, keys)}</tr>"
    state = "active" if row.get("resolved_at") is None else "resolved"
    severity = str(row.get("severity", "")).lower()
    css = severity if severity in _SEVERITY_RANK else "other"
    cells = _tds({**row, "state": state}, keys)
    return f'<tr class="{state} severity-{css}">{cells}</tr>'


def _tds(row: Mapping[str, Any], keys: Sequence[str]) -> str:
    return "".join(_td(row.get(key), _unit(key)) for key in keys)


def _td(value: Any, unit: str) -> str:
    """Render one cell: readable text, and the exact number in ``data-value`` for tools."""
    number = value if _number(value) is not None else None
    attribute = f' data-value="{escape(repr(number))}"' if number is not None else ""
    return f"<td{attribute}>{escape(_display(value, unit))}</td>"


def _display(value: Any, unit: str) -> str:
    if unit == "time":
        return _utc(value, "%Y-%m-%d %H:%M") or "–"
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_display(item, '')}" for key, item in value.items()) or "–"
    if isinstance(value, str):
        return value
    number = _number(value)
    if number is None:
        return "–" if value is None or isinstance(value, int | float) else str(value)
    if unit == "ratio":
        return format_value(number * 100, "%")
    if isinstance(value, int) and unit == "":
        return str(value)  # counts stay exact: 12345 tasks, not 12.3k
    return format_value(number, unit)


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;color:#111827;background:#f9fafb}"
    "main{max-width:1100px;margin:0 auto;padding:1rem 1.5rem}"
    "header{border-left:8px solid #6b7280;padding:.5rem 1rem;background:#fff}"
    "header.status-healthy{border-color:#16a34a}header.status-degraded{border-color:#d97706}"
    "header.status-critical{border-color:#dc2626}.status strong{text-transform:uppercase}"
    "section{background:#fff;margin:1rem 0;padding:.5rem 1rem;overflow-x:auto}"
    "svg.chart{max-width:100%;height:auto}svg text{fill:#374151}"
    "table{border-collapse:collapse;font-size:.85rem;width:100%}"
    "th,td{border-bottom:1px solid #e5e7eb;padding:.25rem .5rem;text-align:left;"
    "vertical-align:top}td[data-value]{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.resolved{color:#6b7280}tr.active.severity-critical td{background:#fef2f2}"
    "tr.active.severity-high td{background:#fff7ed}"
    ".no-data{color:#6b7280;font-style:italic}"
)
