"""Seeded sample essays for the essay workflows, assembled from ``essay_bank``.

- ``write_sample_essay``: one personal essay (about 280-340 words) from one of the
  bank's stories; some seeds open with a cliché or leave out the closing, so reviews
  have something to find.
- ``sample_portfolio``: twelve essays for six colleges, a why-us essay and a story
  essay each, sized to each college's limit (some a little over). Like a real
  applicant's, it recycles: one story is told twice (to the same prompt or to a
  different one, by seed) with its shared paragraphs lightly edited, and one why-us
  paragraph goes to a second college with the names swapped.

Everything is a function of the seed; names come from ``samples.Cast``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from zerogate.workflows.essays import bank
from zerogate.workflows.essays.tools import portal_words, split_sentences
from zerogate.workflows.samples import ORG_HEAD, Cast

Paragraphs = list[list[str]]
COLLEGE_KINDS = ("College", "University", "Institute of Technology", "State University")
STORY_LIMITS = (200, 250, 300, 350, 400)
WHY_LIMITS = (100, 150, 200)


@dataclass(frozen=True, slots=True)
class SampleEssay:
    """One essay of a sample portfolio."""

    id: str
    college: str
    prompt: str
    limit: int
    text: str


def cast_names(seed: int) -> dict[str, str]:
    """The people a sample essay mentions: a friend, a teacher and a sister."""
    people = [p.name.split() for p in Cast(seed).people(3)]
    return {"friend": people[0][0], "teacher": f"Ms. {people[1][1]}",
            "sibling": people[2][0]}


def render(paras: Paragraphs) -> str:
    """Paragraphs of sentences as essay text, a blank line between paragraphs."""
    return "\n\n".join(" ".join(p) for p in paras if p) + "\n"


def write_sample_essay(path: Path, seed: int) -> None:
    """Write one seeded personal essay to ``path``."""
    rng = random.Random(seed)
    topic = rng.choice(bank.TOPICS)
    paras = story(topic, cast_names(seed))
    if rng.random() < 0.35:
        paras[0].insert(0, rng.choice(bank.CLICHES))
    if rng.random() < 0.25:
        paras.pop()  # no closing: the conclusion never returns to the opening
    path.write_text(render(paras), encoding="utf-8")


def story(topic: bank.Topic, names: dict[str, str]) -> Paragraphs:
    """A story's paragraphs, filled in and split into sentences."""
    return [split_sentences(text.format(**names)) for text in
            (topic.opening, *topic.body, topic.reflection, topic.closing)]


def sample_portfolio(seed: int) -> list[SampleEssay]:
    """Twelve seeded essays for six colleges (see the module docstring)."""
    rng = random.Random(seed)
    names = cast_names(seed)
    colleges = [_college(rng, head, names) for head in rng.sample(ORG_HEAD, 6)]
    whys = _why_essays(rng, colleges)
    stories = _story_essays(rng, colleges, names)
    return [essay for pair in zip(whys, stories, strict=True) for essay in pair]


def write_portfolio_essay(path: Path, seed: int, index: int) -> None:
    """Write essay ``index`` of sample portfolio ``seed`` to ``path``."""
    path.write_text(sample_portfolio(seed)[index].text, encoding="utf-8")


def _college(rng: random.Random, head: str, names: dict[str, str]) -> dict[str, str]:
    professor = rng.choice(Cast(rng.randrange(1 << 30)).people(1)).name.split()[1]
    return {**names, "college": f"{head} {rng.choice(COLLEGE_KINDS)}",
            "slug": head.lower(), "program": rng.choice(bank.PROGRAMS),
            "professor": f"Professor {professor}", "course": rng.choice(bank.COURSES),
            "club": rng.choice(bank.CLUBS), "place": rng.choice(bank.PLACES)}


def _why_essays(rng: random.Random, colleges: list[dict[str, str]]) -> list[SampleEssay]:
    intro, academic, community, close = (
        rng.sample(pool, len(pool)) for pool in
        (bank.WHY_INTRO, bank.WHY_ACADEMIC, bank.WHY_COMMUNITY, bank.WHY_CLOSE))
    plans = []
    for _ in colleges:
        first = [intro.pop(), *_take(academic, 3)]
        second = [*_take(community, 2), *_take(close, 1)]
        plans.append([first, second])
    a, b = rng.sample(range(len(colleges)), 2)
    plans[b][1] = plans[a][1]  # a why-us paragraph recycled for another college
    essays = []
    for college, plan in zip(colleges, plans, strict=True):
        prompt = rng.choice(bank.PROMPTS["why_us"]).format(**college)
        paras = [[s.format(**college) for s in p] for p in plan]
        essays.append(SampleEssay(f"{college['slug']}-why", college["college"], prompt,
                                  rng.choice(WHY_LIMITS), render(paras)))
    return essays


def _take(pool: list[str], n: int) -> list[str]:
    return [pool.pop() for _ in range(min(n, len(pool)))]


def _story_essays(rng: random.Random, colleges: list[dict[str, str]],
                  names: dict[str, str]) -> list[SampleEssay]:
    topics = rng.sample(bank.TOPICS, len(colleges) - 1)
    kinds = [rng.choice(t.fits) for t in topics]
    limits = [rng.choice(STORY_LIMITS) for _ in colleges]
    texts = [_fit(story(t, names), range(1, 1 + len(t.body)), _target(rng, n), rng)
             for t, n in zip(topics, limits, strict=False)]
    prompts = [rng.choice(bank.PROMPTS[k]) for k in kinds]
    again = rng.randrange(len(topics))  # the story told twice
    if rng.random() < 0.5:
        prompt = prompts[again]
    else:
        other = [k for k in topics[again].fits if k != kinds[again]]
        prompt = rng.choice(bank.PROMPTS[rng.choice(other)])
    texts.append(_retell(topics[again], texts[again], names, _target(rng, limits[-1]), rng))
    prompts.append(prompt)
    return [SampleEssay(f"{c['slug']}-story", c["college"], p, n, render(t))
            for c, p, n, t in zip(colleges, prompts, limits, texts, strict=True)]


def _target(rng: random.Random, limit: int) -> int:
    return int(limit * rng.uniform(0.8, 1.12))


def _fit(paras: Paragraphs, removable: range | list[int], target: int,
         rng: random.Random) -> Paragraphs:
    """Drop removable paragraphs (keeping one), then their last sentences, until the
    essay has at most ``target`` words or nothing more can go."""
    paras = [list(p) for p in paras]
    order = rng.sample(list(removable), len(removable))
    for i in order[:-1]:
        if _words(paras) <= target:
            break
        paras[i] = []
    for i in order:
        while _words(paras) > target and len(paras[i]) > 1:
            paras[i].pop()
    return [p for p in paras if p]


def _words(paras: Paragraphs) -> int:
    return sum(portal_words(s) for p in paras for s in p)


def _retell(topic: bank.Topic, told: Paragraphs, names: dict[str, str], target: int,
            rng: random.Random) -> Paragraphs:
    """The same story again: opening, one body paragraph already told and the
    reflection, lightly edited, with the body paragraphs not told before."""
    full = story(topic, names)
    body = full[1:-2]
    shared = [p for p in told[1:-2] if p]
    fresh = [p for p in body if p[0] not in {s[0] for s in told}]
    paras = [_edit(full[0], rng), _edit(rng.choice(shared) if shared else body[0], rng),
             *fresh, _edit(full[-2], rng), full[-1]]
    return _fit(paras, list(range(2, 2 + len(fresh))) or [1], target, rng)


def _edit(sentences: list[str], rng: random.Random) -> list[str]:
    """One word of one sentence swapped for a synonym (a light edit)."""
    out = list(sentences)
    candidates = [(i, w) for i, s in enumerate(out) for w in bank.SYNONYMS
                  if re.search(rf"\b{w}\b", s)]
    if candidates:
        i, word = rng.choice(candidates)
        out[i] = re.sub(rf"\b{word}\b", bank.SYNONYMS[word], out[i], count=1)
    return out
