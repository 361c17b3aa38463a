"""The ``email_report`` step: contacts ranked by strength with their tone and
engagement joined in, the threads that need attention, and the totals, returned as the
template's ``EmailReport`` output.

A thread needs attention when it awaits our reply or its tone is negative; the most
pressing come first: both reasons, then a question asked, then the longest wait, then
the most negative.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zerogate import TaskContext
from zerogate.workflows.mail.models import (
    TOP_CONTACTS,
    TOP_THREADS,
    Attention,
    ContactRow,
    EmailReport,
    Replies,
    Tone,
    Totals,
)
from zerogate.workflows.mail.sentiment import NEGATIVE


def email_report(ctx: TaskContext) -> dict[str, Any]:
    """Contacts ranked by strength with tone and engagement, threads needing attention."""
    deps: dict[str, Any] = dict(ctx.deps)
    parsed, toned, engaged = deps["email_parse"], deps["email_sentiment"], deps["email_engagement"]
    tones, found, rows = (json.loads(Path(deps[step]["path"]).read_text(encoding="utf-8"))
                          for step in ("email_sentiment", "email_engagement", "email_strength"))
    contacts = [contact_row(r, tones["contacts"].get(r["address"], {}),
                            found["contacts"].get(r["address"], {})) for r in rows[:TOP_CONTACTS]]
    totals = Totals(
        messages=parsed["messages"], threads=len(tones["threads"]), contacts=len(rows),
        sent=parsed["sent"], received=parsed["messages"] - parsed["sent"],
        attachments=parsed["attachments"], undated=parsed["undated"],
        skipped=parsed["skipped"], duplicates=parsed["duplicates"], first=parsed["first"],
        latest=parsed["latest"], me=parsed["me"], me_guessed=parsed["me_guessed"],
        as_of=deps["email_strength"]["as_of"])
    return EmailReport(
        totals=totals, contacts=contacts,
        attention=attention(found["awaiting"], tones["threads"])[:TOP_THREADS],
        our_replies=Replies(**engaged["our_replies"]),
        their_replies=Replies(**engaged["their_replies"]), thread_depths=engaged["depths"],
        started_by_us=engaged["started"]["us"], started_by_them=engaged["started"]["them"],
        tone=Tone(mean=toned["mean"], positive=toned["positive"], neutral=toned["neutral"],
                  negative=toned["negative"], unscored=toned["unscored"]),
        flagged=parsed["flagged"]).model_dump(mode="json")


def contact_row(row: dict[str, Any], tone: dict[str, Any], found: dict[str, Any]) -> ContactRow:
    """One contact's line of the report (strength row, tone and engagement joined)."""
    none = {"replies": 0, "median_hours": None, "p90_hours": None}
    return ContactRow(**{"our_replies": none, "their_replies": none, "started_by_us": 0,
                         "started_by_them": 0, "awaiting_reply": 0, **found, **row},
                      sentiment=tone.get("mean"), their_sentiment=tone.get("theirs"),
                      trend=tone.get("trend"))


def attention(awaiting: list[dict[str, Any]], threads: dict[str, Any]) -> list[Attention]:
    """Threads awaiting our reply or of negative tone, the most pressing first: both
    reasons, then a question asked, then the longest wait, then the most negative."""
    rows: dict[str, Attention] = {}
    asks: set[str] = set()
    for a in awaiting:
        t = threads[a["thread"]]
        wait = "" if a["waiting_days"] is None else f" for {a['waiting_days']:.0f} days"
        rows[a["thread"]] = Attention(
            thread=a["thread"], subject=t["subject"], contacts=t["contacts"],
            messages=t["messages"], waiting_days=a["waiting_days"], sentiment=t["mean"],
            reasons=[f"awaiting our reply{wait}" + (", asks a question" if a["asks"] else "")])
        if a["asks"]:
            asks.add(a["thread"])
    for tid, t in threads.items():
        if t["mean"] is not None and t["mean"] <= NEGATIVE:
            row = rows.setdefault(tid, Attention(
                thread=tid, subject=t["subject"], contacts=t["contacts"],
                messages=t["messages"], waiting_days=None, sentiment=t["mean"], reasons=[]))
            row.reasons.append(f"negative tone ({t['mean']:+.2f})")
    return sorted(rows.values(), key=lambda r: (-len(r.reasons), r.thread not in asks,
                                                -(r.waiting_days or 0.0), r.sentiment or 0.0))
