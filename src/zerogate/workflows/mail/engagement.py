"""The ``email_engagement`` step: how promptly each side answers, how deep threads go,
who starts them, and which threads await our reply.

A reply pair is a message and the one it answers (In-Reply-To, else the last of
References) sent by the other side; thread depth is the longest reference chain; a
thread's starter is its root message (else its earliest); a thread awaits our reply
when its latest message is theirs and addressed to us. ``engagement`` is the pure
computation, ``email_engagement`` the task that feeds it the message file.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from zerogate import TaskContext
from zerogate.workflows.mail.records import (
    DAY,
    HOUR,
    Mail,
    as_of_time,
    counterparts,
    load,
    write_json,
)


def email_engagement(ctx: TaskContext, as_of: str | None) -> dict[str, Any]:
    """Response times, thread depths, starters and threads awaiting our reply."""
    parsed: dict[str, Any] = ctx.deps["email_parse"]
    mails, asks = [], set()
    for m in load(parsed["path"]):
        if "?" in m.text:
            asks.add(m.id)
        mails.append(dataclasses.replace(m, text=""))
    found = engagement(mails, frozenset(parsed["me"]), as_of_time(as_of, parsed), asks)
    path = write_json(Path(parsed["path"]).with_name("engagement.json"), found)
    return {"path": path, "our_replies": found["our_replies"],
            "their_replies": found["their_replies"], "depths": found["depths"],
            "started": found["started"], "awaiting": len(found["awaiting"])}


def reply_stats(hours: Iterable[float]) -> dict[str, Any]:
    """Count, median and 90th percentile (linear interpolation) of reply times."""
    arr = np.asarray(list(hours), dtype=float)
    if not arr.size:
        return {"replies": 0, "median_hours": None, "p90_hours": None}
    return {"replies": int(arr.size), "median_hours": round(float(np.median(arr)), 2),
            "p90_hours": round(float(np.percentile(arr, 90)), 2)}


def engagement(mails: list[Mail], me: frozenset[str], as_of: float | None,
               asks: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The engagement facts of a mailbox (pure; ``asks``: ids of messages asking)."""
    ours, theirs = reply_times(mails, me)
    threads: defaultdict[str, list[Mail]] = defaultdict(list)
    for m in mails:
        threads[m.thread].append(m)
    depths, sides = Counter[int](), Counter[str]()
    started: defaultdict[str, Counter[str]] = defaultdict(Counter)
    awaiting = [a for t, msgs in threads.items() if (a := _awaiting(t, msgs, me, as_of, asks))]
    awaiting.sort(key=lambda a: (not a["asks"], -(a["waiting_days"] or 0.0)))
    for thread, msgs in threads.items():
        depths[max(1 + max(len(m.references), m.in_reply_to is not None) for m in msgs)] += 1
        starter = next((m for m in msgs if m.id == thread), None) or _ordered(msgs)[0]
        side = "us" if starter.sender in me else "them"
        sides[side] += 1
        for c in counterparts(starter, me):
            started[c][side] += 1
    waiting = Counter(a["contact"] for a in awaiting)
    contacts = {c: {"our_replies": reply_stats(ours.get(c, [])),
                    "their_replies": reply_stats(theirs.get(c, [])),
                    "started_by_us": started[c]["us"], "started_by_them": started[c]["them"],
                    "awaiting_reply": waiting[c]}
                for c in sorted(set(ours) | set(theirs) | set(started) | set(waiting))}
    return {"our_replies": reply_stats(h for hs in ours.values() for h in hs),
            "their_replies": reply_stats(h for hs in theirs.values() for h in hs),
            "depths": {str(d): n for d, n in sorted(depths.items())},
            "started": {"us": sides["us"], "them": sides["them"]},
            "contacts": contacts, "awaiting": awaiting}


def reply_times(mails: list[Mail], me: frozenset[str]) -> tuple[dict[str, list[float]],
                                                                  dict[str, list[float]]]:
    """Hours from a message to the other side's reply, by contact: (ours, theirs)."""
    by_id = {m.id: m for m in mails}
    ours: defaultdict[str, list[float]] = defaultdict(list)
    theirs: defaultdict[str, list[float]] = defaultdict(list)
    for m in mails:
        p = by_id.get(m.parent or "")
        if p is None or m.at is None or p.at is None or (m.sender in me) == (p.sender in me):
            continue
        if m.at >= p.at:  # a reply dated before its message: a wrong clock, left out
            (ours[p.sender] if m.sender in me else theirs[m.sender]).append((m.at - p.at) / HOUR)
    return ours, theirs


def _awaiting(thread: str, msgs: list[Mail], me: frozenset[str], as_of: float | None,
              asks: set[str] | frozenset[str]) -> dict[str, Any] | None:
    """The thread's latest message if it is theirs, to us, and so awaits our reply. The
    latest is the latest dated one, or a reply to it (the undated answer is later)."""
    dated = [m for m in msgs if m.at is not None]
    last, seen = _ordered(dated)[-1] if dated else msgs[-1], set()
    while last.id not in seen:
        seen.add(last.id)
        last = next((m for m in msgs if m.parent == last.id), last)
    if last.sender in me or not me & set(last.to + last.cc):
        return None
    wait = None if last.at is None or as_of is None else max(as_of - last.at, 0.0) / DAY
    return {"thread": thread, "id": last.id, "contact": last.sender, "subject": last.subject,
            "asks": last.id in asks, "waiting_days": None if wait is None else round(wait, 2)}


def _ordered(msgs: list[Mail]) -> list[Mail]:
    """Dated messages by date (file order on ties), then the undated in file order."""
    return sorted(msgs, key=lambda m: (m.at is None, m.at or 0.0))
