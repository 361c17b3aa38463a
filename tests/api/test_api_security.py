"""The security checklist of RELIABILITY.md, over real HTTP: keys, roles, tenants,
limits, origin, audit."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ROLES, Served, ServeFactory
from zerogate import SqliteStore
from zerogate.api.app import ApiSettings
from zerogate.api.keys import Role, new_key
from zerogate.api.quotas import Quota, Quotas

# (method, path, json body, least role). {wf} and {task} are acme's ids.
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/whoami", None, "viewer"),
    ("GET", "/api/workflows", None, "viewer"),
    ("GET", "/api/workflows/{wf}", None, "viewer"),
    ("GET", "/api/workflows/status/{wf}", None, "viewer"),
    ("GET", "/api/workflows/status", None, "viewer"),
    ("GET", "/api/workflows/metrics", None, "viewer"),
    ("GET", "/api/workflows/queue", None, "viewer"),
    ("GET", "/api/workflows/templates", None, "viewer"),
    ("GET", "/api/workflows/templates/greet", None, "viewer"),
    ("GET", "/api/tasks", None, "viewer"),
    ("GET", "/api/tasks/{task}", None, "viewer"),
    ("POST", "/api/workflows/submit", {"template": "greet", "params": {"name": "m"}},
     "operator"),
    ("POST", "/api/workflows/submit/bulk",
     {"workflows": [{"template": "greet", "params": {"name": "m"}}]}, "operator"),
    ("POST", "/api/workflows/{wf}/cancel", None, "operator"),
    ("POST", "/api/workflows/{wf}/retry", None, "operator"),
    ("POST", "/api/tasks/{task}/cancel", None, "operator"),
    ("POST", "/api/tenant/pause", None, "operator"),
    ("POST", "/api/tenant/resume", None, "operator"),
    ("POST", "/api/workflows/emergency/pause", None, "admin"),
    ("POST", "/api/workflows/emergency/resume", None, "admin"),
    ("POST", "/api/workflows/emergency/stop", None, "admin"),
    ("GET", "/api/system/dashboard", None, "admin"),
    ("GET", "/api/system/bottlenecks", None, "admin"),
    ("GET", "/api/system/recommendations", None, "admin"),
    ("GET", "/api/system/capacity", None, "admin"),
    ("GET", "/api/system/report?format=json&hours=1", None, "admin"),
    ("GET", "/metrics", None, "admin"),
    ("GET", "/api/keys", None, "admin"),
    ("POST", "/api/keys", {"tenant": "acme", "role": "viewer", "name": "m"}, "admin"),
    ("GET", "/api/audit", None, "admin"),
]


async def _ids(served: Served) -> dict[str, int]:
    c = served.client("acme", "operator")
    r = await c.post("/api/workflows/submit", json={"template": "sleep",
                                                    "params": {"seconds": 30}})
    wf = r.json()["id"]
    return {"wf": wf, "task": next(iter(r.json()["tasks"].values()))}


async def test_role_by_endpoint_matrix(served: Served) -> None:
    ids = await _ids(served)
    for role in ROLES:
        c = served.client("acme", role)
        for method, path, body, least in ENDPOINTS:
            r = await c.request(method, path.format(**ids), json=body)
            allowed = Role.parse(role) >= Role.parse(least)
            if allowed:
                assert r.status_code not in (401, 403, 500), (role, method, path, r.text)
            else:
                assert r.status_code == 403, (role, method, path, r.status_code)
                assert r.json()["error"]["code"] == "forbidden"
        if role != "admin":
            await served.client("acme", "admin").post("/api/workflows/emergency/resume")


async def test_every_endpoint_but_the_probes_needs_a_key(served: Served) -> None:
    ids = await _ids(served)
    anon = served.anonymous()
    for method, path, body, _ in ENDPOINTS:
        r = await anon.request(method, path.format(**ids), json=body)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"
    r = await anon.get("/api/events")
    assert r.status_code == 401


async def test_unknown_revoked_and_expired_keys_get_identical_401s(served: Served) -> None:
    store = served.api.engine.store
    now = time.time()
    revoked_key, revoked = new_key(tenant="acme", role="admin", name="r", now=now)
    await store.save_key(revoked)
    expiring_key, expiring = new_key(tenant="acme", role="admin", name="e", now=now,
                                     expires_at=now + 0.3)
    await store.save_key(expiring)
    admin = served.client("acme", "admin")
    ok = httpx.AsyncClient(base_url=served.url,
                           headers={"Authorization": f"Bearer {revoked_key}"})
    served.clients.append(ok)
    assert (await ok.get("/api/whoami")).status_code == 200
    assert (await admin.delete(f"/api/keys/{revoked.key_id}")).status_code == 200
    await asyncio.sleep(0.35)
    unknown_key, _ = new_key(tenant="acme", role="admin", name="u", now=now)
    tampered = served.keys[("acme", "admin")][:-2] + "AA"
    bodies = set()
    for key in (unknown_key, revoked_key, expiring_key, tampered, "garbage"):
        r = await served.anonymous().get("/api/whoami",
                                         headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401, key
        err = r.json()["error"]
        bodies.add((err["code"], err["message"]))
    assert bodies == {("unauthorized", "a valid API key is required")}


async def test_tenant_isolation_by_endpoint(served: Served) -> None:
    ids = await _ids(served)  # acme's sleeping workflow
    by_id = [(m, p, b) for m, p, b, _ in ENDPOINTS if "{" in p]
    for role in ROLES:
        g = served.client("globex", role)
        for method, path, body in by_id:
            least = next(x[3] for x in ENDPOINTS if x[1] == path)
            if Role.parse(role) < Role.parse(least):
                continue
            r = await g.request(method, path.format(**ids), json=body)
            assert r.status_code == 404, (role, method, path, r.status_code)
        missing = await g.get("/api/workflows/999999")
        other = await g.get(f"/api/workflows/{ids['wf']}")
        assert missing.json()["error"]["message"].replace("999999", "N") == \
            other.json()["error"]["message"].replace(str(ids["wf"]), "N")
        assert (await g.get("/api/workflows")).json()["items"] == []
        assert (await g.get("/api/tasks")).json()["items"] == []
        assert (await g.get("/api/tasks", params={"workflow_id": ids["wf"]})).status_code == 404
        q = (await g.get("/api/workflows/queue")).json()
        assert sum(q["tasks"].values()) == 0 and q["active"] == []
        m = (await g.get("/api/workflows/metrics")).json()
        assert m["quota"]["open_tasks"] == 0
    # acme still sees its own, untouched by globex's attempts
    a = served.client("acme", "viewer")
    assert (await a.get(f"/api/workflows/{ids['wf']}")).json()["state"] == "running"


async def test_event_stream_shows_only_the_callers_tenant(served: Served) -> None:
    a = served.client("acme", "operator")
    g = served.client("globex", "operator")
    seen: dict[str, list[str]] = {"acme": [], "globex": []}
    connected = {"acme": asyncio.Event(), "globex": asyncio.Event()}
    finished = {"acme": asyncio.Event(), "globex": asyncio.Event()}

    async def listen(client: httpx.AsyncClient, tenant: str) -> None:
        async with client.stream("GET", "/api/events") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            async for line in r.aiter_lines():
                if line.startswith(": connected"):
                    connected[tenant].set()
                if line.startswith("data: "):
                    seen[tenant].append(line)
                    if '"kind": "workflow"' in line:
                        finished[tenant].set()

    listeners = [asyncio.create_task(listen(a, "acme")), asyncio.create_task(listen(g, "globex"))]
    for event in connected.values():
        await asyncio.wait_for(event.wait(), 10)
    ra = await a.post("/api/workflows/submit", json={"template": "greet", "params": {"name": "a"}})
    rg = await g.post("/api/workflows/submit", json={"template": "fan", "params": {"n": 2}})
    for event in finished.values():  # each stream saw its own workflow end
        await asyncio.wait_for(event.wait(), 20)
    for t in listeners:
        t.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    wa, wg = ra.json()["id"], rg.json()["id"]
    assert seen["acme"] and seen["globex"]
    assert all(f'"workflow_id": {wa}' in line for line in seen["acme"])
    assert all(f'"workflow_id": {wg}' in line for line in seen["globex"])


async def test_body_limit_is_413_before_parsing(serve: ServeFactory) -> None:
    s = await serve(settings=ApiSettings(body_limit=1000))
    c = s.client("acme", "operator")
    big = {"template": "greet", "params": {"name": "x" * 2000}}
    r = await c.post("/api/workflows/submit", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    async def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 200
    r = await c.post("/api/workflows/submit", content=chunks(),
                     headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert (await c.get("/api/workflows")).json()["items"] == []


async def test_rate_quota_is_429_with_retry_after_and_per_tenant(serve: ServeFactory) -> None:
    quotas = Quotas(tenants={"acme": Quota(rate_per_s=1, burst=3)})
    s = await serve(settings=ApiSettings(quotas=quotas))
    a, g = s.client("acme", "viewer"), s.client("globex", "viewer")
    codes = [(await a.get("/api/whoami")).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    r = await a.get("/api/whoami")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert [(await g.get("/api/whoami")).status_code for _ in range(5)] == [200] * 5


async def test_queue_quota_refuses_whole_submissions(serve: ServeFactory) -> None:
    quotas = Quotas(tenants={"acme": Quota(max_queued=5)})
    s = await serve(settings=ApiSettings(quotas=quotas))
    a = s.client("acme", "operator")
    await a.post("/api/tenant/pause")
    assert (await a.post("/api/workflows/submit",
                         json={"template": "fan", "params": {"n": 4}})).status_code == 201
    r = await a.post("/api/workflows/submit", json={"template": "fan", "params": {"n": 2}})
    assert r.status_code == 429 and "quota of 5" in r.json()["error"]["message"]
    assert "retry-after" in r.headers
    r = await a.post("/api/workflows/submit", json={"template": "fan", "params": {"n": 6}})
    assert r.status_code == 422 and "split it" in r.json()["error"]["message"]
    g = s.client("globex", "operator")
    assert (await g.post("/api/workflows/submit",
                         json={"template": "fan", "params": {"n": 6}})).status_code == 201


async def test_running_quota_becomes_the_tenants_concurrency_limit(serve: ServeFactory) -> None:
    quotas = Quotas(tenants={"acme": Quota(max_running=1)})
    s = await serve(settings=ApiSettings(quotas=quotas))
    a = s.client("acme", "operator")
    ids = [(await a.post("/api/workflows/submit", json={"template": "sleep",
                                                        "params": {"seconds": 30}})).json()["id"]
           for _ in range(2)]
    for _ in range(200):  # until one has started (at most 10 s)
        states = [(await a.get(f"/api/workflows/status/{i}")).json()["tasks"][0] for i in ids]
        if any(t["state"] == "running" for t in states):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a second would start now if the quota did not hold it
    states = [(await a.get(f"/api/workflows/status/{i}")).json()["tasks"][0] for i in ids]
    assert sorted(t["state"] for t in states) == ["running", "waiting"]
    waiting = next(t for t in states if t["state"] == "waiting")
    assert "tenant 'acme' has 1 tasks running, its limit" in waiting["wait_reason"]


async def test_unsafe_cross_origin_requests_are_refused(served: Served) -> None:
    c = served.client("acme", "admin")
    r = await c.post("/api/tenant/pause", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_refused"
    r = await c.delete("/api/keys/zg_000000000000", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = await c.post("/api/tenant/pause", headers={"Origin": served.url})
    assert r.status_code == 200


async def test_store_down_is_503_with_retry_after(served: Served) -> None:
    c = served.client("acme", "admin")
    await c.get("/api/whoami")  # the key is cached; the store is what fails next
    store = served.api.engine.store
    db = store._db  # type: ignore[attr-defined]
    store._db = None  # type: ignore[attr-defined]
    try:
        r = await c.get("/api/workflows")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable" and "retry-after" in r.headers
        assert (await served.anonymous().get("/readyz")).status_code == 503
    finally:
        store._db = db  # type: ignore[attr-defined]
    assert (await c.get("/api/workflows")).status_code == 200


async def test_audit_records_privileged_actions_and_refusals_without_secrets(
        served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    admin = served.client("acme", "admin")
    viewer = served.client("acme", "viewer")
    await admin.post("/api/workflows/emergency/pause")
    await admin.post("/api/workflows/emergency/resume")
    created = (await admin.post("/api/keys", json={"tenant": "globex", "role": "viewer",
                                                   "name": "bot"})).json()
    await viewer.post("/api/workflows/emergency/stop")
    bad = "zg_0123456789ab_" + "A" * 43
    await served.anonymous().get("/api/whoami", headers={"Authorization": f"Bearer {bad}"})
    page = (await admin.get("/api/audit")).json()
    actions = [(e["action"], e["outcome"]) for e in page["items"]]
    for expected in [("emergency.pause", "ok"), ("emergency.resume", "ok"),
                     ("keys.create", "ok"), ("authz.denied", "denied"),
                     ("auth.failed", "denied")]:
        assert expected in actions
    failed = next(e for e in page["items"] if e["action"] == "auth.failed")
    assert failed["detail"]["key_id"] == "zg_0123456789ab" and failed["source"] == "127.0.0.1"
    secrets = [created["key"], bad, *served.keys.values()]
    text = str(page) + caplog.text
    assert not any(s in text for s in secrets)
    assert created["key"].startswith(created["key_id"] + "_")
    listed = (await admin.get("/api/keys")).json()
    assert created["key_id"] in {k["key_id"] for k in listed}
    assert all("key" not in k and "secret_hash" not in k for k in listed)


async def test_a_locked_database_is_503_and_loses_nothing(serve: ServeFactory,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    s = await serve(store=SqliteStore(path, busy_timeout_s=0.2))
    c = s.client("acme", "operator")
    first = await c.post("/api/workflows/submit", json={"template": "greet",
                                                        "params": {"name": "kept"}})
    assert first.status_code == 201
    await c.get("/api/whoami")  # the key is cached from here on
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        r = await c.post("/api/workflows/submit", json={"template": "greet",
                                                        "params": {"name": "later"}})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable" and int(r.headers["retry-after"]) >= 1
        # what and when, never the file path or a traceback
        assert r.json()["error"]["message"] == "the store is unavailable; retry later"
    finally:
        other.execute("ROLLBACK")
        other.close()
    again = await c.post("/api/workflows/submit", json={"template": "greet",
                                                        "params": {"name": "later"}})
    assert again.status_code == 201
    assert (await s.wait_state(c, first.json()["id"]))["state"] == "completed"
