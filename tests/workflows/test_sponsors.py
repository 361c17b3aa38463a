"""sponsor_analysis: CSV validation, strength, influence, the funding model and the
recommendations by hand, then the whole template on a real engine."""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from zerogate import Registry
from zerogate.domain.model import WorkflowState
from zerogate.errors import InvalidInput
from zerogate.templates import TemplateParamsInvalid
from zerogate.workflows.sponsors import add_sponsors, write_sample_interactions
from zerogate.workflows.sponsors.models import SponsorOutput
from zerogate.workflows.sponsors.parsing import parse_interactions
from zerogate.workflows.sponsors.recommendations import recommendations
from zerogate.workflows.sponsors.scoring import (
    funding_probability,
    gifts_by_org,
    influence,
    influence_graph,
    strengths,
)

HEADER = "date,contact,organisation,kind,direction,amount\n"
HISTORY = HEADER + (
    "2025-01-10,Dara Okafor,Cedar Arts Trust,meeting,ours,\n"
    "2025-01-10,Ben Bauer,Cedar Arts Trust,meeting,theirs,\n"
    "2025-02-01T09:30:00+01:00,Dara Okafor,Cedar Arts Trust,gift,theirs,\"12,500\"\n"
    "2025-03-03,Ada Ito,Lumen Health Fund,call,ours,\n"
    "2025-03-04,Ben Bauer,Lumen Health Fund,event,theirs,\n"
    "2025-03-04,Ada Ito,Lumen Health Fund,event,theirs,\n"
    "2025-04-01,Ada Ito,Lumen Health Fund,email,theirs,\n"
)


def at(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def row(day: str, contact: str, org: str, kind: str = "call", ours: bool = True,
        amount: float | None = None) -> dict[str, Any]:
    return {"at": at(day), "day": day, "contact": contact, "org": org, "kind": kind,
            "ours": ours, "amount": amount}


# --- parsing ---------------------------------------------------------------------------

def test_rows_parse_with_dates_datetimes_zones_and_amounts() -> None:
    rows = parse_interactions(HISTORY)
    assert len(rows) == 7
    gift = rows[2]
    assert gift["at"] == at("2025-02-01T08:30:00")  # +01:00 is an hour ahead of UTC
    assert (gift["day"], gift["kind"], gift["ours"], gift["amount"]) == (
        "2025-02-01", "gift", False, 12500.0)
    assert rows[0]["ours"] is True and rows[0]["amount"] is None


@pytest.mark.parametrize(("text", "message"), [
    ("date,contact,kind,direction\n2025-01-01,A,call,ours\n",
     "lacks column(s) organisation"),
    (HEADER + "2025-01-01,A,O,call,ours,\n2025-13-01,A,O,call,ours,\n",
     "line 3, column 'date': '2025-13-01' is not an ISO date"),
    (HEADER + "2025-01-01,A,O,call,both,\n", "line 2, column 'direction': 'both' is not ours"),
    (HEADER + "2025-01-01,A,O,dinner,ours,\n", "column 'kind': 'dinner' is not one of"),
    (HEADER + "2025-01-01,,O,call,ours,\n", "line 2, column 'contact': empty"),
    (HEADER + "2025-01-01,A,O,call,ours,50\n", "'50' on a call (only gifts have amounts)"),
    (HEADER + "2025-01-01,A,O,gift,theirs,-5\n", "'-5' is not an amount >= 0"),
    (HEADER, "a header but no interactions"),
])
def test_bad_csv_names_line_and_column(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_interactions(text)


# --- scoring by hand ---------------------------------------------------------------------

def test_strength_now_and_one_half_life_ago() -> None:
    now = at("2025-04-01")
    rows = [row("2025-04-01", "Dara", "Cedar", ours=True),
            row("2025-01-01", "Dara", "Cedar", ours=False)]  # exactly 90 days earlier
    scores = strengths(rows, now, 90.0)
    dara = scores["contacts"]["Dara"]
    # now: recency 1, frequency 1 - e^-(1.5/6), reciprocity 1
    assert dara["score"] == pytest.approx(40 + 35 * (1 - math.exp(-0.25)) + 25, abs=0.01)
    # 90 days ago only the theirs-call existed, that day: reciprocity 0
    assert dara["before_score"] == pytest.approx(40 + 35 * (1 - math.exp(-1 / 6)), abs=0.01)
    assert (dara["level"], dara["before_level"], dara["organisation"]) == (
        "strong", "moderate", "Cedar")
    assert scores["organisations"]["Cedar"]["key_contact"] == "Dara"


def test_graph_links_people_who_met_and_finds_brokers() -> None:
    rows = [row("2025-03-04", p, "Lumen", "event") for p in ("Ada", "Ben", "Cy")]
    rows += [row("2025-03-05", "Ada", "Cedar", "meeting"), row("2025-03-06", "Dee", "Cedar"),
             row("2025-03-04", "Ada", "Lumen", "call")]  # a call is no gathering
    graph = influence_graph(rows)
    assert graph[("contact", "Ada")][("org", "Lumen")]["weight"] == 2
    assert graph[("contact", "Ada")][("contact", "Ben")]["weight"] == 1
    assert not graph.has_edge(("contact", "Ada"), ("contact", "Dee"))  # other day
    scores = influence(graph)
    assert scores["brokers"] == [{"contact": "Ada", "organisations": ["Lumen", "Cedar"],
                                  "influence": scores["contacts"]["Ada"]["influence"]}]
    assert scores["contacts"]["Ada"]["influence"] == 1.0  # most central on both counts
    assert all(0 < s["influence"] <= 1 for s in scores["organisations"].values())


def test_funding_probability_by_hand_and_monotone() -> None:
    assert funding_probability(0, 0, None, 0) == pytest.approx(1 / (1 + math.exp(3)))
    # logit = -3 + 3.5 + 0.8 ln 2 + 1.2 * 0.5 + 0.5 = 2.15452
    assert funding_probability(100, 1, 365, 0.5) == pytest.approx(0.896090, abs=1e-6)
    for gifts, last, inf in ((0, None, 0.0), (3, 30, 0.9), (1, 700, 0.2)):
        ps = [funding_probability(s, gifts, last, inf) for s in range(0, 101, 5)]
        assert ps == sorted(ps) and len(set(ps)) == len(ps)
    assert funding_probability(50, 2, 10, 0.3) > funding_probability(50, 2, 400, 0.3)


def test_gifts_per_organisation() -> None:
    now = at("2025-06-01")
    rows = [row("2025-01-01", "A", "O", "gift", False, 100.0),
            row("2025-05-02", "B", "O", "gift", False, 50.5), row("2025-05-02", "B", "P")]
    assert gifts_by_org(rows, now) == {
        "O": {"gifts": 2, "gift_total": 150.5, "last_gift_days": 30}}


def sponsor(name: str, p: float, level: str, score: float,
            last_gift: int | None) -> dict[str, Any]:
    return {"organisation": name, "probability": p, "level": level, "strength": score,
            "last_gift_days": last_gift, "key_contact": "Kim"}


def test_recommendations_ask_call_and_introduce() -> None:
    ranked = [sponsor("Lumen Health Fund", 0.71, "strong", 80.0, 335),
              sponsor("Harbor Trust", 0.62, "strong", 75.0, 40),  # gave lately: no ask
              sponsor("Cedar Arts Trust", 0.30, "weak", 20.0, None)]
    contacts = {"Dara Okafor": {"organisation": "Cedar Arts Trust", "level": "weak",
                                "score": 30.0, "before_level": "moderate",
                                "before_score": 60.0, "last_days": 142.3},
                "Eve": {"organisation": "Lumen Health Fund", "level": "strong",
                        "score": 80.0, "before_level": "strong", "before_score": 82.0,
                        "last_days": 3.0}}
    brokers = [{"contact": "Quinn", "influence": 0.6,
                "organisations": ["Lumen Health Fund", "Cedar Arts Trust"]}]
    recs = recommendations(ranked, contacts, brokers)
    assert [(r["action"], r["priority"], r["text"]) for r in recs] == [
        ("ask", 0.71, "ask Lumen Health Fund: probability 0.71, last gift 11 months ago"),
        ("introduce", 0.7, "introduce via broker Quinn, who links Lumen Health Fund "
                           "(strong) and Cedar Arts Trust (weak)"),
        ("call", 0.4, "call Dara Okafor (Cedar Arts Trust): last contact 142 days ago, "
                      "strength fell to weak (from moderate)")]  # (0.30 + 0.5) / 2


def test_the_sample_is_seeded_and_sized(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_sample_interactions(a, 3)
    write_sample_interactions(b, 3)
    write_sample_interactions(c, 4)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    rows = list(csv.DictReader(io.StringIO(a.read_text(encoding="utf-8"))))
    assert len(rows) == 2000
    assert 35 <= len({r["organisation"] for r in rows}) <= 40
    assert 140 <= len({r["contact"] for r in rows}) <= 150
    assert len(parse_interactions(a.read_text(encoding="utf-8"))) == 2000


# --- params ------------------------------------------------------------------------------

def test_params_errors_name_each_problem(tmp_path: Path) -> None:
    registry = Registry()
    add_sponsors(registry, tmp_path)
    template = registry.templates.get("sponsor_analysis")
    with pytest.raises(TemplateParamsInvalid) as caught:
        template.validate({"source": {"text": "x", "sample": 1}, "top": 0,
                           "half_life_days": -1, "as_of": "someday", "colour": "red"})
    locs = {tuple(e["loc"]) for e in caught.value.errors}
    assert locs == {("source",), ("top",), ("half_life_days",), ("as_of",), ("colour",)}
    assert template.validate({"source": {"sample": 1}}).top == 10


# --- end to end --------------------------------------------------------------------------

Rig = Callable[[Callable[[Registry, Path], None]], Any]


async def test_inline_text_base64_and_inbox_file_agree(template_rig: Rig) -> None:
    async with template_rig(add_sponsors) as rig:
        (rig.inbox() / "history.csv").write_text(HISTORY, encoding="utf-8")
        encoded = base64.b64encode(HISTORY.encode()).decode()
        outs = [SponsorOutput.model_validate((await rig.run(
            "sponsor_analysis", {"source": source, "top": 5}))["sponsor_report"])
            for source in ({"text": HISTORY}, {"base64": encoded}, {"file": "history.csv"})]
    first = outs[0]
    assert (str(first.as_of), first.interactions, first.contacts, first.organisations) == (
        "2025-04-02", 7, 3, 2)  # the day after the latest interaction
    assert [s.organisation for s in first.sponsors] == ["Cedar Arts Trust",
                                                        "Lumen Health Fund"]
    cedar = first.sponsors[0]
    assert (cedar.gifts, cedar.gift_total, cedar.last_gift_days) == (1, 12500.0, 59)
    assert [b.contact for b in first.brokers] == ["Ben Bauer"]
    assert Path(first.ranking_path).is_file()
    for other in outs[1:]:
        assert other.model_dump(exclude={"ranking_path"}) == first.model_dump(
            exclude={"ranking_path"})


async def test_as_of_ignores_later_interactions(template_rig: Rig) -> None:
    async with template_rig(add_sponsors) as rig:
        result = await rig.run("sponsor_analysis", {"source": {"text": HISTORY},
                                                    "as_of": "2025-03-01"})
    assert result["sponsor_load"]["ignored_after_as_of"] == 4
    out = SponsorOutput.model_validate(result["sponsor_report"])
    assert [s.organisation for s in out.sponsors] == ["Cedar Arts Trust"]


async def test_a_sample_recommends_asks_calls_and_introductions(template_rig: Rig) -> None:
    async with template_rig(add_sponsors) as rig:
        result = await rig.run("sponsor_analysis", {"source": {"sample": 1}, "top": 200})
    out = SponsorOutput.model_validate(result["sponsor_report"])
    assert (out.interactions, out.organisations) == (2000, 40)
    assert {r.action for r in out.recommendations} == {"ask", "call", "introduce"}
    assert [r.priority for r in out.recommendations] == sorted(
        (r.priority for r in out.recommendations), reverse=True)
    assert out.brokers and all(len(b.organisations) >= 2 for b in out.brokers)
    assert [s.rank for s in out.sponsors] == list(range(1, 41))
    assert result["sponsor_influence"]["brokers"] == len(out.brokers)


async def test_a_bad_file_fails_with_the_line_and_column(template_rig: Rig) -> None:
    bad = HEADER + "2025-01-01,A,O,call,ours,\n2025-01-02,B,O,call,sideways,\n"
    async with template_rig(add_sponsors) as rig:
        status = await rig.outcome("sponsor_analysis", {"source": {"text": bad}})
        missing = await rig.outcome("sponsor_analysis", {"source": {"file": "nope.csv"}})
    assert status.state is WorkflowState.FAILED
    assert "line 3, column 'direction': 'sideways' is not ours or theirs" in status.errors[
        "sponsor_load"]
    assert "no input file 'nope.csv'" in missing.errors["sponsor_load"]
