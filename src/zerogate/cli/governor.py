"""The resource governor as the commands show it: ``resources`` (what it sees on this
machine now), performance ``profiles`` (the server's, or the built-in ones) and the
``features`` it sheds under load."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from rich.markup import escape
from rich.table import Table

from zerogate.adapters.sampler import SystemSampler
from zerogate.cli.connection import connect
from zerogate.cli.output import console, new_table, print_answer
from zerogate.client import KEY_ENV
from zerogate.domain.policy import Policy
from zerogate.domain.profiles import PROFILES, show
from zerogate.domain.resources import ResourceSnapshot
from zerogate.domain.thresholds import Band
from zerogate.errors import InvalidConfig, InvalidInput
from zerogate.runtime.governor import health_of


def add_features(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``features``."""
    features = sub.add_parser("features", parents=[api],
                              help="the governor's features; --set overrides one (admin)")
    features.add_argument("--set", nargs=2, metavar=("NAME", "STATE"), default=None,
                          help="STATE is on, off or auto (back to the governor)")
    features.add_argument("--for", dest="for_s", type=float, default=None, metavar="SECONDS",
                          help="with --set: only for this long")
    features.add_argument("--json", action="store_true")
    features.set_defaults(run=_features)


def add_commands(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``resources`` and ``profiles``."""
    resources = sub.add_parser("resources", help="what the governor sees on this machine now")
    resources.add_argument("--profile", choices=sorted(PROFILES), default="balanced")
    resources.add_argument("--samples", type=int, default=3)
    resources.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    resources.set_defaults(run=_resources)
    profiles = sub.add_parser(
        "profiles", parents=[api], help="performance profiles: the server's (with a key), "
        "else the built-in ones")
    profiles.add_argument("--switch", metavar="NAME", default=None,
                          help="make NAME the server's active profile (admin)")
    profiles.add_argument("--builtin", action="store_true",
                          help="show the built-in profiles without asking a server")
    profiles.add_argument("--json", action="store_true", help="print the server's answer")
    profiles.set_defaults(run=_profiles_command)


async def _profiles_command(args: argparse.Namespace) -> int:
    has_key = bool(getattr(args, "key", None) or os.environ.get(KEY_ENV))
    if args.switch is None and (args.builtin or not has_key):
        return await _profiles(args)
    async with connect(args) as c:
        out = await (c.switch_profile(args.switch) if args.switch else c.profiles())
    print_answer(out, lambda out: _print_server_profiles(out, args.switch), as_json=args.json)
    return 0


def _print_server_profiles(out: dict[str, Any], switch: str | None) -> None:
    table = Table(title=f"server profiles (active: {out['active']})")
    for column in ("profile", "cpu high", "cpu critical", "memory high", "memory critical",
                   "concurrency", "bypass"):
        table.add_column(column)
    for p in out["profiles"]:
        mark = " *" if p["name"] == out["active"] else ""
        table.add_row(f"{p['name']}{mark}", f"{p['cpu_high']:.0%}", f"{p['cpu_critical']:.0%}",
                      f"{p['memory_high']:.0%}", f"{p['memory_critical']:.0%}",
                      f"{p['concurrency_min']}-{p['concurrency_max']}",
                      "yes" if p["critical_bypass"] else "no")
    console.print(table)
    if switch:
        console.print(f"active profile: {escape(str(out['active']))}", highlight=False)


async def _features(args: argparse.Namespace) -> int:
    if args.for_s is not None and args.set is None:
        raise InvalidInput("--for goes with --set NAME STATE")
    if args.set is not None and args.set[1] not in ("on", "off", "auto"):
        raise InvalidInput(f"a feature's state is on, off or auto, not {args.set[1]!r}")
    async with connect(args) as c:
        if args.set is not None:
            one = await c.set_feature(args.set[0], args.set[1], args.for_s)
            print_answer(one, _print_feature, as_json=args.json)
            return 0
        features = await c.features()
    print_answer(features, _print_features, as_json=args.json)
    return 0


def _print_feature(one: dict[str, Any]) -> None:
    console.print(f"{escape(one['name'])}: {'on' if one['on'] else 'off'} "
                  f"({escape(one['override'] or one['reason'])})", highlight=False)


def _print_features(features: list[Any]) -> None:
    table = new_table("features", "feature", "category", "on", "why", "override")
    for f in features:
        table.add_row(escape(f["name"]), f["category"], "yes" if f["on"] else "no",
                      escape(f["reason"]), escape(f["override"] or ""))
    console.print(table)


async def _resources(args: argparse.Namespace) -> int:
    if args.samples < 2:
        raise InvalidConfig("--samples must be at least 2: CPU needs two readings")
    sampler, policy = SystemSampler(), Policy(PROFILES[args.profile])
    for i in range(args.samples):
        if i:
            await asyncio.sleep(args.interval)
        snapshot = await sampler.sample_async()
        decision = policy.step(snapshot, snapshot.taken_at)
    table = Table(title=f"resources ({snapshot.scope}), profile {args.profile}")
    for column in ("signal", "reading"):
        table.add_column(column)
    for name, text in snapshot_rows(snapshot):
        table.add_row(name, text)
    console.print(table)
    health = health_of(decision, policy.profile)
    console.print(f"load level {decision.level:.2f} (limiting: {decision.limiting or 'none'}), "
                  f"tier {decision.tier}; health {health.score}/100 ({health.status}): "
                  f"{health.reason}")
    for category, why in decision.shed.items():
        console.print(f"{category.value:>12}: {'shed: ' + why if why is not None else 'on'}")
    return 0


def snapshot_rows(s: ResourceSnapshot) -> list[tuple[str, str]]:
    """One snapshot as (signal, reading) rows for people."""
    gib = 2**30
    rows = [("cpu", f"{s.cpu_fraction:.0%} of {s.cpu_limit_cores:g} cores"
             if s.cpu_fraction is not None else "no reading"),
            ("memory", f"{(s.memory_used_bytes or 0) / gib:.2f} GiB working set of "
                       f"{s.memory_limit_bytes / gib:.2f} GiB ({s.memory_fraction or 0:.0%})")]
    rows += [(f"disk {path}", f"{used:.0%} used") for path, used in s.disk.items()]
    rows += [(f"pressure {kind}", f"some {p.some_avg10:.1f}%"
              + (f", full {p.full_avg10:.1f}%" if p.full_avg10 is not None else ""))
             for kind, p in s.pressure.items()]
    if "pressure" not in s.signals:
        rows.append(("pressure", "no PSI on this kernel"))
    rows += [(f"io {k}", f"{v / 2**20:.1f} MiB/s") for k, v in s.io_bytes_per_s.items()]
    if s.own is not None:
        rows.append(("this process tree", f"{s.own.processes} processes, "
                                          f"{s.own.rss_bytes / 2**20:.0f} MiB RSS"))
    return rows


async def _profiles(args: argparse.Namespace) -> int:
    table = Table(title="performance profiles (enter / exit, hold)")
    for column in ("profile", "cpu high", "cpu critical", "memory high", "memory critical",
                   "disk", "bypass", "evict"):
        table.add_column(column)
    for name, p in PROFILES.items():
        table.add_row(name, *(_band(field, p.band(field)) for field in (
            "cpu_high", "cpu_critical", "memory_high", "memory_critical", "disk")),
            "yes" if p.critical_bypass else "no", "yes" if p.evict_on_memory_critical else "no")
    console.print(table)
    return 0


def _band(field: str, band: Band) -> str:
    return f"{show(field, band.enter)} / {show(field, band.exit)}, {band.hold_s:g} s"
