"""essay_review and essay_portfolio: each tool against hand-computed values (word counts,
syllables and Flesch scores, structure findings, relevance, recycled passages with exact
boundaries), then both templates on an engine over real files."""

from __future__ import annotations

import base64
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zerogate import Registry
from zerogate.domain.model import WorkflowState
from zerogate.errors import InvalidInput
from zerogate.templates import TemplateParamsInvalid
from zerogate.workflows.essays import bank as essay_bank
from zerogate.workflows.essays.models import EssayReviewOutput, PortfolioOutput
from zerogate.workflows.essays.prompt import analyse_prompt, cosine, relevance
from zerogate.workflows.essays.recycle import recycled
from zerogate.workflows.essays.report import scores, suggestions
from zerogate.workflows.essays.samples import render, sample_portfolio, story, write_sample_essay
from zerogate.workflows.essays.structure import structure
from zerogate.workflows.essays.templates import add_essays
from zerogate.workflows.essays.tools import (
    MAX_WORDS,
    check_size,
    decode,
    limit_check,
    normalise,
    portal_words,
    readability,
    sentences,
    syllables,
)

Rig = Callable[..., Any]
CHALLENGE = ("The lessons we take from obstacles we encounter can be fundamental to later "
             "success. Recount a time when you faced a challenge, setback, or failure. How "
             "did it affect you, and what did you learn from the experience?")
CRAFTED = (
    "Ever since I was young, I have loved music. My grandmother gave me a violin.\n\n"
    "I practised every day after school. I played in the school band. I joined the choir "
    "as well. The spring concert was organized by our teacher.\n\n"
    "However, the concert went badly. Mistakes were made by everyone on stage. We laughed "
    "about it later.\n\n"
    "Today my grandmother still asks me to play the violin for her.")
TOOLS = ("essay_load", "essay_prompt", "essay_limits", "essay_readability", "essay_structure",
         "essay_relevance")


# --- counting ---------------------------------------------------------------------------

def test_portal_count_takes_hyphenated_words_as_one_and_numbers_as_words() -> None:
    # A / well-known / 1,200-word / essay / don't / 3.5 / x; the dash and & are not words
    assert portal_words("A well-known 1,200-word essay — don't & 3.5 x") == 7
    # I've / lived / in / Seattle / since / 2019 / and / it's / home.; a lone - is not
    assert portal_words("I've lived in Seattle since 2019 - and it's home.") == 9
    assert portal_words("mother-in-law's twenty-first birthday") == 3


def test_normalise_straightens_quotes_and_keeps_paragraphs() -> None:
    raw = "\ufeff  \u201cHello,\u201d  she\u00a0said.\r\nIt\u2019s late.\r\n\r\n\r\nNext\tpart. "
    assert normalise(raw) == "\"Hello,\" she said. It's late.\n\nNext part."
    # without blank lines, each line is a paragraph
    assert normalise("One line.\nTwo line.\n") == "One line.\n\nTwo line."


def test_sentences_split_after_quotes_but_not_after_abbreviations_or_initials() -> None:
    text = 'She said, "Stop." Then Dr. Okafor met J. K. Ito at 9 a.m. Tuesday. Why? Because.'
    assert sentences(text) == ['She said, "Stop."', "Then Dr. Okafor met J. K. Ito at 9 a.m. "
                               "Tuesday.", "Why?", "Because."]


def test_limit_check_reports_over_under_and_ok() -> None:
    assert limit_check(307, "Stanford", 250) == {
        "college": "Stanford", "limit": 250, "minimum": None, "words": 307,
        "status": "over", "over_by": 57, "under_by": 0}
    assert limit_check(180, "Yale", 400, 200)["status"] == "under"
    assert limit_check(180, "Yale", 400, 200)["under_by"] == 20
    assert limit_check(250, "MIT", 250)["status"] == "ok"


def test_decode_rejects_binary_and_non_utf8() -> None:
    assert decode("caf\u00e9".encode()) == "caf\u00e9"
    with pytest.raises(InvalidInput, match="NUL byte at offset 2"):
        decode(b"PK\x00\x03")
    with pytest.raises(InvalidInput, match="byte 0xe9 at offset 3"):
        decode(b"caf\xe9")


def test_check_size_refuses_empty_and_overlong_essays() -> None:
    check_size("word " * MAX_WORDS + "— & —")  # the dashes and & are not words
    with pytest.raises(InvalidInput, match="more than 20,000 words"):
        check_size("word " * (MAX_WORDS + 1))
    with pytest.raises(InvalidInput, match="empty"):
        check_size(" -- ... ")


# --- readability ------------------------------------------------------------------------

def test_syllables_match_hand_counts() -> None:
    # read-ing, beau-ti-ful, po-et-ry, makes, qui-et, li-brar-y, a-live, a-bout, o-pen
    hand = {"reading": 2, "beautiful": 3, "poetry": 3, "makes": 1, "quiet": 2,
            "library": 3, "alive": 2, "about": 2, "open": 2, "table": 2, "whole": 1,
            "well-known": 2, "don't": 1}
    assert {w: syllables(w) for w in hand} == hand


def test_flesch_on_hand_counted_sentences() -> None:
    # 9 words, 18 syllables (2+3+3+1+1+2+3+1+2), then 7 words of one syllable each:
    # 16 words, 2 sentences, 25 syllables.
    # ease  = 206.835 - 1.015 * 8 - 84.6 * 25/16 = 66.5275
    # grade = 0.39 * 8 + 11.8 * 25/16 - 15.59  = 5.9675
    r = readability("Reading beautiful poetry makes the quiet library feel alive. "
                    "The cat sat on the warm mat.")
    assert (r["words"], r["sentences"], r["syllables"]) == (16, 2, 25)
    assert r["flesch_reading_ease"] == pytest.approx(66.53, abs=0.01)
    assert r["flesch_kincaid_grade"] == pytest.approx(5.97, abs=0.01)
    assert (r["sentence_mean"], r["sentence_spread"]) == (8.0, 1.0)  # lengths 9 and 7
    assert r["long_sentences"] == []


def test_long_sentences_are_listed_by_number() -> None:
    long = " ".join(["word"] * 40) + "."
    r = readability(f"Short one. {long.capitalize()} Another short one.")
    assert [(s["number"], s["words"]) for s in r["long_sentences"]] == [(2, 40)]


# --- structure --------------------------------------------------------------------------

def test_structure_findings_on_a_crafted_essay() -> None:
    s = structure(normalise(CRAFTED))
    assert s["paragraphs"] == 4 and s["single_sentence_paragraphs"] == [4]
    assert s["hook"]["kind"] == "cliche" and not s["hook"]["strong"]
    # the last paragraph comes back to the grandmother and the violin of the first
    assert s["conclusion"] == {"returns": True, "shared": ["grandmother", "violin"],
                               "reason": ""}
    assert s["transitions"]["used"] == {"however": 1, "later": 1}
    assert s["transitions"]["paragraph_starts"] == 1
    assert s["repeated_openings"] == [{"word": "i", "count": 3, "sentences": [3, 4, 5],
                                       "longest_run": 3}]
    assert s["passive"]["sentences"] == [{"number": 6, "phrase": "was organized"},
                                         {"number": 8, "phrase": "were made"}]


def test_hook_kinds_and_a_conclusion_that_wanders_off() -> None:
    assert structure("Why would anyone eat a cactus?")["hook"]["kind"] == "question"
    assert structure('"Hold the ladder," my father said.')["hook"]["kind"] == "dialogue"
    assert structure("At six in the morning the bus broke down on a bridge over the "
                     "river.")["hook"]["kind"] == "scene"
    s = structure("My violin lessons began with my grandmother.\n\n"
                  "Chemistry homework takes most of my evenings now.")
    assert s["conclusion"]["returns"] is False and s["conclusion"]["shared"] == []
    assert s["passive"]["count"] == 0  # no form of "be" before a participle


# --- prompt and relevance ---------------------------------------------------------------

def test_prompt_analysis_finds_type_directives_and_key_terms() -> None:
    a = analyse_prompt(CHALLENGE)
    assert a["type"] == "challenge"
    assert a["directives"] == [{"verb": "recount", "explicit": True},
                               {"verb": "reflect", "explicit": False}]  # "what did you learn"
    terms = [k["term"] for k in a["key_terms"]]
    assert {"obstacles", "challenge", "setback", "failure"} <= set(terms)
    assert "recount" not in terms and "time" not in terms
    why = analyse_prompt("Why do you want to attend Lumen College? Explain how our programs "
                         "fit your goals.")
    assert why["type"] == "why_us" and [d["verb"] for d in why["directives"]] == ["explain"]


def test_relevance_is_higher_on_topic_and_checks_the_directives() -> None:
    prompt = "Describe a challenge you faced and reflect on what you learned from it."
    on = ("The biggest challenge I faced was a robotics competition where our robot failed. "
          "I learned to test every connector, and I realized that failure teaches patience.")
    off = ("My favourite recipe is lentil soup with onions, cumin and lemon. It takes an "
           "hour and feeds six people on a cold evening.")
    analysis = analyse_prompt(prompt)
    good, bad = (relevance(analysis, prompt, e, []) for e in (on, off))
    assert cosine(prompt, on) > cosine(prompt, off) == 0.0
    assert good["cosine"] > bad["cosine"]
    assert good["covered"] == ["challenge", "faced", "learned"] and good["missed"] == []
    assert bad["covered"] == []
    reflect = {d["verb"]: d["met"] for d in good["directives"]}
    assert reflect["reflect"] is True
    assert {d["verb"]: d["met"] for d in bad["directives"]}["reflect"] is False


def test_why_us_relevance_checks_each_college_is_named() -> None:
    prompt = "Why do you want to attend our college?"
    r = relevance(analyse_prompt(prompt), prompt, "Lumen College has the best lab.",
                  ["Lumen College", "Cedar University"])
    assert r["colleges_named"] == [{"college": "Lumen College", "named": True},
                                   {"college": "Cedar University", "named": False}]


# --- scores and suggestions ------------------------------------------------------------

def test_report_scores_and_suggestions_from_tool_results() -> None:
    limits = [limit_check(307, "Stanford", 250)]
    read = {"flesch_kincaid_grade": 9.0,
            "long_sentences": [{"number": 12, "words": 48, "text": "..."}]}
    rel = {"cosine": 0.3, "coverage": 1.0, "missed": [], "colleges_named": [],
           "directives": [{"verb": "reflect", "explicit": True, "met": False}]}
    s = scores(limits, read, structure(normalise(CRAFTED)), rel)
    # limits 0; readability 100 - 5 (one long sentence); structure 100 - 25 (cliche)
    # - 10 (repeated "I") - 10 (passive 2 of 10); relevance 50 + 50 - 15 (reflect)
    assert {k: v for k, v in s.items() if k != "overall"} == {
        "limits": 0.0, "readability": 95.0, "structure": 55.0, "relevance": 85.0}
    assert s["overall"] == pytest.approx((0 + 95 + 55 + 85) / 4, abs=0.06)
    notes = suggestions(limits, read, structure(normalise(CRAFTED)), rel)
    assert notes[:2] == ["cut 57 words for Stanford (limit 250)",
                         "the prompt asks you to 'reflect'; the essay never does (say what "
                         "you learned or how you changed)"]
    assert "sentence 12 has 48 words; split it" in notes
    assert "3 sentences start with 'I' (sentences 3, 4, 5); vary the openings" in notes
    assert any(n.startswith("the opening 'Ever since I was young") for n in notes)


# --- recycled passages ------------------------------------------------------------------

PASSAGE = ("the robot sat in the middle of the gym floor while the timer ran down to zero "
           "and nobody moved")  # 20 words


def test_recycled_passage_has_exact_boundaries_and_shares() -> None:
    a = f"My summer started early. {PASSAGE.capitalize()}. Then I went home."
    b = f"Something else entirely: {PASSAGE}! The end came soon after."
    found = recycled([("a", a), ("b", b)])
    [p] = found["passages"]
    # a: my summer started early | 20 words | then i went home  -> words 4..24 of 28
    # b: something else entirely | 20 words | the end came soon after -> 3..23 of 28
    assert (p["start_a"], p["end_a"], p["start_b"], p["end_b"]) == (4, 24, 3, 23)
    assert p["words"] == p["matched_words"] == 20 and not p["edited"]
    assert p["text"] == PASSAGE.capitalize() and p["text_b"] is None
    assert (p["share_a"], p["share_b"]) == (round(20 / 28, 4), round(20 / 28, 4))
    assert found["essays"]["a"] == {"words": 28, "recycled_words": 20,
                                    "share": round(20 / 28, 4)}


def test_a_lightly_edited_passage_is_one_passage() -> None:
    words = PASSAGE.split()
    edited = " ".join([*words[:10], "whilst", *words[11:]])  # word 10 changed
    [p] = recycled([("a", f"Before it all {PASSAGE}."), ("b", f"Then {edited}.")])[
        "passages"]
    # shingles starting 0-2 and 11-12 of the passage match: words 0-9 and 11-19
    assert (p["start_a"], p["end_a"], p["start_b"], p["end_b"]) == (3, 23, 1, 21)
    assert p["edited"] and p["matched_words"] == 19 and p["words"] == 20
    assert p["text_b"] == edited


def test_unrelated_essays_share_nothing() -> None:
    names = {"friend": "Omar", "teacher": "Ms. Ito", "sibling": "Mei"}
    texts = [(t.name, render(story(t, names))) for t in essay_bank.TOPICS]
    found = recycled(texts)
    assert found["passages"] == []
    assert all(e["share"] == 0 for e in found["essays"].values())


def test_recycling_scales_to_100_essays_of_650_words() -> None:
    rng = random.Random(5)
    vocabulary = sorted(set(" ".join(t.opening for t in essay_bank.TOPICS).lower().split()))
    docs = [[rng.choice(vocabulary) for _ in range(650)] for _ in range(100)]
    docs[77][300:340] = docs[12][100:140]  # one planted 40-word passage
    began = time.perf_counter()
    found = recycled([(f"e{i}", " ".join(d)) for i, d in enumerate(docs)])
    assert time.perf_counter() - began < 3.0
    [p] = found["passages"]
    assert (p["essay_a"], p["start_a"], p["end_a"]) == ("e12", 100, 140)
    assert (p["essay_b"], p["start_b"], p["end_b"]) == ("e77", 300, 340)


# --- sample data ------------------------------------------------------------------------

def test_samples_are_deterministic_and_a_portfolio_recycles(tmp_path: Path) -> None:
    write_sample_essay(tmp_path / "a.txt", 11)
    write_sample_essay(tmp_path / "b.txt", 11)
    text = (tmp_path / "a.txt").read_text()
    assert text == (tmp_path / "b.txt").read_text() and 200 < portal_words(text) < 400
    essays = sample_portfolio(4)
    assert essays == sample_portfolio(4) and len(essays) == 12
    assert len({e.college for e in essays}) == 6 and len({e.id for e in essays}) == 12
    assert recycled([(e.id, e.text) for e in essays])["passages"]


# --- templates on an engine -------------------------------------------------------------

REVIEW = {"prompt": CHALLENGE, "colleges": [{"college": "Stanford", "limit": 40},
                                            {"college": "Yale", "limit": 650,
                                             "minimum": 100}]}
ESSAY = (CRAFTED + "\n\nLooking back, I learned that a bad concert is not a failure; it is "
         "a lesson about practice that I still take with me into every challenge I face.")


async def test_review_of_inline_text(template_rig: Rig) -> None:
    async with template_rig(add_essays) as rig:
        out = await rig.run("essay_review", {**REVIEW, "essay": {"text": ESSAY}})
    assert set(out) == {"load", "prompt", "limits", "readability", "structure",
                        "relevance", "report"}
    report = EssayReviewOutput.model_validate(out["report"])
    words = portal_words(ESSAY)
    assert report.words == words and report.paragraphs == 5
    assert [(c.college, c.status) for c in report.limits] == [("Stanford", "over"),
                                                              ("Yale", "under")]
    assert f"cut {words - 40} words for Stanford (limit 40)" in report.suggestions
    assert f"add {100 - words} words for Yale (minimum 100)" in report.suggestions
    assert report.prompt.type == "challenge" and report.structure.hook == "cliche"
    assert report.structure.passive_sentences == [6, 8]
    assert "reflect" not in report.relevance.directives_unmet  # "I learned"
    assert 0 < report.scores.overall < 100


async def test_review_of_a_sample_an_inbox_file_and_base64(template_rig: Rig) -> None:
    async with template_rig(add_essays) as rig:
        (rig.inbox() / "essay.txt").write_text(ESSAY, encoding="utf-8")
        sample = await rig.run("essay_review", {**REVIEW, "essay": {"sample": 7}})
        inbox = await rig.run("essay_review", {**REVIEW, "essay": {"file": "essay.txt"}})
        encoded = base64.b64encode(ESSAY.encode()).decode()
        inline = await rig.run("essay_review", {**REVIEW, "essay": {"base64": encoded}})
    assert sample["load"]["origin"] == "sample"  # type: ignore[index]
    assert EssayReviewOutput.model_validate(sample["report"]).words > 200
    assert inbox["report"] == inline["report"]  # the same essay either way
    assert inbox["load"]["origin"] == "file"  # type: ignore[index]


async def test_review_fails_clearly_on_a_binary_or_empty_file(template_rig: Rig) -> None:
    async with template_rig(add_essays) as rig:
        (rig.inbox() / "essay.docx").write_bytes(b"PK\x03\x04\x00\x00binary")
        binary = await rig.outcome("essay_review", {**REVIEW, "essay": {"file": "essay.docx"}})
        empty = await rig.outcome("essay_review", {**REVIEW, "essay": {"text": " \n -- \n"}})
    assert binary.state is WorkflowState.FAILED
    assert "NUL byte at offset 4" in binary.errors["load"]
    assert empty.state is WorkflowState.FAILED
    assert "the essay is empty" in empty.errors["load"]


async def test_portfolio_sample_fans_out_one_task_per_essay_and_tool(
        template_rig: Rig) -> None:
    async with template_rig(add_essays) as rig:
        handle = await rig.engine.submit_template("essay_portfolio", {"sample": 4})
        status = await handle.wait(timeout_s=120)
    assert status.state is WorkflowState.COMPLETED, status.errors
    names = Counter(t.record.name for t in status.tasks)
    assert names == {**dict.fromkeys(TOOLS, 12), "essay_recycle": 1,
                     "essay_portfolio_report": 1}
    assert len(status.tasks) == 6 * 12 + 2
    assert "e3-readability" in status.results
    report = PortfolioOutput.model_validate(status.results["report"])
    assert len(report.essays) == 12 and len(report.colleges) == 6
    assert report.recycled and report.recycled_total == len(report.recycled)
    assert {e.id for e in report.differentiate_first} == (
        {p.essay_a for p in report.recycled} | {p.essay_b for p in report.recycled})


async def test_portfolio_flags_a_passage_sent_to_different_prompts(template_rig: Rig) -> None:
    shared = f"{PASSAGE.capitalize()}, and I learned to check the small things first."
    essays = [
        {"id": "mit", "college": "MIT", "prompt": CHALLENGE, "limit": 60,
         "essay": {"text": f"Our season began badly. {shared}"}},
        {"id": "yale", "college": "Yale", "prompt": "Reflect on an activity that shaped you.",
         "limit": 200, "essay": {"text": f"Robotics is my favourite club. {shared}"}},
        {"id": "rice", "college": "Rice", "prompt": "Why do you want to attend Rice?",
         "limit": 10, "essay": {"text": "Rice has small seminars and a lovely campus."}},
    ]
    async with template_rig(add_essays) as rig:
        out = await rig.run("essay_portfolio", {"essays": essays})
    report = PortfolioOutput.model_validate(out["report"])
    [p] = report.recycled
    assert (p.essay_a, p.essay_b, p.college_a, p.college_b) == ("mit", "yale", "MIT", "Yale")
    assert p.different_prompts and p.words == portal_words(shared)
    assert [d.id for d in report.differentiate_first] == ["mit", "yale"]
    rice = next(e for e in report.essays if e.id == "rice")
    assert (rice.status, rice.over_by, rice.prompt_type) == ("ok", 0, "why_us")
    assert [c.college for c in report.colleges] == ["MIT", "Yale", "Rice"]


# --- parameters -------------------------------------------------------------------------

def _errors(name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    registry = Registry()
    add_essays(registry, Path("unused"))
    with pytest.raises(TemplateParamsInvalid) as caught:
        registry.templates.get(name).validate(params)
    return [tuple(e["loc"]) for e in caught.value.errors]


def test_review_params_name_each_problem() -> None:
    locs = _errors("essay_review", {"essay": {"text": "x", "sample": 1}, "prompt": "",
                                    "colleges": [{"college": "A", "limit": 0},
                                                 {"college": "B", "limit": 9,
                                                  "minimum": 10}],
                                    "extra": 1})
    assert ("essay",) in locs and ("prompt",) in locs and ("extra",) in locs
    assert ("colleges", 0, "limit") in locs and ("colleges", 1) in locs
    assert _errors("essay_review", {"essay": {"sample": 1}, "prompt": "Why?",
                                    "colleges": []}) == [("colleges",)]
    assert _errors("essay_review", {"essay": {"sample": 1}, "prompt": "Why?",
                                    "colleges": [{"college": "MIT", "limit": 9}] * 2}) == [()]


def test_portfolio_params_need_exactly_one_source_and_distinct_ids() -> None:
    one = {"id": "a", "college": "MIT", "prompt": "Why?", "limit": 100,
           "essay": {"sample": 1}}
    assert _errors("essay_portfolio", {}) == [()]
    assert _errors("essay_portfolio", {"essays": [one], "sample": 3}) == [()]
    assert _errors("essay_portfolio", {"essays": [one, one]}) == [()]
    assert _errors("essay_portfolio", {"essays": [one] * 101}) == [("essays",)]
    assert _errors("essay_portfolio", {"essays": [{**one, "id": "no spaces"}]}) == [
        ("essays", 0, "id")]
