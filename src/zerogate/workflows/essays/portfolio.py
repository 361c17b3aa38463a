"""The portfolio report: every essay scored as a single review scores it, a summary
per college, the recycled passages between essays and the essays to rewrite first.

A recycled passage is flagged (``different_prompts``) when the two essays answer
different prompts (their texts differ, ignoring case and spacing): a story that is
reused for the same prompt at two colleges is expected; the same paragraph sent to
answer two different questions is what readers notice. Essays to differentiate first
are those with flagged passages, most first, then the most recycled.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from zerogate.workflows.essays.recycle import MAX_TEXTS
from zerogate.workflows.essays.report import review

MAX_PASSAGES = MAX_TEXTS  # passages in the report (the recycle tool keeps their text)
SCORE_KEYS = ("overall", "limits", "readability", "structure", "relevance")


def portfolio(essays: list[dict[str, Any]], results: dict[str, dict[str, Any]],
              recycle: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``PortfolioOutput``. ``essays`` are ``{key, id, college, prompt,
    limit}``; ``results[key][tool]`` each tool's result for that essay; ``recycle``
    the recycle tool's result keyed by essay key."""
    summaries = [_summary(e, results[e["key"]], recycle["essays"][e["key"]]["share"])
                 for e in essays]
    passages = _passages(essays, results, recycle["passages"])
    return {"essays": summaries, "colleges": _colleges(summaries),
            "recycled": passages[:MAX_PASSAGES], "recycled_total": len(passages),
            "differentiate_first": _differentiate(summaries, passages)}


def _summary(essay: dict[str, Any], tools: dict[str, Any], share: float) -> dict[str, Any]:
    done = review(tools["load"], tools["prompt"], tools["limits"], tools["readability"],
                  tools["structure"], tools["relevance"])
    limit = done["limits"][0]
    return {"id": essay["id"], "college": essay["college"],
            "prompt_type": done["prompt"]["type"], "words": done["words"],
            "limit": limit["limit"], "status": limit["status"], "over_by": limit["over_by"],
            "scores": done["scores"], "recycled_share": share,
            "suggestions": done["suggestions"][:5]}


def _colleges(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_college: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in summaries:
        by_college[s["college"]].append(s)
    return [{"college": college, "essays": [s["id"] for s in group],
             "limits_met": sum(s["status"] == "ok" for s in group),
             "over_limit": [s["id"] for s in group if s["status"] == "over"],
             "mean_scores": {k: round(statistics.fmean(s["scores"][k] for s in group), 1)
                             for k in SCORE_KEYS}}
            for college, group in by_college.items()]


def same_prompt(a: str, b: str) -> bool:
    """Whether two prompts are the same text, ignoring case and spacing."""
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _passages(essays: list[dict[str, Any]], results: dict[str, dict[str, Any]],
              found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_key = {e["key"]: e for e in essays}
    out = []
    for p in found:
        a, b = by_key[p["essay_a"]], by_key[p["essay_b"]]
        out.append({"essay_a": a["id"], "essay_b": b["id"], "college_a": a["college"],
                    "college_b": b["college"], "words": p["words"], "edited": p["edited"],
                    "text": p["text"], "text_b": p["text_b"], "share_a": p["share_a"],
                    "share_b": p["share_b"],
                    "different_prompts": not same_prompt(a["prompt"], b["prompt"]),
                    "prompt_type_a": results[a["key"]]["prompt"]["type"],
                    "prompt_type_b": results[b["key"]]["prompt"]["type"]})
    return out


def _differentiate(summaries: list[dict[str, Any]],
                   passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    partners: dict[str, set[str]] = defaultdict(set)
    flagged: dict[str, int] = defaultdict(int)
    for p in passages:
        partners[p["essay_a"]].add(p["essay_b"])
        partners[p["essay_b"]].add(p["essay_a"])
        for side in ("essay_a", "essay_b"):
            flagged[p[side]] += p["different_prompts"]
    ranked = sorted((s for s in summaries if s["id"] in partners),
                    key=lambda s: (-flagged[s["id"]], -s["recycled_share"], s["id"]))
    out = []
    for s in ranked:
        reason = (f"{s['recycled_share']:.0%} of its words also appear in "
                  f"{', '.join(sorted(partners[s['id']]))}")
        if flagged[s["id"]]:
            reason += f"; {flagged[s['id']]} shared passage(s) answer a different prompt"
        out.append({"id": s["id"], "college": s["college"],
                    "recycled_share": s["recycled_share"],
                    "different_prompt_passages": flagged[s["id"]], "reason": reason})
    return out
