"""The ``email_sentiment`` step: the tone of each message, per contact and per thread.

VADER (vaderSentiment) scores each sentence of what the sender wrote (quotes dropped
when parsing); a message's score is the mean of its sentences' compound scores, in
[-1, 1]. A contact's trend is the least-squares slope of their messages' scores, per
30 days: "improving" above +0.1, "declining" below -0.1, else "steady". The analyzer
loads a 430 KB lexicon, so it is made once per call (the load time is reported).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from zerogate import TaskContext
from zerogate.workflows.mail.records import DAY, Mail, counterparts, load, write_json

TREND_STEP = 0.1  # compound per 30 days that counts as a trend
NEGATIVE = -0.05  # VADER's own threshold for a negative text
SENTENCE = re.compile(r"(?<=[.!?])\s+")
PARAGRAPH = re.compile(r"\n\s*\n")


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
    for m in load(parsed["path"]):
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
    path = write_json(Path(parsed["path"]).with_name("sentiment.json"),
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
    """How many scores are positive, neutral and negative (VADER's thresholds), and
    their mean."""
    return {"scored": len(scores), "mean": _mean(scores),
            "positive": sum(1 for s in scores if s >= -NEGATIVE),
            "negative": sum(1 for s in scores if s <= NEGATIVE),
            "neutral": sum(1 for s in scores if NEGATIVE < s < -NEGATIVE)}


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None
