"""The demo's mixed load: deterministic, every workload in it, and every request valid
for the built-in templates (so the demo never submits something the server refuses)."""

from __future__ import annotations

from pathlib import Path

from zerogate.workflows import registry
from zerogate.workflows.mix import MIX, TENANTS, request

EXPECTED = {"sponsor_analysis", "grant_timeline", "relationship_mapping", "email_analysis",
            "excel_processing", "essay_review", "essay_portfolio"}


def test_the_demo_mix_is_deterministic_and_uses_every_workload() -> None:
    first = [request(i, seed=3) for i in range(300)]
    assert first == [request(i, seed=3) for i in range(300)]
    assert {r.template for r in first} == {m[0] for m in MIX} == EXPECTED
    assert {r.tenant for r in first} == set(TENANTS)
    assert request(0, seed=3) != request(0, seed=4)


def test_every_demo_request_is_valid_for_the_builtin_templates(tmp_path: Path) -> None:
    templates = registry(tmp_path).templates
    for i in range(200):
        r = request(i, seed=1)
        spec = templates.get(r.template).instantiate(r.params, tenant=r.tenant,
                                                     priority=r.priority)
        assert spec.tasks and spec.tenant == r.tenant


def test_the_builtin_templates_declare_features_resources_and_outputs(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    categories = {t.name: reg.feature_needs(t.feature)[0] for t in reg.templates.all()
                  if t.feature is not None}
    assert categories == {"sponsor_analysis": "essential", "grant_timeline": "essential",
                          "relationship_mapping": "standard", "email_analysis": "experimental",
                          "excel_processing": "experimental", "essay_review": "standard",
                          "essay_portfolio": "advanced"}
    for name in EXPECTED:
        template = reg.templates.get(name)
        assert template.output is not None and template.output_schema()
        assert template.description
    heavy = {name: reg.feature_needs(name)[1] for name in ("relationship_mapping",
                                                           "email_analysis", "excel_processing")}
    assert all(need.cpu >= 1.0 and need.memory >= 64 * 2**20 for need in heavy.values())
