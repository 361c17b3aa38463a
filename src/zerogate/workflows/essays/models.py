"""Parameters and published outputs of the essay templates ``essay_review`` and
``essay_portfolio``: what a caller may send (checked before anything runs, each
problem named) and what the final task returns (checked when it returns)."""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import Field

from zerogate.workflows.inputs import Source

_STRICT = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class CollegeLimit(pydantic.BaseModel):
    """One college the essay goes to, with its word limit."""

    model_config = _STRICT
    college: str = Field(min_length=1, max_length=100, description="the college's name")
    limit: int = Field(ge=1, le=5_000, description="the most words the college accepts")
    minimum: int | None = Field(None, ge=1, le=5_000,
                                description="the fewest words it accepts, if it sets one")

    @pydantic.model_validator(mode="after")
    def _minimum_below_limit(self) -> CollegeLimit:
        if self.minimum is not None and self.minimum > self.limit:
            raise ValueError(f"minimum {self.minimum} is above the limit {self.limit}")
        return self


class EssayReviewParams(pydantic.BaseModel):
    """One essay, its prompt and the colleges (with word limits) it goes to."""

    model_config = _STRICT
    essay: Source = Field(description="the essay as text: inline, an inbox file or a sample")
    prompt: str = Field(min_length=1, max_length=2_000, description="the essay prompt")
    colleges: list[CollegeLimit] = Field(min_length=1, max_length=30)

    @pydantic.model_validator(mode="after")
    def _distinct_colleges(self) -> EssayReviewParams:
        names = [c.college.casefold() for c in self.colleges]
        repeats = sorted({c.college for c in self.colleges
                          if names.count(c.college.casefold()) > 1})
        if repeats:
            raise ValueError(f"colleges listed more than once: {', '.join(repeats)}")
        return self


class PortfolioEssay(pydantic.BaseModel):
    """One essay of a portfolio: which college it goes to, for which prompt and limit."""

    model_config = _STRICT
    id: str = Field(pattern=_ID, description="a name for the essay, unique in the portfolio")
    college: str = Field(min_length=1, max_length=100)
    prompt: str = Field(min_length=1, max_length=2_000)
    limit: int = Field(ge=1, le=5_000, description="the college's word limit")
    essay: Source


class PortfolioParams(pydantic.BaseModel):
    """Many essays for many colleges, or the seed of a sample portfolio (exactly one)."""

    model_config = _STRICT
    essays: list[PortfolioEssay] | None = Field(None, min_length=1, max_length=100)
    sample: int | None = Field(None, ge=0, le=2**31,
                               description="seed of a sample portfolio of 12 essays")

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> PortfolioParams:
        if (self.essays is None) == (self.sample is None):
            raise ValueError("give exactly one of essays or sample")
        ids = [e.id for e in self.essays or []]
        repeats = sorted({i for i in ids if ids.count(i) > 1})
        if repeats:
            raise ValueError(f"essay ids used more than once: {', '.join(repeats)}")
        return self


class _Out(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class LimitResult(_Out):
    college: str
    limit: int
    minimum: int | None
    words: int
    status: Literal["ok", "over", "under"]
    over_by: int
    under_by: int


class Scores(_Out):
    """0-100 each; ``overall`` is their mean."""

    overall: float = Field(ge=0, le=100)
    limits: float = Field(ge=0, le=100)
    readability: float = Field(ge=0, le=100)
    structure: float = Field(ge=0, le=100)
    relevance: float = Field(ge=0, le=100)


class LongSentence(_Out):
    number: int
    words: int
    text: str


class PromptSummary(_Out):
    type: str
    directives: list[str]
    key_terms: list[str]


class ReadabilitySummary(_Out):
    flesch_reading_ease: float
    flesch_kincaid_grade: float
    sentence_mean: float
    sentence_spread: float
    long_sentences: list[LongSentence]


class StructureSummary(_Out):
    paragraphs: int
    hook: str
    hook_strong: bool
    conclusion_returns: bool
    transitions: int
    repeated_openings: list[str]
    passive_sentences: list[int]


class RelevanceSummary(_Out):
    cosine: float
    coverage: float
    covered: list[str]
    missed: list[str]
    directives_unmet: list[str]


class EssayReviewOutput(_Out):
    """The review of one essay: counts, scores, each tool's findings, suggestions."""

    words: int
    sentences: int
    paragraphs: int
    scores: Scores
    limits: list[LimitResult]
    prompt: PromptSummary
    readability: ReadabilitySummary
    structure: StructureSummary
    relevance: RelevanceSummary
    suggestions: list[str]


class EssaySummary(_Out):
    id: str
    college: str
    prompt_type: str
    words: int
    limit: int
    status: Literal["ok", "over", "under"]
    over_by: int
    scores: Scores
    recycled_share: float
    suggestions: list[str]


class CollegeSummary(_Out):
    college: str
    essays: list[str]
    limits_met: int
    over_limit: list[str]
    mean_scores: Scores


class RecycledPassage(_Out):
    essay_a: str
    essay_b: str
    college_a: str
    college_b: str
    words: int
    edited: bool
    text: str
    text_b: str | None
    share_a: float
    share_b: float
    different_prompts: bool
    prompt_type_a: str
    prompt_type_b: str


class Differentiate(_Out):
    id: str
    college: str
    recycled_share: float
    different_prompt_passages: int
    reason: str


class PortfolioOutput(_Out):
    """Each essay's scores, each college's summary, recycled passages (longest first,
    at most ``MAX_PASSAGES``; ``recycled_total`` counts all) and the essays to rewrite
    first."""

    essays: list[EssaySummary]
    colleges: list[CollegeSummary]
    recycled: list[RecycledPassage]
    recycled_total: int
    differentiate_first: list[Differentiate]
