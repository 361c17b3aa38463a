"""The params and output models of template ``sponsor_analysis``.

Kept apart from the processing so the published request and output schemas are in one
place: ``SponsorParams`` is what a request gives, ``SponsorOutput`` (with its rows,
brokers and recommendations) what the report task returns and the engine enforces.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import pydantic

from zerogate.workflows.inputs import Source


class SponsorParams(pydantic.BaseModel):
    """An interaction history to analyse, and how."""

    model_config = pydantic.ConfigDict(extra="forbid")
    source: Source = pydantic.Field(description="interaction CSV: date, contact, "
                                    "organisation, kind, direction, amount (optional)")
    as_of: date | None = pydantic.Field(
        None, description="score as of the start of this day; default: the day after "
        "the latest interaction (later interactions are ignored)")
    half_life_days: float = pydantic.Field(
        90.0, gt=0, le=3650, description="days after which an interaction counts half")
    top: int = pydantic.Field(10, ge=1, le=200, description="recommendations to return")


class SponsorRow(pydantic.BaseModel):
    rank: int
    organisation: str
    probability: float = pydantic.Field(ge=0, le=1)
    strength: float = pydantic.Field(ge=0, le=100)
    level: str
    influence: float = pydantic.Field(ge=0, le=1)
    gifts: int
    gift_total: float
    last_gift_days: int | None
    last_contact_days: int | None
    contacts: int
    key_contact: str


class Broker(pydantic.BaseModel):
    contact: str
    organisations: list[str]
    influence: float


class Recommendation(pydantic.BaseModel):
    action: Literal["ask", "call", "introduce"]
    organisation: str
    contact: str | None
    priority: float
    text: str


class SponsorOutput(pydantic.BaseModel):
    as_of: date
    interactions: int
    contacts: int
    organisations: int
    sponsors: list[SponsorRow] = pydantic.Field(description="ranked, at most 100")
    ranking_path: str = pydantic.Field(description="CSV of the full ranking")
    brokers: list[Broker]
    recommendations: list[Recommendation]
