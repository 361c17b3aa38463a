"""Prompt analysis and relevance, the prompt-side tools of the essay workflows.

- ``analyse_prompt`` reads the prompt alone: its question type (why-us, challenge,
  activity, community, ...: the type whose cue phrases the prompt matches most,
  longer phrases counting more), its directive verbs (``describe``, ``explain``,
  ``reflect``; ``what did you learn`` implies ``reflect``) and its key terms (content
  words in order, the commonest left out of a long prompt by the reference corpus below).
- ``relevance`` compares prompt and essay: the TF-IDF cosine over content-word stems
  (prompt weights ``tf * idf``, essay weights ``(1 + ln tf) * idf``; ``idf = ln((1 + N)
  / (1 + df)) + 1`` over a small built-in corpus of generic essay text, so words every
  essay uses weigh little), which key terms the essay covers and misses, whether it
  does what each directive asks (evidence phrases, e.g. ``I realized`` for reflect),
  and for a why-us prompt whether it names each college.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Any

from zerogate.workflows.essays.tools import stem, term_forms, terms

MAX_KEY_TERMS = 12
QUESTION_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("why_us", ("why do you want", "why are you interested", "why this", "our college",
                "our university", "our school", "our campus", "attend", "what excites you",
                "interest you about", "why us", "at our", "fit for")),
    ("challenge", ("challenge", "setback", "failure", "obstacle", "difficult", "adversity",
                   "hardship", "struggle", "overcome", "fail")),
    ("activity", ("activity", "activities", "extracurricular", "work experience", "job",
                  "team", "club", "elaborate on")),
    ("community", ("community", "belong", "background", "identity", "diversity", "diverse",
                   "perspective", "culture", "contribute")),
    ("intellectual", ("intellectual", "curiosity", "curious", "lose track of time",
                      "academic", "concept", "learn more", "field of study", "major",
                      "subject", "engaging")),
    ("belief", ("belief", "questioned", "disagree", "opinion", "idea")),
    ("gratitude", ("gratitude", "grateful", "thankful", "done for you")),
    ("growth", ("accomplishment", "realization", "personal growth", "new understanding",
                "sparked", "event")),
    ("problem", ("problem", "solve", "solution", "solved")),
    ("narrative", ("story", "tell us", "describe a time", "experience", "moment")),
)
DIRECTIVES = ("describe", "explain", "reflect", "discuss", "share", "tell", "recount",
              "elaborate", "consider", "identify", "evaluate", "analyze", "analyse",
              "imagine", "compare")
IMPLIED = (("reflect", re.compile(r"\bwhat (?:did )?you (?:learn|learned)\b|\blessons?\b|"
                                  r"\bhow (?:did|has|have) (?:it|this|that|they) "
                                  r"(?:affect|change|shape|influence)", re.I)),
           ("explain", re.compile(r"^why\b|[.?!]\s+why\b", re.I)))
_WEIGHING = (r"(?i)\b(?:however|on the other hand|although|while|whereas|but|in contrast|"
             r"instead|yet)\b")
_NARRATING = (r"(?i)\b(?:when i|that day|one (?:day|morning|night|afternoon)|"
              r"last (?:year|summer)|years? ago|the (?:first|next) (?:day|time)|"
              r"i (?:was|had|walked|started))\b")
EVIDENCE: dict[str, tuple[str, int]] = {  # directive: (evidence pattern, hits needed)
    "reflect": (r"(?i)\b(?:i (?:learned|learnt|realized|realised|understood|discovered|"
                r"came to|began to (?:see|understand)|now (?:know|see|understand)|have "
                r"learned|know now)|taught me|made me (?:realize|realise|see|understand)|"
                r"looking back|in retrospect|i see now|changed (?:how|the way) i)\b", 1),
    "explain": (r"(?i)\b(?:because|so that|which is why|that is why|that's why|the reason|"
                r"therefore|this means|as a result)\b", 1),
    # concrete detail: sense words, numbers, or names (a capital inside a sentence)
    "describe": (r"(?i:\b(?:saw|heard|smell\w*|tast\w*|felt|touch\w*|bright|dark|loud|"
                 r"quiet|cold|warm|sound\w*|colou?r\w*|looked|voice)\b)|\b\d+\b|"
                 r"(?<=[a-z,;] )[A-Z][a-z]{2,}", 3),
    "discuss": (_WEIGHING, 1), "consider": (_WEIGHING, 1), "evaluate": (_WEIGHING, 1),
    "analyze": (_WEIGHING, 1), "analyse": (_WEIGHING, 1), "compare": (_WEIGHING, 1),
    "recount": (_NARRATING, 1), "tell": (_NARRATING, 1), "share": (_NARRATING, 1),
    "elaborate": (r"(?i)\b(?:for example|for instance|such as|specifically|"
                  r"in particular)\b", 1),
    "imagine": (r"(?i)\b(?:imagine|i would|if i)\b", 1),
}
PROMPT_FILLER = frozenset(stem(w) for w in (
    "essay", "essays", "word", "words", "please", "response", "respond", "prompt",
    "question", "answer", "limit", "topic", "choose", "following", "include", "wish",
    "feel", "free", "something", "someone", "within", "approximately", "maximum", "want",
    "take", "time", "later", "briefly", "think", *DIRECTIVES))
REFERENCE = (
    "My grandmother taught me to cook on Sunday afternoons, and the kitchen became the "
    "place where our family talked about everything.",
    "Our robotics team lost every match of the first season, so we rebuilt the robot "
    "from the wheels up and learned to test before trusting.",
    "Working at the corner bakery before school showed me how a small business depends "
    "on regular customers and early mornings.",
    "Moving to a new country at twelve meant learning a language, new customs and how to "
    "make friends again.",
    "I started a tutoring program at the library for younger students who needed help "
    "with reading and math homework.",
    "The debate club taught me to listen to the other side before answering and to change "
    "my mind when the evidence did.",
    "Volunteering at the food bank, I sorted donations and met neighbours I had passed for "
    "years without speaking.",
    "Music has been part of my life since I first played the violin in a school concert "
    "and forgot every note.",
    "At the university I hope to study biology, join research in a laboratory and take "
    "classes outside my major.",
    "The campus tour convinced me that the college values collaboration, small seminars "
    "and students who ask questions.",
    "When my father lost his job, I took on more responsibility at home and learned to "
    "manage time between work and school.",
    "A failed science fair project taught me that an experiment which does not work still "
    "teaches you something about the problem.",
    "Our community garden brings together families from different backgrounds who share "
    "tools, seeds and recipes.",
    "I lose track of time reading about astronomy, black holes and how scientists measure "
    "distances to stars.",
    "Being captain of the soccer team meant leading warmups, settling arguments and "
    "encouraging teammates after a loss.",
    "Writing for the school newspaper showed me how to ask good questions and tell a story "
    "in few words.",
    "My identity as the child of immigrants shapes how I see opportunity, family and hard "
    "work.",
    "Coding a small app to track the city buses started as a hobby and became a project "
    "that classmates use every day.",
    "I want to contribute to a community where students from every background feel they "
    "belong and can speak up.",
    "Hiking with my brother taught me patience, planning and how to keep going when the "
    "trail is longer than expected.",
    "The summer program in engineering challenged me with problems that had no single "
    "correct answer.",
    "Caring for my younger sisters after school gave me a sense of responsibility and a "
    "love of teaching.",
    "A conversation with a teacher changed my idea of success from winning to growing.",
    "Art class gave me a way to express feelings I could not say out loud, in colour, "
    "shape and texture.",
)


@functools.lru_cache(maxsize=1)
def _idf_table() -> tuple[dict[str, float], float]:
    """IDF by stem over the reference corpus, and the IDF of an unseen stem."""
    df: Counter[str] = Counter()
    for doc in REFERENCE:
        df.update(set(terms(doc)))
    n = len(REFERENCE)
    return ({t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()},
            math.log(1 + n) + 1)


def idf(term: str) -> float:
    """The IDF of a stem (an unseen one gets the highest)."""
    table, unseen = _idf_table()
    return table.get(term, unseen)


def question_type(prompt: str) -> tuple[str, dict[str, int]]:
    """The best-scoring question type (``open`` if none) and every type's score."""
    lower = " ".join(prompt.lower().split())
    scores = {name: sum(len(cue.split()) for cue in cues
                        if re.search(r"\b" + re.escape(cue) + r"\b", lower))
              for name, cues in QUESTION_TYPES}
    scores = {k: v for k, v in scores.items() if v}
    best = max(scores, key=lambda k: scores[k], default="open")  # ties: earlier type
    return best, scores


def directives(prompt: str) -> list[dict[str, Any]]:
    """Directive verbs in order of appearance, then the ones the prompt implies."""
    found: list[tuple[int, str]] = []
    for verb in DIRECTIVES:
        base = verb[:-1] if verb.endswith("e") else verb
        match = re.search(rf"\b(?:{verb}|{verb}s|{base}ing|{base}ed|{verb}d)\b", prompt, re.I)
        if match:
            found.append((match.start(), verb))
    verbs = [v for _, v in sorted(found)]
    out = [{"verb": v, "explicit": True} for v in verbs]
    out += [{"verb": v, "explicit": False} for v, pattern in IMPLIED
            if v not in verbs and pattern.search(prompt)]
    return out


def key_terms(prompt: str, limit: int = MAX_KEY_TERMS) -> list[dict[str, Any]]:
    """The prompt's content words (no directives or filler) in order of appearance;
    past ``limit`` of them, the commonest in the reference corpus are left out."""
    forms = {s: f for s, f in term_forms(prompt).items() if s not in PROMPT_FILLER}
    kept = set(sorted(forms, key=lambda s: -idf(s))[:limit])  # a stable sort: ties by order
    return [{"term": f, "stem": s, "idf": round(idf(s), 3)} for s, f in forms.items()
            if s in kept]


def analyse_prompt(prompt: str) -> dict[str, Any]:
    """Question type (and all scores), directive verbs and key terms of a prompt."""
    kind, scores = question_type(prompt)
    return {"type": kind, "type_scores": scores, "directives": directives(prompt),
            "key_terms": key_terms(prompt)}


def cosine(prompt: str, essay: str) -> float:
    """TF-IDF cosine between prompt and essay over content-word stems."""
    p = {t: n * idf(t) for t, n in Counter(terms(prompt)).items()}
    e = {t: (1 + math.log(n)) * idf(t) for t, n in Counter(terms(essay)).items()}
    dot = sum(w * e.get(t, 0.0) for t, w in p.items())
    norm = math.sqrt(sum(w * w for w in p.values())) * math.sqrt(sum(w * w for w in e.values()))
    return dot / norm if norm else 0.0


def directive_evidence(verb: str, essay: str) -> dict[str, Any]:
    """Whether the essay does what ``verb`` asks: ``met`` None when not checkable."""
    rule = EVIDENCE.get(verb)
    if rule is None:
        return {"verb": verb, "met": None, "evidence": []}
    hits = [m.group() for m in re.finditer(rule[0], essay)]
    return {"verb": verb, "met": len(hits) >= rule[1], "evidence": hits[:3]}


def relevance(prompt_analysis: dict[str, Any], prompt: str, essay: str,
              colleges: list[str]) -> dict[str, Any]:
    """How well the essay answers the prompt (see the module docstring)."""
    stems = set(terms(essay))
    keys = prompt_analysis["key_terms"]
    covered = [k["term"] for k in keys if k["stem"] in stems]
    missed = [k["term"] for k in keys if k["stem"] not in stems]
    checks = []
    for d in prompt_analysis["directives"]:
        found = directive_evidence(d["verb"], essay)
        checks.append({**found, "explicit": d["explicit"]})
    named = ([{"college": c, "named": _names(essay, c)} for c in colleges]
             if prompt_analysis["type"] == "why_us" else [])
    return {"cosine": round(cosine(prompt, essay), 4), "covered": covered, "missed": missed,
            "coverage": round(len(covered) / len(keys), 3) if keys else 1.0,
            "directives": checks, "colleges_named": named}


def _names(essay: str, college: str) -> bool:
    return re.search(r"\b" + re.escape(college) + r"\b", essay, re.I) is not None
