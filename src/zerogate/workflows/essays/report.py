"""Scores and suggestions from the essay tools' results, for one essay and a portfolio.

Scores are 0-100, ``overall`` their mean:

- limits: the share of colleges whose limits (and minimums) the essay meets;
- readability: 100 while the Flesch-Kincaid grade is within 6-12 (plain narrative
  prose to dense argument), 12 points less per grade outside, 5 less per long
  sentence (at most 30);
- structure: 100, less 25 for a cliché opening (15 for a plain one), 20 for a
  conclusion that does not return to the opening, 10 per repeated opening (at most
  20), 10 when over 15 % of sentences are passive, 20 for a single paragraph, 10 for
  no transitions across three or more paragraphs;
- relevance: ``50 * coverage + 50 * min(1, cosine / 0.15)``, less 15 per directive
  the essay does not carry out (10 if only implied) and 15 per college a why-us essay
  never names.

Suggestions are concrete and located: ``cut 57 words for Stanford (limit 250)``,
``sentence 12 has 48 words; split it``.
"""

from __future__ import annotations

import statistics
from typing import Any

GRADE_BAND = (6.0, 12.0)
COSINE_FULL = 0.15  # a prompt-essay cosine this high counts in full (on-topic essays: 0.05-0.3)
DIRECTIVE_HINTS = {
    "reflect": "say what you learned or how you changed",
    "explain": "give the reasons, with 'because' or 'so that'",
    "describe": "add what you saw, heard or felt",
    "elaborate": "add a specific example",
    "discuss": "weigh another side ('however', 'although')",
}


def _clamp(x: float) -> float:
    return round(min(max(x, 0.0), 100.0), 1)


def scores(limits: list[dict[str, Any]], readability: dict[str, Any],
           structure: dict[str, Any], relevance: dict[str, Any]) -> dict[str, float]:
    """The four scores and their mean (see the module docstring)."""
    parts = {"limits": _clamp(100 * sum(c["status"] == "ok" for c in limits)
                              / max(len(limits), 1)),
             "readability": _readability_score(readability),
             "structure": _structure_score(structure),
             "relevance": _relevance_score(relevance)}
    return {"overall": _clamp(statistics.fmean(parts.values())), **parts}


def _readability_score(r: dict[str, Any]) -> float:
    grade = r["flesch_kincaid_grade"]
    off = max(GRADE_BAND[0] - grade, grade - GRADE_BAND[1], 0.0)
    return _clamp(100 - 12 * off - min(5 * len(r["long_sentences"]), 30))


def _structure_score(s: dict[str, Any]) -> float:
    score = 100.0
    score -= 25 if s["hook"]["kind"] == "cliche" else 0 if s["hook"]["strong"] else 15
    score -= 0 if s["conclusion"]["returns"] else 20
    score -= min(10 * len(s["repeated_openings"]), 20)
    score -= 10 if s["passive"]["share"] > 0.15 else 0
    score -= 20 if s["paragraphs"] < 2 else 0
    score -= 10 if s["paragraphs"] >= 3 and s["transitions"]["count"] == 0 else 0
    return _clamp(score)


def _relevance_score(r: dict[str, Any]) -> float:
    score = 50 * r["coverage"] + 50 * min(1.0, r["cosine"] / COSINE_FULL)
    score -= sum((15 if d["explicit"] else 10) for d in r["directives"] if d["met"] is False)
    score -= 15 * sum(not c["named"] for c in r["colleges_named"])
    return _clamp(score)


def suggestions(limits: list[dict[str, Any]], readability: dict[str, Any],
                structure: dict[str, Any], relevance: dict[str, Any]) -> list[str]:
    """Concrete suggestions: limits first, then the prompt, structure and style."""
    return [*_limit_notes(limits), *_relevance_notes(relevance),
            *_structure_notes(structure), *_readability_notes(readability)]


def _limit_notes(limits: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in limits:
        if c["status"] == "over":
            out.append(f"cut {c['over_by']} words for {c['college']} (limit {c['limit']})")
        elif c["status"] == "under":
            out.append(f"add {c['under_by']} words for {c['college']} "
                       f"(minimum {c['minimum']})")
    return out


def _relevance_notes(r: dict[str, Any]) -> list[str]:
    out = []
    for d in r["directives"]:
        if d["met"] is False:
            hint = DIRECTIVE_HINTS.get(d["verb"], "")
            asks = "asks you to" if d["explicit"] else "implies you should"
            out.append(f"the prompt {asks} '{d['verb']}'; the essay never does"
                       + (f" ({hint})" if hint else ""))
    if r["missed"] and r["coverage"] < 0.6:
        terms = ", ".join(f"'{t}'" for t in r["missed"][:5])
        out.append(f"the essay never uses the prompt's key terms {terms}")
    out += [f"the prompt asks about {c['college']}; the essay never names it"
            for c in r["colleges_named"] if not c["named"]]
    return out


def _structure_notes(s: dict[str, Any]) -> list[str]:
    out = []
    hook = s["hook"]
    if hook["kind"] == "cliche":
        out.append(f"the opening '{hook['text']}' is a cliché; start with a scene, a line "
                   "of dialogue or a question")
    elif not hook["strong"]:
        out.append("the opening is a plain statement; consider starting inside a moment")
    if s["paragraphs"] < 2:
        out.append("the essay is a single paragraph; break it into paragraphs")
    elif not s["conclusion"]["returns"]:
        out.append("the conclusion does not return to the opening; echo an image or "
                   "words from the first paragraph")
    out += [f"paragraph {i} has {s['paragraph_words'][i - 1]} words; split it"
            for i in s["long_paragraphs"]]
    for r in s["repeated_openings"]:
        out.append(f"{r['count']} sentences start with '{r['word'].capitalize()}' "
                   f"(sentences {_numbers(r['sentences'])}); vary the openings")
    passive = s["passive"]
    if passive["share"] > 0.15:
        out.append(f"{passive['count']} sentences use the passive voice (sentences "
                   f"{_numbers([h['number'] for h in passive['sentences']])}); prefer "
                   "active verbs")
    if s["paragraphs"] >= 3 and s["transitions"]["count"] == 0:
        out.append("no transition words link the paragraphs; add signposts such as "
                   "'at first', 'later' or 'in the end'")
    return out


def _readability_notes(r: dict[str, Any]) -> list[str]:
    out = [f"sentence {s['number']} has {s['words']} words; split it"
           for s in r["long_sentences"]]
    grade = r["flesch_kincaid_grade"]
    if grade > GRADE_BAND[1]:
        out.append(f"Flesch-Kincaid grade {grade:.1f} is above {GRADE_BAND[1]:.0f}; use "
                   "shorter sentences and plainer words")
    elif grade < GRADE_BAND[0]:
        out.append(f"Flesch-Kincaid grade {grade:.1f} is below {GRADE_BAND[0]:.0f}; "
                   "combine some short sentences")
    return out


def _numbers(numbers: list[int], most: int = 6) -> str:
    shown = ", ".join(str(n) for n in numbers[:most])
    return shown + (", ..." if len(numbers) > most else "")


def review(load: dict[str, Any], prompt: dict[str, Any], limits: dict[str, Any],
           readability: dict[str, Any], structure: dict[str, Any],
           relevance: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``EssayReviewOutput`` from the tools' results."""
    colleges = limits["colleges"]
    return {
        "words": load["words"], "sentences": load["sentences"],
        "paragraphs": load["paragraphs"],
        "scores": scores(colleges, readability, structure, relevance),
        "limits": colleges,
        "prompt": {"type": prompt["type"],
                   "directives": [d["verb"] for d in prompt["directives"]],
                   "key_terms": [k["term"] for k in prompt["key_terms"]]},
        "readability": {k: readability[k] for k in (
            "flesch_reading_ease", "flesch_kincaid_grade", "sentence_mean",
            "sentence_spread", "long_sentences")},
        "structure": {"paragraphs": structure["paragraphs"],
                      "hook": structure["hook"]["kind"],
                      "hook_strong": structure["hook"]["strong"],
                      "conclusion_returns": structure["conclusion"]["returns"],
                      "transitions": structure["transitions"]["count"],
                      "repeated_openings": [r["word"] for r in structure["repeated_openings"]],
                      "passive_sentences": [h["number"] for h in
                                            structure["passive"]["sentences"]]},
        "relevance": {"cosine": relevance["cosine"], "coverage": relevance["coverage"],
                      "covered": relevance["covered"], "missed": relevance["missed"],
                      "directives_unmet": [d["verb"] for d in relevance["directives"]
                                           if d["met"] is False]},
        "suggestions": suggestions(colleges, readability, structure, relevance),
    }
