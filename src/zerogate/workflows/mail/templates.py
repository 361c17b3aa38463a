"""The ``email_analysis`` template: its params, the ``email_parse`` step, and
``add_emails``, which registers the feature, the five tasks and the template.

DAG: ``email_parse`` (decode the file to one JSON line per message) ->
``email_sentiment`` and ``email_engagement`` in parallel -> ``email_strength`` ->
``email_report``. "Us" are the ``me`` addresses; a message's contacts are its sender
if someone else sent it, else its To and Cc recipients who are not us.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic

from zerogate import RetryPolicy
from zerogate.registry import Registry, Workflow
from zerogate.templates import TemplateContext
from zerogate.workflows.inputs import Source, materialize, workdir
from zerogate.workflows.mail.engagement import email_engagement
from zerogate.workflows.mail.files import choose_me, read_mailbox
from zerogate.workflows.mail.models import EmailReport
from zerogate.workflows.mail.ranking import email_strength
from zerogate.workflows.mail.report import email_report
from zerogate.workflows.mail.samples import write_sample_mbox
from zerogate.workflows.mail.sentiment import email_sentiment

FEATURE = "email_analysis"
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


def email_parse(source: dict[str, Any], root: str, tenant: str, work: str, format: str,
                me: list[str]) -> dict[str, Any]:
    """Materialize the input and decode it to ``messages.jsonl``; return the counts."""
    ext = {"eml": "eml", "mbox": "mbox"}.get(format, "mail")
    got = materialize(source, root=root, tenant=tenant, dest=Path(work) / f"input.{ext}",
                      sample=write_sample_mbox)
    out = Path(work) / "messages.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)  # an inbox file is read where it is
    tally = read_mailbox(Path(got["path"]), format, out)
    ours, guessed = choose_me(me, tally)
    return {"path": str(out), "input": got, "messages": tally.messages,
            "skipped": sum(tally.skipped.values()), "skipped_why": dict(tally.skipped),
            "sent": sum(tally.sent[a] for a in ours), "duplicates": tally.duplicates,
            "attachments": tally.attachments,
            "undated": tally.undated_count, "flagged": tally.undated,
            "first": tally.first and tally.first.isoformat(),
            "latest": tally.latest and tally.latest.isoformat(), "me": ours,
            "me_guessed": guessed}


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
