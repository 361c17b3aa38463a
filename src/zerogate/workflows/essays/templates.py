"""Essay workflows: ``essay_review`` (one essay) and ``essay_portfolio`` (many essays
for many colleges), replacing an essay agent whose tools each become a task type, so
each tool's duration, wait and resource use shows in telemetry under its own name.

essay_review::

    load -> prompt, limits, readability, structure (in parallel)
    prompt -> relevance (also after load)
    all -> report

essay_portfolio: the same tool tasks per essay, with ids ``e<n>-<tool>`` (so a
portfolio of n essays is ``6 n + 2`` tasks), then ``recycle`` after every load
(passages reused between essays) and ``report`` after everything.

The tools are pure functions (``tools``, ``structure``, ``prompt``, ``recycle``); a
task reads the normalised essay its essay's load task wrote and returns small JSON.
Readability (a dictionary look-up per word) and recycling (hashing every essay) run
in child processes; the rest are light.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zerogate import TaskContext
from zerogate.registry import Registry, Workflow
from zerogate.templates import TemplateContext
from zerogate.workflows.essays import samples as essay_samples
from zerogate.workflows.essays.models import (
    EssayReviewOutput,
    EssayReviewParams,
    PortfolioOutput,
    PortfolioParams,
)
from zerogate.workflows.essays.portfolio import portfolio
from zerogate.workflows.essays.prompt import analyse_prompt, relevance
from zerogate.workflows.essays.recycle import recycled
from zerogate.workflows.essays.report import review
from zerogate.workflows.essays.structure import structure
from zerogate.workflows.essays.tools import (
    check_size,
    counts,
    decode,
    limits,
    normalise,
    readability,
)
from zerogate.workflows.inputs import materialize, workdir

TOOLS = ("load", "prompt", "limits", "readability", "structure", "relevance")


def _text(ctx: TaskContext, load: str) -> str:
    dep: Any = ctx.deps[load]
    return Path(dep["path"]).read_text(encoding="utf-8")


def essay_load(source: dict[str, Any], root: str, tenant: str, work: str, key: str,
               part: int | None = None) -> dict[str, Any]:
    """Materialise the essay, normalise it, save it as ``<key>-essay.txt``, count it.
    ``part`` picks an essay of a sample portfolio (its seed is the source's)."""

    def portfolio_writer(path: Path, seed: int) -> None:
        essay_samples.write_portfolio_essay(path, seed, part or 0)

    writer = essay_samples.write_sample_essay if part is None else portfolio_writer
    found = materialize(source, root=root, tenant=tenant, dest=Path(work) / f"{key}-input.txt",
                        sample=writer)
    raw = decode(Path(found["path"]).read_bytes())
    check_size(raw)
    text = normalise(raw)
    Path(work).mkdir(parents=True, exist_ok=True)  # an inbox file is read where it is
    path = Path(work) / f"{key}-essay.txt"
    path.write_text(text, encoding="utf-8")
    return {"path": str(path), "origin": found["origin"], "bytes": found["bytes"],
            **counts(text)}


async def essay_prompt(prompt: str) -> dict[str, Any]:
    """Question type, directive verbs and key terms of the prompt alone."""
    return analyse_prompt(prompt)


def essay_limits(ctx: TaskContext, load: str, colleges: list[dict[str, Any]]) -> dict[str, Any]:
    """Portal word count against each college's limit and minimum."""
    text = _text(ctx, load)
    checked = limits(text, colleges)
    return {"words": checked[0]["words"] if checked else 0, "colleges": checked}


def essay_readability(ctx: TaskContext, load: str) -> dict[str, Any]:
    """Flesch scores, sentence lengths and long sentences (in a child process)."""
    return readability(_text(ctx, load))


def essay_structure(ctx: TaskContext, load: str) -> dict[str, Any]:
    """Paragraphs, hook, conclusion, transitions, repeated openings, passive voice."""
    return structure(_text(ctx, load))


def essay_relevance(ctx: TaskContext, load: str, analysis: str, prompt: str,
                    colleges: list[str]) -> dict[str, Any]:
    """Prompt-essay cosine, key terms covered and missed, directives carried out."""
    found: Any = ctx.deps[analysis]
    return relevance(found, prompt, _text(ctx, load), colleges)


def essay_report(ctx: TaskContext) -> dict[str, Any]:
    """Scores and concrete suggestions for one essay (``EssayReviewOutput``)."""
    deps: Any = ctx.deps
    done = review(*(deps[tool] for tool in TOOLS))
    return EssayReviewOutput.model_validate(done).model_dump(mode="json")


def essay_recycle(ctx: TaskContext, essays: list[dict[str, str]], work: str) -> dict[str, Any]:
    """Recycled passages among all essays (in a child process); the passages go to
    ``recycle.json`` in the work folder, the result keeps each essay's share."""
    found = recycled([(e["key"], _text(ctx, e["load"])) for e in essays])
    path = Path(work) / "recycle.json"
    path.write_text(json.dumps(found), encoding="utf-8")
    return {"path": str(path), "passages": len(found["passages"]),
            "essays": found["essays"]}


def essay_portfolio_report(ctx: TaskContext, essays: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-essay scores, per-college summaries, recycled passages, what to rewrite."""
    deps: Any = ctx.deps
    results = {e["key"]: {tool: deps[f"{e['key']}-{tool}"] for tool in TOOLS} for e in essays}
    found = json.loads(Path(deps["recycle"]["path"]).read_text(encoding="utf-8"))
    done = portfolio(essays, results, found)
    return PortfolioOutput.model_validate(done).model_dump(mode="json")


def _tools(wf: Workflow, key: str, load_args: dict[str, Any], prompt: str,
           colleges: list[dict[str, Any]]) -> list[str]:
    """Add one essay's tool tasks with ids ``<key><tool>``; returns their ids."""
    ids = {tool: f"{key}{tool}" for tool in TOOLS}
    wf.add("essay_load", load_args, id=ids["load"])
    after = [ids["load"]]
    wf.add("essay_prompt", {"prompt": prompt}, id=ids["prompt"], after=after)
    wf.add("essay_limits", {"load": ids["load"], "colleges": colleges}, id=ids["limits"],
           after=after)
    wf.add("essay_readability", {"load": ids["load"]}, id=ids["readability"], after=after)
    wf.add("essay_structure", {"load": ids["load"]}, id=ids["structure"], after=after)
    wf.add("essay_relevance", {"load": ids["load"], "analysis": ids["prompt"],
                               "prompt": prompt, "colleges": [c["college"] for c in colleges]},
           id=ids["relevance"], after=[ids["load"], ids["prompt"]])
    return list(ids.values())


def _register_tasks(registry: Registry) -> None:
    """Resources as measured on a 20,000-word essay (the most ``essay_load`` accepts)
    and a portfolio of 100 essays of 650 words; process steps at the child's peak RSS."""
    review_feature, portfolio_feature = "essay_review", "essay_portfolio"
    registry.task(essay_load, run_in="thread", timeout_s=60, feature=review_feature,
                  memory_mb=20)
    registry.task(essay_prompt, feature=review_feature)
    registry.task(essay_limits, run_in="thread", feature=review_feature, memory_mb=5)
    registry.task(essay_readability, run_in="process", timeout_s=120, feature=review_feature,
                  cpu=1.0, memory_mb=60)
    registry.task(essay_structure, run_in="thread", timeout_s=60, feature=review_feature,
                  memory_mb=5)
    registry.task(essay_relevance, run_in="thread", timeout_s=60, feature=review_feature,
                  memory_mb=5)
    registry.task(essay_report, run_in="thread", feature=review_feature)
    registry.task(essay_recycle, run_in="process", timeout_s=300, feature=portfolio_feature,
                  cpu=1.0, memory_mb=80)
    registry.task(essay_portfolio_report, run_in="thread", feature=portfolio_feature,
                  memory_mb=20)


def add_essays(registry: Registry, root: Path) -> None:
    """Declare the essay features, register the tool tasks and both templates."""
    registry.feature("essay_review", "standard",
                     description="Review one essay: limits, readability, structure, "
                                 "relevance to its prompt")
    registry.feature("essay_portfolio", "advanced",
                     description="Review many essays for many colleges and find passages "
                                 "recycled between them")
    _register_tasks(registry)

    @registry.template(params=EssayReviewParams, output=EssayReviewOutput,
                       feature="essay_review")
    def essay_review(p: EssayReviewParams, ctx: TemplateContext) -> Workflow:
        """Review one essay against its prompt and each college's word limit."""
        work = workdir(root)
        wf = Workflow("essay_review")
        load = {"source": p.essay.model_dump(exclude_none=True), "root": str(root),
                "tenant": ctx.tenant, "work": str(work), "key": "essay"}
        ids = _tools(wf, "", load, p.prompt, [c.model_dump() for c in p.colleges])
        wf.add("essay_report", id="report", after=ids)
        return wf

    @registry.template(params=PortfolioParams, output=PortfolioOutput,
                       feature="essay_portfolio")
    def essay_portfolio(p: PortfolioParams, ctx: TemplateContext) -> Workflow:
        """Review a portfolio of essays for many colleges and find recycled passages."""
        work = workdir(root)
        wf = Workflow("essay_portfolio")
        essays, sources = _portfolio_essays(p)
        every: list[str] = []
        for n, (essay, source) in enumerate(zip(essays, sources, strict=True), start=1):
            key = essay["key"] = f"e{n}"
            load = {"source": source, "root": str(root), "tenant": ctx.tenant,
                    "work": str(work), "key": key,
                    **({"part": n - 1} if p.sample is not None else {})}
            every += _tools(wf, f"{key}-", load, essay["prompt"],
                            [{"college": essay["college"], "limit": essay["limit"]}])
        loads = [f"{e['key']}-load" for e in essays]
        wf.add("essay_recycle", {"essays": [{"key": e["key"], "load": f"{e['key']}-load"}
                                            for e in essays], "work": str(work)},
               id="recycle", after=loads)
        wf.add("essay_portfolio_report", {"essays": essays}, id="report",
               after=[*every, "recycle"])
        return wf


def _portfolio_essays(p: PortfolioParams) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each essay's ``{id, college, prompt, limit}`` and its source."""
    if p.essays is not None:
        return ([{"id": e.id, "college": e.college, "prompt": e.prompt, "limit": e.limit}
                 for e in p.essays],
                [e.essay.model_dump(exclude_none=True) for e in p.essays])
    assert p.sample is not None  # PortfolioParams._exactly_one
    sample = essay_samples.sample_portfolio(p.sample)
    return ([{"id": e.id, "college": e.college, "prompt": e.prompt, "limit": e.limit}
             for e in sample], [{"sample": p.sample} for _ in sample])
