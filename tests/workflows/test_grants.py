"""grant_timeline: the backward pass, the completion probability and the risks by hand,
params validation, then the whole template on a real engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from zerogate import Registry
from zerogate.templates import TemplateParamsInvalid
from zerogate.workflows.grants import add_grants, sample_components
from zerogate.workflows.grants.components import Component
from zerogate.workflows.grants.dates import workdays
from zerogate.workflows.grants.models import GrantOutput, GrantParams
from zerogate.workflows.grants.progress import completion
from zerogate.workflows.grants.risks import risks
from zerogate.workflows.grants.schedule import backward, forward, plan

MON = date(2025, 3, 3)  # a Monday
FRI = date(2025, 3, 7)
FRI2 = date(2025, 3, 14)  # 10 working days from MON, both ends included


def part(name: str, effort: float, *deps: str, done: float = 0.0) -> Component:
    return Component(name=name, effort_days=effort, done=done, depends_on=list(deps))


DIAMOND = [part("A", 3), part("B", 2, "A"), part("C", 5, "A"), part("D", 1, "B", "C")]


def test_working_days_skip_weekends() -> None:
    assert workdays(MON, FRI2 + timedelta(days=1)) == 10
    assert workdays(date(2025, 3, 8), date(2025, 3, 10)) == 0  # a weekend


def test_backward_and_forward_passes_by_hand() -> None:
    dur = {c.name: c.effort_days for c in DIAMOND}
    # LF(D) = 10, LS(D) = 9; B: 7..9; C: 4..9; A finishes by min(7, 4) = 4, starts 1
    assert backward(DIAMOND, dur, 10) == {"D": 9, "B": 7, "C": 4, "A": 1}
    assert forward(DIAMOND, dur) == {"A": 0, "B": 3, "C": 3, "D": 8}


def test_plan_dates_slack_and_critical_path() -> None:
    p = plan(DIAMOND, MON, FRI2)
    assert (p["working_days_left"], p["critical_path"], p["critical_days"]) == (
        10, ["A", "C", "D"], 9)
    rows = {r["name"]: r for r in p["components"]}
    assert {n: r["slack_days"] for n, r in rows.items()} == {"A": 1, "B": 4, "C": 1, "D": 1}
    assert (rows["C"]["latest_start"], rows["C"]["latest_finish"]) == ("2025-03-07",
                                                                       "2025-03-13")
    assert (rows["A"]["earliest_start"], rows["A"]["earliest_finish"]) == ("2025-03-03",
                                                                           "2025-03-05")
    assert not any(r["late"] for r in rows.values())


def test_no_slack_is_a_coin_flip() -> None:
    p = plan([part("A", 5), part("B", 5, "A")], MON, FRI2)
    assert p["planned_to_date"] == 0  # the latest schedule starts today
    got = completion(p, team=10)
    assert (got["velocity"], got["mean_days"], got["probability"]) == (1.0, 10, 0.5)
    assert got["sd_days"] == pytest.approx(0.25 * 50 ** 0.5, abs=1e-4)
    assert [r["kind"] for r in risks(p, 10)] == ["deadline_close", "no_slack"]


def test_behind_schedule_slows_the_pace() -> None:
    p = plan([part("A", 10, done=0.2)], MON, FRI)  # 5 working days left
    # baseline: A should have started 5 days ago, so 5 days' effort is due; 2 earned
    assert (p["planned_to_date"], p["earned"]) == (5, 2)
    row = p["components"][0]
    assert (row["slack_days"], row["late"], row["latest_start"]) == (-3, True, "2025-02-26")
    got = completion(p, team=1)
    # velocity 2/5 floored at 0.5; mean 8 / 0.5 = 16, sd 0.25 * 8 / 0.5 = 4
    assert (got["velocity"], got["mean_days"], got["sd_days"]) == (0.5, 16, 4)
    assert got["probability"] == pytest.approx(0.0029798, abs=1e-6)  # Phi(-2.75)
    found = risks(p, 1)
    assert [(r["severity"], r["kind"], r["days"]) for r in found] == [
        ("critical", "behind", 3), ("critical", "chain_too_long", 3),
        ("high", "deadline_close", 4), ("high", "capacity", 3)]


def test_finished_is_certain_and_impossible_is_near_zero() -> None:
    done = plan([part("A", 4, done=1.0), part("B", 2, "A", done=1.0)], MON, FRI)
    assert completion(done, team=1)["probability"] == 1.0
    assert risks(done, 1) == []
    hopeless = completion(plan([part("A", 100)], MON, FRI2), team=1)
    assert hopeless["probability"] < 1e-4  # mean 200, sd 50: Phi(-3.8)


def test_team_capacity_binds_when_work_is_parallel() -> None:
    p = plan([part(n, 6) for n in "ABCD"], MON, FRI2)  # 24 days of work, chains of 6
    got = completion(p, team=2)
    assert (got["bound"], got["mean_days"]) == ("team capacity", 12)
    assert got["probability"] < 0.5


def test_milestones_and_checkpoints() -> None:
    deadline, as_of = date(2025, 6, 27), date(2025, 4, 7)  # a Friday, a Monday
    p = plan([part("budget", 10), part("narrative", 25, "budget")], as_of, deadline)
    # as late as possible: narrative 2025-05-26..06-27 (25 working days), budget the
    # 10 before it, 2025-05-12..05-23
    rows = {r["name"]: r for r in p["components"]}
    assert (rows["budget"]["latest_start"], rows["narrative"]["latest_start"]) == (
        "2025-05-12", "2025-05-26")
    assert [(m["label"], m["date"], m["past"]) for m in p["milestones"]] == [
        ("T-90", "2025-03-29", True), ("T-60", "2025-04-28", False),
        ("T-30", "2025-05-28", False)]
    t30 = p["milestones"][2]
    assert (t30["must_finish"], t30["must_start"]) == (["budget"], ["narrative"])
    assert t30["required_done"] == pytest.approx((10 + 3) / 35, abs=1e-4)  # 3 days in
    assert [c["date"] for c in p["checkpoints"]] == [
        "2025-04-21", "2025-05-05", "2025-05-19", "2025-06-02", "2025-06-16"]
    assert [c["starting"] for c in p["checkpoints"]] == [[], [], ["budget"], ["narrative"], []]
    assert [c["finishing"] for c in p["checkpoints"]] == [[], [], [], ["budget"], []]


def test_samples_are_seeded_and_valid() -> None:
    assert sample_components(4) == sample_components(4) != sample_components(5)
    names = [c.name for c in sample_components(4)]
    assert {"data appendix", "budget", "narrative", "internal review",
            "submission"} <= set(names)
    assert any(n.startswith("letter of support: ") for n in names)
    GrantParams.model_validate({"name": "g", "as_of": MON, "deadline": FRI2,
                                "components": sample_components(4)})  # no error


@pytest.mark.parametrize(("components", "message"), [
    ([{"name": "a", "effort_days": 1, "depends_on": ["ghost"]}],
     "component 'a' depends on unknown 'ghost'"),
    ([{"name": "a", "effort_days": 1, "depends_on": ["b"]},
      {"name": "b", "effort_days": 1, "depends_on": ["a"]}], "dependency cycle: "),
    ([{"name": "a", "effort_days": 1}, {"name": "a", "effort_days": 2}],
     "component 'a' is listed twice"),
])
def test_bad_dependencies_are_refused(tmp_path: Path, components: list[dict[str, Any]],
                                      message: str) -> None:
    registry = Registry()
    add_grants(registry, tmp_path)
    with pytest.raises(TemplateParamsInvalid) as caught:
        registry.templates.get("grant_timeline").validate(
            {"name": "g", "as_of": "2025-03-03", "deadline": "2025-04-01",
             "components": components})
    (error,) = caught.value.errors
    assert error["loc"] == ["components"] and message in error["msg"]


def test_params_errors_name_each_problem(tmp_path: Path) -> None:
    registry = Registry()
    add_grants(registry, tmp_path)
    template = registry.templates.get("grant_timeline")
    with pytest.raises(TemplateParamsInvalid) as caught:
        template.validate({"name": "", "as_of": "2025-03-03", "deadline": "2025-04-01",
                           "components": [{"name": "a", "effort_days": 0, "done": 2}],
                           "team": 0})
    assert {tuple(e["loc"]) for e in caught.value.errors} == {
        ("name",), ("components", 0, "effort_days"), ("components", 0, "done"), ("team",)}
    for params, message in (({"sample": 1, "components": [{"name": "a", "effort_days": 1}]},
                             "exactly one of components or sample"),
                            ({}, "exactly one of components or sample"),
                            ({"sample": 1, "deadline": "2025-03-01"}, "before as_of")):
        with pytest.raises(TemplateParamsInvalid, match=message):
            template.validate({"name": "g", "as_of": "2025-03-03",
                               "deadline": "2025-04-01", **params})


Rig = Callable[[Callable[[Registry, Path], None]], Any]


async def test_a_given_plan_end_to_end(template_rig: Rig) -> None:
    params = {"name": "Arts grant", "as_of": "2025-03-03", "deadline": "2025-03-14",
              "team": 3, "components": [c.model_dump() for c in DIAMOND]}
    async with template_rig(add_grants) as rig:
        result = await rig.run("grant_timeline", params)
    out = GrantOutput.model_validate(result["grant_report"])
    assert (out.name, out.working_days_left, out.critical_path) == (
        "Arts grant", 10, ["A", "C", "D"])
    assert out.probability == pytest.approx(result["grant_progress"]["probability"])
    assert 0.5 < out.probability < 1  # one day of slack on a nine-day chain
    assert [(r.kind, r.days) for r in out.risks] == [("deadline_close", 11),
                                                     ("little_slack", 1)]


async def test_samples_end_to_end(template_rig: Rig) -> None:
    async with template_rig(add_grants) as rig:
        roomy, tight = [GrantOutput.model_validate((await rig.run("grant_timeline", {
            "name": "Sample", "as_of": "2026-01-05", "deadline": deadline,
            "sample": 2}))["grant_report"]) for deadline in ("2026-05-29", "2026-01-23")]
    assert roomy.probability > 0.99 and not roomy.risks
    assert [m.label for m in roomy.milestones] == ["T-90", "T-60", "T-30"]
    assert len(roomy.checkpoints) == 10
    assert tight.probability < 0.05
    assert tight.risks[0].severity == "critical"
    assert {"chain_too_long", "deadline_close"} <= {r.kind for r in tight.risks}
