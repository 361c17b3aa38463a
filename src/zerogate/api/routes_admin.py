"""Routes over the installation: emergency controls, governor, system views, keys, audit,
plus the open probes /healthz and /readyz and the Prometheus /metrics.

Everything here that changes state is admin only and audited. The system views are
admin only too: they aggregate every tenant's work.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, Response

from zerogate.api.app import Admin, ApiDep, Viewer, known_query_only
from zerogate.api.errors import ApiError, retry_after
from zerogate.api.keys import new_key
from zerogate.api.routes_work import ERRORS
from zerogate.api.schemas import (
    AuditOut,
    AuditPage,
    ControlOut,
    FeatureIn,
    FeatureOut,
    KeyIn,
    KeyOut,
    NewKeyOut,
    ProfileIn,
    ProfilesOut,
)
from zerogate.domain.features import FeatureState
from zerogate.errors import NotFound, ZerogateError
from zerogate.ports import GLOBAL
from zerogate.runtime.engine import capacity_view
from zerogate.runtime.governor import Governor
from zerogate.runtime.observer import Observer
from zerogate.telemetry.export import csv_zip, to_html, to_json
from zerogate.telemetry.prometheus import CONTENT_TYPE
from zerogate.telemetry.views import alert_view, recommendations

router = APIRouter(responses=ERRORS, dependencies=[Depends(known_query_only)])


def _governor(api: ApiDep) -> Governor:
    if api.engine.governor is None:
        raise ApiError(409, "governor_off", "the resource governor is off on this server")
    return api.engine.governor


def _telemetry(api: ApiDep) -> Observer:
    if api.engine.telemetry is None:
        raise ApiError(409, "telemetry_off", "telemetry is off on this server")
    return api.engine.telemetry


# ---------------------------------------------------------------- probes


@router.get("/healthz", tags=["probes"], summary="Liveness: the process answers")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.get("/readyz", tags=["probes"], summary="Readiness: the engine runs and the store answers",
            responses={503: {"description": "not ready"}})
async def readyz(api: ApiDep) -> Response:
    if not api.ready:
        return JSONResponse({"ready": False, "reason": "the engine is not running"}, 503,
                            headers=retry_after(1))
    try:
        await api.engine.store.paused_scopes()
    except ZerogateError:
        return JSONResponse({"ready": False, "reason": "the store does not answer"}, 503,
                            headers=retry_after(2))
    return JSONResponse({"ready": True})


@router.get("/metrics", tags=["system"], summary="Prometheus metrics (text format 0.0.4)",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus(who: Admin, api: ApiDep) -> Response:
    return Response(_telemetry(api).exposition.text(), media_type=CONTENT_TYPE)


# ---------------------------------------------------------------- emergency


@router.post("/api/workflows/emergency/{action}", response_model=ControlOut, tags=["controls"],
             summary="Pause, resume or stop all work (stop cancels everything open)")
async def emergency(action: Literal["pause", "resume", "stop"], who: Admin, api: ApiDep,
                    request: Request) -> ControlOut:
    if action == "pause":
        await api.engine.pause()
    elif action == "resume":
        await api.engine.resume()
    else:
        await api.engine.stop(reason=f"emergency stop through the API by {who.key_id}")
    api.record(request, who, f"emergency.{action}", GLOBAL)
    return ControlOut(action=action, scope=GLOBAL)


# ---------------------------------------------------------------- governor


def _feature_out(f: FeatureState) -> FeatureOut:
    return FeatureOut(name=f.name, category=f.category.value, on=f.is_on, reason=f.reason,
                      override=None if f.override is None else f.override.describe())


@router.get("/api/features", response_model=list[FeatureOut], tags=["governor"],
            summary="Features, whether each is on, and why")
async def features(who: Viewer, api: ApiDep) -> list[FeatureOut]:
    return [_feature_out(f) for f in _governor(api).features.states()]


@router.put("/api/features/{name}", response_model=FeatureOut, tags=["governor"],
            summary="Force a feature on or off (optionally for a while), or back to auto")
async def override_feature(name: str, body: FeatureIn, who: Admin, api: ApiDep,
                           request: Request) -> FeatureOut:
    g = _governor(api)
    if name not in {f.name for f in g.features.states()}:
        raise NotFound(f"no feature named {name!r}")
    is_on = {"on": True, "off": False, "auto": None}[body.state]
    state = g.override(name, is_on, for_s=body.for_s,
                       reason=f"manual override by {who.key_id}")
    api.record(request, who, "feature.override", name, state=body.state, for_s=body.for_s)
    return _feature_out(state)


def _profiles_out(g: Governor) -> ProfilesOut:
    return ProfilesOut(active=g.policy.profile.name,
                       profiles=[_profile_view(p) for _, p in sorted(g.config.profiles().items())])


def _profile_view(p: Any) -> dict[str, Any]:
    return {"name": p.name, "cpu_high": p.cpu_high.enter, "cpu_critical": p.cpu_critical.enter,
            "memory_high": p.memory_high.enter, "memory_critical": p.memory_critical.enter,
            "concurrency_min": p.concurrency_min, "concurrency_max": p.concurrency_max,
            "critical_bypass": p.critical_bypass}


@router.get("/api/profiles", response_model=ProfilesOut, tags=["governor"],
            summary="The performance profiles and the active one")
async def profiles(who: Viewer, api: ApiDep) -> ProfilesOut:
    return _profiles_out(_governor(api))


@router.put("/api/profiles/active", response_model=ProfilesOut, tags=["governor"],
            summary="Switch the active performance profile")
async def switch_profile(body: ProfileIn, who: Admin, api: ApiDep,
                         request: Request) -> ProfilesOut:
    g = _governor(api)
    if body.name not in g.config.profiles():
        raise NotFound(f"no profile named {body.name!r}: use one of "
                       f"{', '.join(sorted(g.config.profiles()))}")
    before = g.policy.profile.name
    g.switch_profile(body.name)
    api.record(request, who, "profile.switch", body.name, before=before)
    return _profiles_out(g)


# ---------------------------------------------------------------- system views


@router.get("/api/system/dashboard", tags=["system"],
            summary="Everything the dashboard shows (schema zerogate.dashboard/1)")
async def dashboard(who: Admin, api: ApiDep) -> dict[str, Any]:
    _telemetry(api)
    return await api.engine.dashboard()


@router.get("/api/system/alerts", tags=["system"], summary="Resource alerts, firing and recent")
async def alerts(who: Admin, api: ApiDep) -> list[dict[str, Any]]:
    return [alert_view(a) for a in _governor(api).active_alerts()]


@router.get("/api/system/bottlenecks", tags=["system"],
            summary="Active and recently resolved bottlenecks")
async def bottlenecks(who: Admin, api: ApiDep) -> dict[str, list[dict[str, Any]]]:
    book = _telemetry(api).book
    return {"active": [t.as_dict() for t in book.ordered()],
            "resolved": [t.as_dict() for t in reversed(book.resolved)][:50]}


@router.get("/api/system/recommendations", tags=["system"],
            summary="What to change, from bottlenecks and capacity")
async def system_recommendations(who: Admin, api: ApiDep) -> list[str]:
    plan = await api.engine.capacity()
    extra = [plan.scaling.reason] if plan is not None and plan.scaling.reason else []
    return recommendations(_telemetry(api).book.ordered(), extra)


@router.get("/api/system/capacity", tags=["system"],
            summary="Drain time of the queue and the concurrency that would meet a target")
async def capacity(who: Admin, api: ApiDep,
                   target_drain_s: Annotated[float, Query(gt=0, le=86400 * 7)] = 600.0,
                   ) -> dict[str, Any] | None:
    plan = await api.engine.capacity(target_drain_s)
    return None if plan is None else capacity_view(plan)


@router.get("/api/system/report", tags=["system"], response_class=Response,
            summary="The performance report as JSON, HTML, or CSV tables in a zip",
            responses={200: {"content": {"application/json": {}, "text/html": {},
                                         "application/zip": {}}}})
async def report(who: Admin, api: ApiDep, request: Request,
                 format: Literal["json", "html", "csv"] = "json",
                 hours: Annotated[float, Query(gt=0, le=24 * 400)] = 24.0) -> Response:
    _telemetry(api)
    doc = await api.engine.report(hours=hours)
    api.record(request, who, "report.export", format, hours=hours)
    if format == "json":
        return Response(to_json(doc), media_type="application/json")
    if format == "html":
        # The report is one self-contained page with no script; let a browser show it.
        return Response(to_html(doc), media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:; frame-ancestors 'none'"})
    return Response(csv_zip(doc), media_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="zerogate-report.zip"'})


# ---------------------------------------------------------------- keys and audit


@router.get("/api/keys", response_model=list[KeyOut], tags=["keys"],
            summary="Every key (ids and metadata; secrets are never stored)")
async def list_keys(who: Admin, api: ApiDep) -> list[KeyOut]:
    return [KeyOut.of(k) for k in await api.engine.store.list_keys()]


@router.post("/api/keys", response_model=NewKeyOut, status_code=201, tags=["keys"],
             summary="Create a key; the answer is the only time the key is shown")
async def create_key(body: KeyIn, who: Admin, api: ApiDep, request: Request) -> NewKeyOut:
    now = api.engine.clock.now()
    key, record = new_key(tenant=body.tenant, role=body.role, name=body.name, now=now,
                          expires_at=None if body.expires_in_s is None
                          else now + body.expires_in_s)
    await api.engine.store.save_key(record)
    api.record(request, who, "keys.create", record.key_id, for_tenant=record.tenant,
               role=record.role)
    return NewKeyOut(key=key, **KeyOut.of(record).model_dump())


@router.delete("/api/keys/{key_id}", response_model=KeyOut, tags=["keys"],
               summary="Revoke a key: it stops working at once on this server")
async def revoke_key(key_id: str, who: Admin, api: ApiDep, request: Request) -> KeyOut:
    record = await api.engine.store.revoke_key(key_id, api.engine.clock.now())
    api.keys.forget(key_id)
    api.record(request, who, "keys.revoke", key_id)
    return KeyOut.of(record)


@router.get("/api/audit", response_model=AuditPage, tags=["keys"],
            summary="The audit trail, newest first")
async def audit(who: Admin, api: ApiDep,
                action: Annotated[str | None, Query(max_length=64)] = None,
                before: Annotated[int | None, Query(ge=1)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditPage:
    await api.audit.flush()
    rows = await api.engine.store.load_audit(limit=limit, before_id=before, action=action)
    items = [AuditOut(id=e.entry_id, at=e.at, action=e.action, outcome=e.outcome,
                      actor=e.actor, tenant=e.tenant, target=e.target, source=e.source,
                      request_id=e.request_id,
                      detail=None if e.detail is None else json.loads(e.detail)) for e in rows]
    return AuditPage(items=items, next_before=rows[-1].entry_id if len(rows) == limit else None)
