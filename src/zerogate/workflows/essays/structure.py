"""The structure tool of the essay workflows: paragraphs, the opening hook, whether the
conclusion returns to the opening, transition words, repeated sentence openings and an
estimate of the passive voice.

Heuristics a reader of college essays applies, written as plain rules so that each
finding can say where it is (paragraph or sentence number, from 1):

- hook: the first sentence is a cliché (``Ever since I was young``), a question, a
  line of dialogue, a short punchy line (at most 8 words), a scene (it opens on a time
  or place), or a plain statement; the first four but a cliché are strong openings.
- conclusion: it returns to the opening when the last paragraph repeats at least
  ``ECHO_TERMS`` content words of the first (by stem).
- repeated openings: a first word that starts at least 3 sentences and at least a
  fifth of them.
- passive: a form of *be*, an optional -ly adverb, then a past participle (-ed or a
  common irregular one), leaving out -ed words used as adjectives (``interested``).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from typing import Any

from zerogate.workflows.essays.tools import (
    clip,
    paragraphs,
    portal_words,
    split_sentences,
    term_forms,
)

ECHO_TERMS = 2
LONG_PARAGRAPH = 200  # words
CLICHES = ("ever since i was", "since the dawn of", "throughout history", "webster",
           "dictionary defines", "in today's society", "i have always", "all my life",
           "from a young age", "since i was a child", "since i was young", "in this essay",
           "my name is", "i am writing", "there are many", "have you ever wondered")
SCENE_OPENERS = re.compile(
    r"^(?:at|on|in|inside|outside|under|above|behind|when|the (?:morning|night|day|summer|"
    r"winter|first|last)|it was|last|every|one (?:morning|night|day|afternoon|evening)|"
    r"(?:three|two|four|five|six|seven|ten|\d+) (?:years|months|weeks|days|hours|minutes))\b",
    re.IGNORECASE)
TRANSITIONS = (
    "however", "therefore", "moreover", "furthermore", "meanwhile", "instead",
    "nevertheless", "consequently", "finally", "eventually", "afterward", "afterwards",
    "later", "first", "next", "ultimately", "similarly", "likewise", "indeed", "thus",
    "hence", "overall", "since then", "as a result", "for example", "for instance",
    "in the end", "at first", "at the same time", "on the other hand", "in contrast",
    "after that", "by then", "even so", "in fact", "until then", "looking back")
_TRANSITION = re.compile(r"\b(?:" + "|".join(sorted(TRANSITIONS, key=len, reverse=True))
                         + r")\b", re.IGNORECASE)
IRREGULAR = ("given", "taken", "made", "done", "written", "known", "seen", "told", "built",
             "taught", "brought", "thought", "found", "held", "sent", "shown", "chosen",
             "broken", "spoken", "forgotten", "driven", "eaten", "grown", "thrown", "drawn",
             "hidden", "beaten", "born", "worn", "torn", "sold", "paid", "led", "fed", "kept",
             "caught", "bought", "begun", "stolen", "frozen", "shaken", "forgiven",
             "understood", "heard", "meant", "spent")
ADJECTIVAL = frozenset({
    "interested", "excited", "tired", "bored", "scared", "worried", "surprised", "pleased",
    "amazed", "embarrassed", "frustrated", "confused", "exhausted", "overwhelmed",
    "thrilled", "terrified", "relieved", "satisfied", "disappointed", "ashamed", "used",
    "supposed", "related", "concerned", "involved", "engaged", "committed", "dedicated",
    "convinced", "fascinated", "obsessed", "hooked", "determined", "excused", "talented",
    "gifted", "skilled", "qualified", "aged", "beloved", "naked", "wicked", "sacred"})
_PASSIVE = re.compile(r"\b(?:am|is|are|was|were|be|been|being)\s+(?:\w+ly\s+)?"
                      r"((?!\w*eed\b)[a-z]{2,}ed|" + "|".join(IRREGULAR) + r")\b",
                      re.IGNORECASE)


def structure(normalised: str) -> dict[str, Any]:
    """Every structure finding of a normalised essay (see the module docstring)."""
    paras = paragraphs(normalised)
    per_para = [split_sentences(p) for p in paras]
    sents = [s for group in per_para for s in group]
    total_words = portal_words(normalised)
    para_words = [portal_words(p) for p in paras]
    return {
        "paragraphs": len(paras),
        "paragraph_words": para_words,
        "single_sentence_paragraphs": [i + 1 for i, g in enumerate(per_para) if len(g) == 1],
        "long_paragraphs": [i + 1 for i, n in enumerate(para_words) if n >= LONG_PARAGRAPH],
        "hook": hook(sents[0] if sents else ""),
        "conclusion": conclusion(paras),
        "transitions": transitions(paras, total_words),
        "repeated_openings": repeated_openings(sents),
        "passive": passive(sents),
    }


def hook(first: str) -> dict[str, Any]:
    """What kind of opening the first sentence is, and whether it is a strong one."""
    lower = first.lower()
    opening = " ".join(lower.split()[:10])
    if any(c in opening for c in CLICHES):
        kind = "cliche"
    elif first.rstrip("\"' ").endswith("?"):
        kind = "question"
    elif first.startswith(('"', "'")):
        kind = "dialogue"
    elif portal_words(first) <= 8:
        kind = "short"
    elif SCENE_OPENERS.match(first):
        kind = "scene"
    else:
        kind = "statement"
    return {"kind": kind, "strong": kind in ("question", "dialogue", "short", "scene"),
            "text": clip(first, 120)}


def conclusion(paras: list[str]) -> dict[str, Any]:
    """Whether the last paragraph comes back to the words of the first."""
    if len(paras) < 2:
        return {"returns": False, "shared": [], "reason": "only one paragraph"}
    opening, closing = term_forms(paras[0]), term_forms(paras[-1])
    shared = [form for stem, form in opening.items() if stem in closing]
    enough = len(shared) >= ECHO_TERMS
    return {"returns": enough, "shared": shared,
            "reason": "" if enough else f"the last paragraph repeats {len(shared)} "
                                        f"content word(s) of the first"}


def transitions(paras: list[str], total_words: int) -> dict[str, Any]:
    """Transition words and phrases: how many, which, per 100 words, and how many
    paragraphs (after the first) open with one."""
    used: Counter[str] = Counter()
    starts = 0
    for i, para in enumerate(paras):
        found = [m.group().lower() for m in _TRANSITION.finditer(para)]
        used.update(found)
        if i and _TRANSITION.match(para.lstrip("\"'")):
            starts += 1
    count = sum(used.values())
    return {"count": count, "per_100_words": round(100 * count / max(total_words, 1), 2),
            "used": dict(sorted(used.items())), "paragraph_starts": starts}


def repeated_openings(sents: list[str]) -> list[dict[str, Any]]:
    """First words that start at least 3 sentences and a fifth of them, most used
    first, with the sentence numbers and the longest run of consecutive sentences."""
    by_word: dict[str, list[int]] = defaultdict(list)
    for number, sentence in enumerate(sents, start=1):
        first = re.match(r"[\"'(]*([A-Za-z']+)", sentence)
        if first:
            by_word[first.group(1).lower()].append(number)
    found = [{"word": word, "count": len(numbers), "sentences": numbers,
              "longest_run": _longest_run(numbers)}
             for word, numbers in by_word.items()
             if len(numbers) >= 3 and len(numbers) >= 0.2 * len(sents)]
    return sorted(found, key=lambda f: (-f["count"], f["word"]))


def _longest_run(numbers: list[int]) -> int:
    best = run = 1
    for before, after in itertools.pairwise(numbers):
        run = run + 1 if after == before + 1 else 1
        best = max(best, run)
    return best


def passive(sents: list[str]) -> dict[str, Any]:
    """Sentences with a passive construction (an estimate), their share, and each
    one's number and phrase."""
    hits = []
    for number, sentence in enumerate(sents, start=1):
        for match in _PASSIVE.finditer(sentence):
            if match.group(1).lower() not in ADJECTIVAL:
                hits.append({"number": number, "phrase": match.group()})
                break
    return {"count": len(hits), "share": round(len(hits) / max(len(sents), 1), 3),
            "sentences": hits}
