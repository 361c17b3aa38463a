"""The ``email_analysis`` template: who we write with, in what tone, how promptly each
side answers, and how strong each relationship is, from one .eml or an mbox.

DAG: ``email_parse`` (decode the file to one JSON line per message, see ``mail``) ->
``email_sentiment`` and ``email_engagement`` in parallel -> ``email_strength`` ->
``email_report``. "Us" are the ``me`` addresses; a message's contacts are its sender
if someone else sent it, else its To and Cc recipients who are not us.

- Tone: VADER (vaderSentiment) scores each sentence of what the sender wrote (quotes
  dropped); a message's score is the mean of its sentences' compound scores, in
  [-1, 1]. A contact's trend is the least-squares slope of their messages' scores,
  per 30 days: "improving" above +0.1, "declining" below -0.1, else "steady".
- Engagement: a reply pair is a message and the one it answers (In-Reply-To, else the
  last of References) sent by the other side; thread depth is the longest reference
  chain; a thread's starter is its root message (else its earliest); a thread awaits
  our reply when its latest message is theirs and addressed to us.
- Strength: ``workflows.strength`` on each contact's dated messages (ours = we sent
  it), moved by tone: ``10 * mean * n / (n + 3)`` points for a contact whose ``n``
  scored messages average ``mean``, so one angry message moves a score at most 2.5
  points and a long, consistently warm or cold history up to 10; clamped to 0-100.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pydantic
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from zerogate.domain.retry import RetryPolicy
from zerogate.registry import Registry, Workflow
from zerogate.runtime.executor import TaskContext
from zerogate.templates import TemplateContext
from zerogate.workflows import mail
from zerogate.workflows.inputs import Source, materialize, workdir
from zerogate.workflows.mail import Mail, write_sample_mbox
from zerogate.workflows.strength import Interaction, level, strength

FEATURE = "email_analysis"
HOUR, DAY = 3600.0, 86_400.0
TREND_STEP = 0.1  # compound per 30 days that counts as a trend
TONE_POINTS, TONE_PRIOR = 10.0, 3.0  # the strength adjustment, see the module docstring
NEGATIVE = -0.05  # VADER's own threshold for a negative text
SENTENCE = re.compile(r"(?<=[.!?])\s+")
PARAGRAPH = re.compile(r"\n\s*\n")
TOP_CONTACTS, TOP_THREADS = 50, 20
# Peak memory (MiB) per step on a generated 50 MB mbox (55,562 messages): a child
# process's whole peak (about 60 MiB of it the interpreter and imports) for the process
# steps, what a thread step adds to the engine's. Parsing: 88, plus about 6x the size of
# the largest message (a 27 MB one: 188), hence room; tone 89; engagement 149 (about
# 1.6 KiB a message); strength +11; report +30.
PARSE_MB, TONE_MB, ENGAGE_MB, STRENGTH_MB, REPORT_MB = 128, 96, 160, 16, 32
Address = Annotated[str, pydantic.Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]


class EmailParams(pydantic.BaseModel):
    """One .eml message or an mbox file, analysed for tone, engagement and strength."""

    model_config = pydantic.ConfigDict(extra="forbid")
    source: Source
    format: Literal["auto", "eml", "mbox"] = pydantic.Field(
        "auto", description="auto: an mbox if the file starts with 'From ', else one .eml")
    me: list[Address] = pydantic.Field(
        default_factory=list, max_length=20,
        description="our addresses; empty: the address that occurs most in the file")
    as_of: datetime | None = pydantic.Field(
        None, description="score strengths as of this time (default: the latest message)")
    half_life_days: float = pydantic.Field(
        90.0, gt=0, le=3650, description="days after which a message counts half")

    @pydantic.field_validator("as_of")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


class Replies(pydantic.BaseModel):
    replies: int = pydantic.Field(ge=0)
    median_hours: float | None
    p90_hours: float | None


class ContactRow(pydantic.BaseModel):
    address: str
    name: str
    score: float = pydantic.Field(ge=0, le=100, description="strength after the tone")
    base_score: float = pydantic.Field(ge=0, le=100)
    tone_points: float
    recency: float
    frequency: float
    reciprocity: float
    level: Literal["strong", "moderate", "weak", "dormant"]
    interactions: int
    sent: int
    received: int
    last_days: float | None
    sentiment: float | None = pydantic.Field(description="mean compound, both directions")
    their_sentiment: float | None
    trend: Literal["improving", "steady", "declining"] | None
    our_replies: Replies
    their_replies: Replies
    started_by_us: int
    started_by_them: int
    awaiting_reply: int


class Attention(pydantic.BaseModel):
    thread: str
    subject: str
    contacts: list[str]
    messages: int
    reasons: list[str]
    waiting_days: float | None
    sentiment: float | None


class Totals(pydantic.BaseModel):
    messages: int
    threads: int
    contacts: int
    sent: int
    received: int
    attachments: int
    undated: int
    skipped: int
    duplicates: int
    first: datetime | None
    latest: datetime | None
    as_of: datetime | None
    me: list[str]
    me_guessed: bool


class Tone(pydantic.BaseModel):
    mean: float | None
    positive: int
    neutral: int
    negative: int
    unscored: int


class EmailReport(pydantic.BaseModel):
    """Contacts ranked by strength, threads needing attention, and the totals."""

    totals: Totals
    contacts: list[ContactRow] = pydantic.Field(description=f"top {TOP_CONTACTS} by score")
    attention: list[Attention]
    our_replies: Replies
    their_replies: Replies
    thread_depths: dict[str, int]
    started_by_us: int
    started_by_them: int
    tone: Tone
    flagged: list[dict[str, str]] = pydantic.Field(description="messages with no usable Date")


def counterparts(m: Mail, me: frozenset[str]) -> list[str]:
    """The contacts of a message: its sender if not us, else its recipients but us."""
    if m.sender not in me:
        return [m.sender]
    return [a for a in dict.fromkeys(m.to + m.cc) if a not in me]


def _as_of(given: str | None, parsed: dict[str, Any]) -> float | None:
    when = given or parsed["latest"]
    return None if when is None else datetime.fromisoformat(when).timestamp()


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


# -- steps -------------------------------------------------------------------------------


def email_parse(source: dict[str, Any], root: str, tenant: str, work: str, format: str,
                me: list[str]) -> dict[str, Any]:
    """Materialize the input and decode it to ``messages.jsonl``; return the counts."""
    ext = {"eml": "eml", "mbox": "mbox"}.get(format, "mail")
    got = materialize(source, root=root, tenant=tenant, dest=Path(work) / f"input.{ext}",
                      sample=write_sample_mbox)
    out = Path(work) / "messages.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)  # an inbox file is read where it is
    tally = mail.read_mailbox(Path(got["path"]), format, out)
    ours, guessed = mail.choose_me(me, tally)
    return {"path": str(out), "input": got, "messages": tally.messages,
            "skipped": sum(tally.skipped.values()), "skipped_why": dict(tally.skipped),
            "sent": sum(tally.sent[a] for a in ours), "duplicates": tally.duplicates,
            "attachments": tally.attachments,
            "undated": tally.undated_count, "flagged": tally.undated,
            "first": tally.first and tally.first.isoformat(),
            "latest": tally.latest and tally.latest.isoformat(), "me": ours,
            "me_guessed": guessed}


def email_sentiment(ctx: TaskContext) -> dict[str, Any]:
    """VADER tone per message, per contact (mean, trend) and per thread."""
    parsed: dict[str, Any] = ctx.deps["email_parse"]
    began = time.perf_counter()
    analyzer = SentimentIntensityAnalyzer()  # loads its lexicon: once per call
    load_s = time.perf_counter() - began
    me = frozenset(parsed["me"])
    contacts: defaultdict[str, list[tuple[float | None, float, bool]]] = defaultdict(list)
    threads: dict[str, dict[str, Any]] = {}
    scores: list[float] = []
    for m in mail.load(parsed["path"]):
        value = message_tone(analyzer, m.text or m.subject)
        _add_to_thread(threads, m, value, counterparts(m, me))
        if value is None:
            continue
        scores.append(value)
        for c in counterparts(m, me):
            contacts[c].append((m.at, value, m.sender == c))
    for t in threads.values():
        t["mean"], t["contacts"] = _mean(t.pop("scores")), sorted(t["contacts"])
    tones = {c: contact_tone(points) for c, points in contacts.items()}
    path = _write(Path(parsed["path"]).with_name("sentiment.json"),
                  {"contacts": tones, "threads": threads})
    return {"path": path, "analyzer_load_s": round(load_s, 4),
            "unscored": parsed["messages"] - len(scores), **tone_counts(scores)}


def _add_to_thread(threads: dict[str, dict[str, Any]], m: Mail, value: float | None,
                   contacts: list[str]) -> None:
    thread = threads.setdefault(m.thread, {"subject": m.subject, "scores": [], "messages": 0,
                                           "contacts": set()})
    if m.id == m.thread:
        thread["subject"] = m.subject
    thread["messages"] += 1
    thread["contacts"].update(contacts)
    if value is not None:
        thread["scores"].append(value)


def message_tone(analyzer: Any, text: str) -> float | None:
    """Mean VADER compound score of the text's sentences; None if it has no words.
    Greetings, sign-offs and names ("Hi Ada,", "Best,", "Ada") carry no tone and are
    left out: sentences of under 3 words or ending in a comma, unless that is all."""
    sentences = [s for para in PARAGRAPH.split(text)
                 for s in SENTENCE.split(" ".join(para.split())) if any(c.isalpha() for c in s)]
    if not sentences:
        return None
    said = [s for s in sentences if len(s.split()) >= 3 and not s.rstrip().endswith(",")]
    return float(np.mean([analyzer.polarity_scores(s)["compound"] for s in said or sentences]))


def contact_tone(points: list[tuple[float | None, float, bool]]) -> dict[str, Any]:
    """Mean tone with one contact, of their messages, and its trend over time."""
    dated = [(at / DAY, v) for at, v, _ in points if at is not None]
    slope = None
    if len(dated) >= 3 and len({x for x, _ in dated}) > 1:
        slope = float(np.polyfit([x for x, _ in dated], [v for _, v in dated], 1)[0]) * 30
    trend = None if slope is None else (
        "improving" if slope > TREND_STEP else "declining" if slope < -TREND_STEP else "steady")
    return {"mean": _mean([v for _, v, _ in points]), "n": len(points),
            "theirs": _mean([v for _, v, theirs in points if theirs]),
            "slope_30d": None if slope is None else round(slope, 4), "trend": trend}


def tone_counts(scores: list[float]) -> dict[str, Any]:
    return {"scored": len(scores), "mean": _mean(scores),
            "positive": sum(1 for s in scores if s >= -NEGATIVE),
            "negative": sum(1 for s in scores if s <= NEGATIVE),
            "neutral": sum(1 for s in scores if NEGATIVE < s < -NEGATIVE)}


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def email_engagement(ctx: TaskContext, as_of: str | None) -> dict[str, Any]:
    """Response times, thread depths, starters and threads awaiting our reply."""
    parsed: dict[str, Any] = ctx.deps["email_parse"]
    mails, asks = [], set()
    for m in mail.load(parsed["path"]):
        if "?" in m.text:
            asks.add(m.id)
        mails.append(dataclasses.replace(m, text=""))
    found = engagement(mails, frozenset(parsed["me"]), _as_of(as_of, parsed), asks)
    path = _write(Path(parsed["path"]).with_name("engagement.json"), found)
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


def email_strength(ctx: TaskContext, as_of: str | None, half_life_days: float) -> dict[str, Any]:
    """Relationship strength per contact from the message history, moved by tone."""
    parsed: dict[str, Any] = ctx.deps["email_parse"]
    tone_path = ctx.deps["email_sentiment"]["path"]
    tones = json.loads(Path(tone_path).read_text(encoding="utf-8"))["contacts"]
    me, now = frozenset(parsed["me"]), _as_of(as_of, parsed)
    history: defaultdict[str, list[Interaction]] = defaultdict(list)
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    names: dict[str, str] = {}
    for m in mail.load(parsed["path"], text=False):
        names.update(m.names)
        for c in counterparts(m, me):
            counts[c]["sent" if m.sender in me else "received"] += 1
            if m.at is not None:
                history[c].append(Interaction(m.at, m.sender in me))
    rows = [{"address": c, "name": names.get(c, ""), "sent": counts[c]["sent"],
             "received": counts[c]["received"],
             **contact_strength(history[c], now, half_life_days, tones.get(c))}
            for c in counts]
    rows.sort(key=lambda r: (-r["score"], r["address"]))
    path = _write(Path(parsed["path"]).with_name("strength.json"), rows)
    return {"path": path, "contacts": len(rows), "as_of": _iso(now),
            "levels": dict(Counter(r["level"] for r in rows))}


def contact_strength(history: list[Interaction], now: float | None, half_life_days: float,
                     tone: dict[str, Any] | None) -> dict[str, Any]:
    """Strength of one relationship, then the tone adjustment (module docstring)."""
    base = strength(history, now if now is not None else 0.0, half_life_days=half_life_days)
    mean, n = (tone or {}).get("mean"), (tone or {}).get("n", 0)
    points = 0.0 if mean is None else TONE_POINTS * mean * n / (n + TONE_PRIOR)
    score = min(max(base.score + points, 0.0), 100.0)
    return {**base.as_dict(), "base_score": round(base.score, 2), "tone_points": round(points, 2),
            "score": round(score, 2), "level": level(score)}


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


def add_emails(registry: Registry, root: Path) -> None:
    """Register the email_analysis feature, its five steps and the template."""
    registry.feature(FEATURE, "experimental", description=(
        "E-mail analysis: tone, response times and relationship strength per contact"))
    once_more = RetryPolicy(max_attempts=2, no_retry_on=("TaskTimeout",))  # a crash, not a slow run
    parse = registry.task(email_parse, run_in="process", cpu=1.0, memory_mb=PARSE_MB,
                          timeout_s=900, retry=once_more, feature=FEATURE)
    tone = registry.task(email_sentiment, run_in="process", cpu=1.0, memory_mb=TONE_MB,
                         timeout_s=600, retry=once_more, feature=FEATURE)
    engage = registry.task(email_engagement, run_in="process", cpu=1.0, memory_mb=ENGAGE_MB,
                           timeout_s=300, retry=once_more, feature=FEATURE)
    rank = registry.task(email_strength, run_in="thread", memory_mb=STRENGTH_MB,
                         timeout_s=300, feature=FEATURE)
    report = registry.task(email_report, run_in="thread", memory_mb=REPORT_MB, timeout_s=300,
                           feature=FEATURE)

    @registry.template(params=EmailParams, output=EmailReport, feature=FEATURE)
    def email_analysis(p: EmailParams, ctx: TemplateContext) -> Workflow:
        """Rank the contacts of an .eml or mbox by relationship strength, with the tone
        of their messages, response times, and the threads that need attention."""
        work = workdir(root)
        as_of = None if p.as_of is None else p.as_of.isoformat()
        wf = Workflow("email_analysis")
        parsed = wf.add(parse, {"source": p.source.model_dump(exclude_none=True),
                                "root": str(root), "tenant": ctx.tenant, "work": str(work),
                                "format": p.format, "me": list(p.me)})
        toned = wf.add(tone, after=[parsed])
        engaged = wf.add(engage, {"as_of": as_of}, after=[parsed])
        ranked = wf.add(rank, {"as_of": as_of, "half_life_days": p.half_life_days},
                        after=[parsed, toned, engaged])
        wf.add(report, after=[parsed, toned, engaged, ranked])
        return wf
