"""Submitting, reading and controlling work over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Served, ServeFactory
from zerogate.api.app import ApiSettings


async def test_submit_runs_the_template_and_status_shows_its_tasks(served: Served) -> None:
    c = served.client("acme", "operator")
    r = await c.post("/api/workflows/submit", json={"template": "greet",
                                                    "params": {"name": "Ada"}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] is True and body["template"] == "greet"
    assert set(body["tasks"]) == {"hello"}
    done = await served.wait_state(c, body["id"])
    assert done["state"] == "completed" and done["template"] == "greet"
    status = (await c.get(f"/api/workflows/status/{body['id']}")).json()
    assert status["progress"] == 1.0 and status["counts"] == {"completed": 1}
    (task,) = status["tasks"]
    assert task["result"] == "hello Ada" and task["state"] == "completed"
    assert r.headers["x-request-id"] and r.headers["x-content-type-options"] == "nosniff"


async def test_unknown_template_and_bad_params_are_422_naming_the_problem(
        served: Served) -> None:
    c = served.client("acme", "operator")
    r = await c.post("/api/workflows/submit", json={"template": "nope", "params": {}})
    assert r.status_code == 422
    assert "no template is registered as 'nope'" in r.json()["error"]["message"]
    assert "greet" in r.json()["error"]["message"]
    r = await c.post("/api/workflows/submit", json={"template": "greet",
                                                    "params": {"name": "", "extra": 1}})
    assert r.status_code == 422
    err = r.json()["error"]
    locs = sorted(tuple(d["loc"]) for d in err["details"])
    assert locs == [("extra",), ("name",)]
    assert "input" not in err["details"][0]  # never echo what was sent
    r = await c.post("/api/workflows/submit", json={"template": "greet",
                                                    "params": {"name": "x"}, "tenant": "b"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "tenant"]
    r = await c.post("/api/workflows/submit", content=b"{not json",
                     headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = await c.get("/api/workflows", params={"limit": 0})
    assert r.status_code == 422
    listed = (await c.get("/api/workflows")).json()
    assert listed["items"] == []  # nothing was stored by any refused request


async def test_idempotency_key_returns_the_first_run_and_is_per_tenant(served: Served) -> None:
    a = served.client("acme", "operator")
    b = served.client("globex", "operator")
    hdr = {"Idempotency-Key": "order-17"}
    body = {"template": "greet", "params": {"name": "x"}}
    first = await a.post("/api/workflows/submit", json=body, headers=hdr)
    again = await a.post("/api/workflows/submit", json=body, headers=hdr)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["created"] is False
    other = await b.post("/api/workflows/submit", json=body, headers=hdr)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    clash = await a.post("/api/workflows/submit", json={"template": "fan", "params": {}},
                         headers=hdr)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "idempotency_conflict"
    bulk = {"workflows": [body, body]}
    b1 = await a.post("/api/workflows/submit/bulk", json=bulk, headers={"Idempotency-Key": "k"})
    b2 = await a.post("/api/workflows/submit/bulk", json=bulk, headers={"Idempotency-Key": "k"})
    assert (b1.status_code, b2.status_code) == (201, 200)
    assert [w["id"] for w in b1.json()["workflows"]] == [w["id"] for w in b2.json()["workflows"]]


async def test_bulk_is_all_or_nothing(served: Served) -> None:
    c = served.client("acme", "operator")
    good = {"template": "fan", "params": {"n": 3}}
    r = await c.post("/api/workflows/submit/bulk",
                     json={"workflows": [good, good, {"template": "fan", "params": {"n": 0}}]})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["workflows", 2, "params", "n"]
    assert (await c.get("/api/workflows")).json()["items"] == []
    r = await c.post("/api/workflows/submit/bulk", json={"workflows": [good] * 4})
    assert r.status_code == 201 and r.json()["tasks"] == 12
    assert len((await c.get("/api/workflows")).json()["items"]) == 4


async def test_bulk_limits(serve: ServeFactory) -> None:
    s = await serve(settings=ApiSettings(max_bulk_workflows=3, max_bulk_tasks=10))
    c = s.client("acme", "operator")
    one = {"template": "fan", "params": {"n": 1}}
    r = await c.post("/api/workflows/submit/bulk", json={"workflows": [one] * 4})
    assert r.status_code == 422 and "at most 3 workflows" in r.json()["error"]["message"]
    r = await c.post("/api/workflows/submit/bulk",
                     json={"workflows": [{"template": "fan", "params": {"n": 6}}] * 2})
    assert r.status_code == 422 and "at most 10 tasks" in r.json()["error"]["message"]


async def test_lists_paginate_and_filter(served: Served) -> None:
    c = served.client("acme", "operator")
    ids = []
    for i in range(5):
        r = await c.post("/api/workflows/submit", json={"template": "greet",
                                                        "params": {"name": str(i)}})
        ids.append(r.json()["id"])
    await c.post("/api/workflows/submit", json={"template": "fan", "params": {"n": 2}})
    page1 = (await c.get("/api/workflows", params={"limit": 2, "template": "greet"})).json()
    assert [w["id"] for w in page1["items"]] == ids[::-1][:2]
    page2 = (await c.get("/api/workflows", params={"limit": 2, "template": "greet",
                                                   "before": page1["next_before"]})).json()
    assert [w["id"] for w in page2["items"]] == ids[::-1][2:4]
    for wid in ids:
        await served.wait_state(c, wid)
    tasks = (await c.get("/api/tasks", params={"name": "hello", "state": "completed"})).json()
    assert len(tasks["items"]) == 5 and all(t["name"] == "hello" for t in tasks["items"])
    one = tasks["items"][0]
    assert (await c.get(f"/api/tasks/{one['id']}")).json()["result"].startswith("hello ")


async def test_cancel_and_retry(served: Served) -> None:
    c = served.client("acme", "operator")
    r = await c.post("/api/workflows/submit", json={"template": "sleep",
                                                    "params": {"seconds": 30}})
    wid = r.json()["id"]
    r = await c.post(f"/api/workflows/{wid}/cancel")
    assert r.status_code == 200
    assert (await served.wait_state(c, wid))["state"] == "cancelled"
    r = await c.post("/api/workflows/submit", json={"template": "flaky",
                                                    "params": {"marker": "go"}})
    wid = r.json()["id"]
    assert (await served.wait_state(c, wid))["state"] == "failed"
    status = (await c.get(f"/api/workflows/status/{wid}")).json()
    assert sorted(t["state"] for t in status["tasks"]) == ["failed", "skipped"]
    (served.flaky_dir / "go").touch()
    retried = await c.post(f"/api/workflows/{wid}/retry")
    assert retried.status_code == 200, retried.text
    assert (await served.wait_state(c, wid))["state"] == "completed"
    again = await c.post(f"/api/workflows/{wid}/retry")
    assert again.status_code == 409 and "completed" in again.json()["error"]["message"]


async def test_tenant_pause_holds_only_that_tenant(served: Served) -> None:
    a = served.client("acme", "operator")
    b = served.client("globex", "operator")
    assert (await a.post("/api/tenant/pause")).status_code == 200
    ra = await a.post("/api/workflows/submit", json={"template": "greet", "params": {"name": "a"}})
    rb = await b.post("/api/workflows/submit", json={"template": "greet", "params": {"name": "b"}})
    await served.wait_state(b, rb.json()["id"])
    await asyncio.sleep(0.2)
    st = (await a.get(f"/api/workflows/status/{ra.json()['id']}")).json()
    assert st["workflow"]["state"] in ("pending", "running")
    assert "paused" in (st["tasks"][0]["wait_reason"] or "")
    assert (await a.get("/api/workflows/status")).json()["tenant_paused"] is True
    await a.post("/api/tenant/resume")
    assert (await served.wait_state(a, ra.json()["id"]))["state"] == "completed"


async def test_queue_and_metrics_are_the_callers(served: Served) -> None:
    a = served.client("acme", "operator")
    b = served.client("globex", "operator")
    await a.post("/api/tenant/pause")
    await b.post("/api/tenant/pause")
    await a.post("/api/workflows/submit", json={"template": "fan", "params": {"n": 7}})
    await b.post("/api/workflows/submit", json={"template": "fan", "params": {"n": 3}})
    q = (await a.get("/api/workflows/queue")).json()
    assert q["tenant"] == "acme" and sum(q["tasks"].values()) == 7
    m = (await b.get("/api/workflows/metrics")).json()
    assert m["tenant"] == "globex" and m["quota"]["open_tasks"] == 3 and m["system"] is None


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_are_open(served: Served, path: str) -> None:
    r = await served.anonymous().get(path)
    assert r.status_code == 200
