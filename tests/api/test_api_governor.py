"""Features, profiles and system views over HTTP, with a governor on a scripted machine."""

from __future__ import annotations

import asyncio
import time

from tests.api.conftest import ServeFactory
from zerogate.adapters.scripted_sampler import ScriptedSampler
from zerogate.domain.resources import ResourceSnapshot
from zerogate.runtime.governor import GovernorConfig


def calm() -> ResourceSnapshot:
    return ResourceSnapshot(taken_at=time.monotonic(), scope="cgroup-v2", cpu_fraction=0.1,
                            cpu_limit_cores=2.0, memory_used_bytes=2**30,
                            memory_limit_bytes=8 * 2**30, memory_fraction=0.125,
                            signals=frozenset({"cpu", "memory"}))


async def test_a_feature_forced_off_holds_its_template_until_it_is_back(
        serve: ServeFactory) -> None:
    s = await serve(governor=GovernorConfig(), sampler=ScriptedSampler([calm()]))
    admin, op = s.client("acme", "admin"), s.client("acme", "operator")
    features = (await op.get("/api/features")).json()
    assert {(f["name"], f["category"], f["on"]) for f in features} == {
        ("extras", "experimental", True)}
    assert (await op.put("/api/features/extras", json={"state": "off"})).status_code == 403
    r = await admin.put("/api/features/extras", json={"state": "off", "for_s": 600})
    assert r.status_code == 200 and r.json()["on"] is False and r.json()["override"]
    wid = (await op.post("/api/workflows/submit",
                         json={"template": "optional", "params": {"n": 2}})).json()["id"]
    await asyncio.sleep(0.5)
    status = (await op.get(f"/api/workflows/status/{wid}")).json()
    assert status["workflow"]["state"] != "completed"
    assert all("extras" in (t["wait_reason"] or "") for t in status["tasks"])
    assert (await admin.put("/api/features/extras", json={"state": "auto"})).json()["on"]
    assert (await s.wait_state(op, wid))["state"] == "completed"
    assert (await admin.put("/api/features/nope", json={"state": "on"})).status_code == 404
    bad = await admin.put("/api/features/extras", json={"state": "maybe"})
    assert bad.status_code == 422


async def test_profiles_switch_and_system_views(serve: ServeFactory) -> None:
    s = await serve(governor=GovernorConfig(), sampler=ScriptedSampler([calm()]))
    admin, viewer = s.client("acme", "admin"), s.client("acme", "viewer")
    got = (await viewer.get("/api/profiles")).json()
    assert got["active"] == "balanced"
    assert {p["name"] for p in got["profiles"]} >= {"development", "balanced", "performance",
                                                    "emergency"}
    r = await admin.put("/api/profiles/active", json={"name": "performance"})
    assert r.status_code == 200 and r.json()["active"] == "performance"
    assert (await admin.put("/api/profiles/active", json={"name": "x"})).status_code == 404
    assert (await viewer.put("/api/profiles/active",
                             json={"name": "balanced"})).status_code == 403
    assert (await admin.get("/api/system/alerts")).json() == []
    dash = (await admin.get("/api/system/dashboard")).json()
    assert dash["schema"] == "zerogate.dashboard/1" and dash["resources"]["profile"] == \
        "performance"
    audit = (await admin.get("/api/audit", params={"action": "profile."})).json()["items"]
    assert audit[0]["target"] == "performance" and audit[0]["detail"]["before"] == "balanced"


async def test_without_a_governor_its_endpoints_say_so(serve: ServeFactory) -> None:
    s = await serve()
    r = await s.client("acme", "admin").get("/api/features")
    assert r.status_code == 409 and r.json()["error"]["code"] == "governor_off"
