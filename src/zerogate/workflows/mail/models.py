"""The email_analysis template's published output: ``EmailReport`` (contacts ranked by
strength, threads needing attention, totals) and its parts. ``email_report`` returns
``EmailReport(...).model_dump(mode="json")``, so this schema is enforced at run time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pydantic

TOP_CONTACTS, TOP_THREADS = 50, 20


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
