"""The ``report`` command: a performance report rendered by the server, or built from
a store file (``--db``), written where a reader never sees half of it."""

from __future__ import annotations

import argparse
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from zerogate.cli.connection import connect
from zerogate.cli.output import console
from zerogate.cli.store import offline_status, open_store
from zerogate.errors import InvalidConfig
from zerogate.telemetry.export import FORMATS, write_report
from zerogate.telemetry.report import build_report


def add_command(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``report``."""
    report = sub.add_parser("report", parents=[api],
                            help="export a performance report (from the server, or --db)")
    report.add_argument("--db", type=Path, default=None,
                        help="read this store file instead of asking a server")
    report.add_argument("--format", choices=FORMATS, default="html")
    report.add_argument("-o", "--output", type=Path, default=None,
                        help="file to write (csv: a .zip, or a directory); default "
                             "zerogate-report.<format>")
    report.add_argument("--hours", type=float, default=24.0, help="how far back to look")
    report.set_defaults(run=_report_command)


async def _report_command(args: argparse.Namespace) -> int:
    if args.db is not None:
        return await _report_from_store(args)
    async with connect(args) as c:
        data = await c.report(args.format, args.hours)
    path = args.output or Path(f"zerogate-report.{'zip' if args.format == 'csv' else args.format}")
    try:
        if args.format == "csv" and path.suffix.lower() != ".zip":
            path.mkdir(parents=True, exist_ok=True)  # a directory of CSV files, as with --db
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for name in z.namelist():
                    # Only the base name: a member path cannot write outside the folder.
                    (path / Path(name).name).write_bytes(z.read(name))
        else:
            _write_file(path, data)
    except OSError as exc:
        raise InvalidConfig(f"cannot write {path}: {exc.strerror}") from None
    if args.format == "json":
        report = json.loads(data)
        console.print(f"wrote {path}: {report['summary']['tasks']} attempts over "
                      f"{args.hours:g} h, {len(report['bottlenecks'])} bottlenecks",
                      highlight=False)
    else:
        console.print(f"wrote {path} ({len(data)} bytes)", highlight=False)
    return 0


def _write_file(path: Path, data: bytes) -> None:
    """Through a sibling temporary file, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


async def _report_from_store(args: argparse.Namespace) -> int:
    store = await open_store(args.db)
    try:
        now = time.time()
        report = await build_report(store, since=now - args.hours * 3600, until=now, now=now,
                                    status=await offline_status(store, now))
    finally:
        await store.close()
    path = args.output or Path(f"zerogate-report.{'zip' if args.format == 'csv' else args.format}")
    written = write_report(report, path, args.format)
    summary = report["summary"]
    console.print(f"wrote {written}: {summary['tasks']} attempts over {args.hours:g} h, "
                  f"{len(report['bottlenecks'])} bottlenecks")
    return 0
