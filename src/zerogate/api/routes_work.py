"""Routes over a tenant's own work: submit, read, list, cancel, retry, queue, events.

Every query here is filtered by the caller's tenant inside the store call itself
(``tenant=who.tenant``), or checked against it after a read by id (``api.workflow``,
``api.task``), so no path can return another tenant's rows.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel
from starlette.responses import StreamingResponse

from zerogate.api.app import (
    EVENTS_PATH,
    ApiDep,
    Operator,
    Viewer,
    known_query_only,
    scoped_key,
)
from zerogate.api.errors import ApiError
from zerogate.api.keys import Principal, Role
from zerogate.api.quotas import QuotaExceeded
from zerogate.api.schemas import (
    BulkIn,
    BulkOut,
    ControlOut,
    ErrorOut,
    MetricsOut,
    QueueOut,
    QuotaOut,
    SubmitIn,
    SubmittedOut,
    SystemStatusOut,
    TaskOut,
    TaskPage,
    TaskStateName,
    TemplateOut,
    WhoAmIOut,
    WorkflowOut,
    WorkflowPage,
    WorkflowStateName,
    WorkflowStatusOut,
)
from zerogate.domain.model import TaskState
from zerogate.domain.workflow import WorkflowSpec
from zerogate.errors import InvalidInput, NotFound, UnknownTemplate
from zerogate.ports import GLOBAL
from zerogate.registry import Registry
from zerogate.telemetry.views import active_workflows, queue_view
from zerogate.templates import Template, TemplateParamsInvalid

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)}
router = APIRouter(responses=ERRORS, dependencies=[Depends(known_query_only)])
IdempotencyKey = Annotated[str | None, Header(
    min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
    description="repeat a submission safely: the same key returns the first run's ids")]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Before = Annotated[int | None, Query(ge=1, description="next_before of the previous page")]


def _instantiate(api: ApiDep, item: SubmitIn, who: Principal) -> WorkflowSpec:
    template = api.engine.registry.templates.get(item.template)
    return template.instantiate(item.params, tenant=who.tenant, priority=item.priority)


@router.post("/api/workflows/submit", status_code=201, response_model=SubmittedOut,
             summary="Submit one workflow from a registered template", tags=["workflows"])
async def submit(body: SubmitIn, who: Operator, api: ApiDep, response: Response,
                 idempotency_key: IdempotencyKey = None) -> SubmittedOut:
    spec = _instantiate(api, body, who)
    await api.queue_quota.admit(who.tenant, len(spec.tasks))
    (handle,) = await api.engine.submit_many([spec],
                                             idempotency_keys=[scoped_key(who, idempotency_key)])
    api.hub.remember(handle.id, who.tenant)
    if not handle.is_new:
        await _same_request(api, handle.id, body.template)
        response.status_code = 200
    return SubmittedOut(id=handle.id, template=body.template, tasks=handle.task_ids,
                        created=handle.is_new)


async def _same_request(api: ApiDep, workflow_id: int, template: str) -> None:
    earlier = await api.engine.store.get_workflow(workflow_id)
    if earlier.name != template:
        raise ApiError(409, "idempotency_conflict", "this Idempotency-Key was used for a "
                       f"submission of template {earlier.name!r}, not {template!r}")


@router.post("/api/workflows/submit/bulk", status_code=201, response_model=BulkOut,
             summary="Submit many workflows in one transaction: all or none",
             tags=["workflows"])
async def submit_bulk(body: BulkIn, who: Operator, api: ApiDep,
                      idempotency_key: IdempotencyKey = None) -> Response:
    s = api.settings
    if len(body.workflows) > s.max_bulk_workflows:
        raise InvalidInput(f"a bulk submission holds at most {s.max_bulk_workflows} "
                           f"workflows; this one has {len(body.workflows)}")
    specs = []
    for i, item in enumerate(body.workflows):
        try:
            specs.append(_instantiate(api, item, who))
        except TemplateParamsInvalid as exc:
            raise TemplateParamsInvalid(exc.template, [
                {**e, "loc": ["workflows", i, "params", *e["loc"]]} for e in exc.errors]
            ) from None
        except InvalidInput as exc:
            raise InvalidInput(f"workflows[{i}]: {exc}") from None
    tasks = sum(len(spec.tasks) for spec in specs)
    if tasks > s.max_bulk_tasks:
        raise InvalidInput(f"a bulk submission holds at most {s.max_bulk_tasks} tasks; "
                           f"this one has {tasks}")
    await api.queue_quota.admit(who.tenant, tasks)
    keys = [scoped_key(who, idempotency_key, i) for i in range(len(specs))]
    handles = await api.engine.submit_many(specs, idempotency_keys=keys)
    for h in handles:
        api.hub.remember(h.id, who.tenant)
    return serialized(BulkOut(
        workflows=[SubmittedOut(id=h.id, template=item.template, tasks=h.task_ids,
                                created=h.is_new)
                   for h, item in zip(handles, body.workflows, strict=True)],
        tasks=tasks), 201 if any(h.is_new for h in handles) else 200)


@router.get("/api/workflows/status", response_model=SystemStatusOut,
            summary="Health of the system as the caller may see it", tags=["system"])
async def system_status(who: Viewer, api: ApiDep) -> SystemStatusOut:
    paused = await api.engine.store.paused_scopes()
    state: Any
    tenant_paused = f"tenant:{who.tenant}" in paused
    if api.engine.telemetry is None:
        state, reasons, detail = ("degraded" if GLOBAL in paused else "healthy"), [], None
        if GLOBAL in paused:
            reasons = ["all work is paused (resume to start work again)"]
    else:
        full = api.engine.system_status()
        state, detail = full["status"], full if who.role is Role.ADMIN else None
        reasons = full["reasons"] if who.role is Role.ADMIN else (
            ["all work is paused (resume to start work again)"] if GLOBAL in paused else [])
    if tenant_paused:
        reasons = [*reasons, f"tenant {who.tenant!r} is paused"]
    return SystemStatusOut(state=state, paused=GLOBAL in paused, tenant_paused=tenant_paused,
                           reasons=reasons, detail=detail)


@router.get("/api/workflows/status/{workflow_id}", response_model=WorkflowStatusOut,
            summary="A workflow, its tasks, and why each waiting task waits",
            tags=["workflows"])
async def workflow_status(workflow_id: int, who: Viewer, api: ApiDep) -> Response:
    status = await api.engine.status(workflow_id, await api.workflow(workflow_id, who))
    counts = Counter(t.record.state.value for t in status.tasks)
    done = sum(n for s, n in counts.items() if TaskState(s).is_terminal)
    return serialized(WorkflowStatusOut(
        workflow=WorkflowOut.of(status.record), counts=dict(counts),
        progress=done / len(status.tasks) if status.tasks else 1.0,
        tasks=[TaskOut.of(t.record, t.wait_reason) for t in status.tasks]))


def serialized(model: BaseModel, status: int = 200) -> Response:
    """The model as JSON, sent as is: the route's response_model still documents it, but
    FastAPI does not validate and encode it a second time (a hot path's largest cost)."""
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


async def _queue(api: ApiDep, who: Principal, active: int = 20) -> QueueOut:
    live = await api.engine.store.live_view(active_limit=active, tenant=who.tenant)
    now = api.engine.clock.now()
    return QueueOut(tenant=who.tenant, active=active_workflows(live, now),
                    **queue_view(live, now, top=50))


@router.get("/api/workflows/queue", response_model=QueueOut,
            summary="The caller's open work by state, priority, task type and key",
            tags=["workflows"])
async def queue(who: Viewer, api: ApiDep,
                active: Annotated[int, Query(ge=0, le=200)] = 20) -> QueueOut:
    return await _queue(api, who, active)


@router.get("/api/workflows/metrics", response_model=MetricsOut,
            summary="The caller's queue and quota; admins also get the system's telemetry",
            tags=["workflows"])
async def metrics(who: Viewer, api: ApiDep) -> MetricsOut:
    q = await _queue(api, who, 0)
    quota = api.settings.quotas.of(who.tenant)
    system = None
    if who.role is Role.ADMIN and api.engine.telemetry is not None:
        system = await api.engine.dashboard()
    return MetricsOut(tenant=who.tenant, queue=q, system=system, quota=QuotaOut(
        rate_per_s=quota.rate_per_s, burst=quota.burst, max_queued=quota.max_queued,
        max_running=quota.max_running,
        open_tasks=sum(n for s, n in q.tasks.items())))


@router.get("/api/workflows/templates", response_model=list[TemplateOut],
            summary="The templates this server accepts, with their parameter schemas",
            tags=["templates"])
async def templates(who: Viewer, api: ApiDep) -> list[TemplateOut]:
    registry = api.engine.registry
    return [_template_out(registry, t) for t in registry.templates.all()]


@router.get("/api/workflows/templates/{name}", response_model=TemplateOut, tags=["templates"])
async def template(name: str, who: Viewer, api: ApiDep) -> TemplateOut:
    try:
        registry = api.engine.registry
        return _template_out(registry, registry.templates.get(name))
    except UnknownTemplate as exc:
        raise NotFound(str(exc)) from None


def _template_out(registry: Registry, t: Template[Any]) -> TemplateOut:
    out = TemplateOut(name=t.name, description=t.description, params_schema=t.schema(),
                      output_schema=t.output_schema(), feature=t.feature)
    if t.feature is not None:
        category, need = registry.feature_needs(t.feature)
        out.category = None if category is None else str(category)
        out.cpu, out.memory_mb = need.cpu, need.memory / 2**20
    return out


@router.get("/api/workflows", response_model=WorkflowPage,
            summary="The caller's workflows, newest first", tags=["workflows"])
async def list_workflows(who: Viewer, api: ApiDep, state: WorkflowStateName | None = None,
                         template: Annotated[str | None, Query(max_length=64)] = None,
                         before: Before = None, limit: Limit = 50) -> WorkflowPage:
    rows = await api.engine.store.list_workflows(
        tenant=who.tenant, state=state, name=template, before_id=before,
        limit=min(limit, api.settings.max_page))
    return WorkflowPage(items=[WorkflowOut.of(r) for r in rows],
                        next_before=rows[-1].workflow_id if len(rows) == limit else None)


@router.get("/api/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
async def get_workflow(workflow_id: int, who: Viewer, api: ApiDep) -> WorkflowOut:
    return WorkflowOut.of(await api.workflow(workflow_id, who))


@router.post("/api/workflows/{workflow_id}/cancel", response_model=WorkflowOut,
             summary="Cancel a workflow: queued tasks never start, running ones stop",
             tags=["workflows"])
async def cancel_workflow(workflow_id: int, who: Operator, api: ApiDep,
                          request: Request) -> WorkflowOut:
    await api.workflow(workflow_id, who)
    await api.engine.cancel(workflow_id, reason=f"cancelled through the API by {who.key_id}")
    api.record(request, who, "workflow.cancel", str(workflow_id))
    return WorkflowOut.of(await api.engine.store.get_workflow(workflow_id))


@router.post("/api/workflows/{workflow_id}/retry", response_model=WorkflowOut,
             summary="Run the failed, cancelled and skipped tasks of a finished workflow again",
             tags=["workflows"])
async def retry_workflow(workflow_id: int, who: Operator, api: ApiDep,
                         request: Request) -> WorkflowOut:
    await api.workflow(workflow_id, who)
    await api.engine.retry(workflow_id)
    api.record(request, who, "workflow.retry", str(workflow_id))
    return WorkflowOut.of(await api.engine.store.get_workflow(workflow_id))


@router.get("/api/tasks", response_model=TaskPage, summary="The caller's tasks, newest first",
            tags=["tasks"])
async def list_tasks(who: Viewer, api: ApiDep, workflow_id: Annotated[int | None, Query(ge=1)]
                     = None, state: TaskStateName | None = None,
                     name: Annotated[str | None, Query(max_length=200)] = None,
                     before: Before = None, limit: Limit = 50) -> TaskPage:
    if workflow_id is not None:
        await api.workflow(workflow_id, who)
    rows = await api.engine.store.list_task_page(
        tenant=who.tenant, workflow_id=workflow_id, state=state, name=name, before_id=before,
        limit=min(limit, api.settings.max_page))
    return TaskPage(items=[TaskOut.of(r) for r in rows],
                    next_before=rows[-1].task_id if len(rows) == limit else None)


@router.get("/api/tasks/{task_id}", response_model=TaskOut, tags=["tasks"])
async def get_task(task_id: int, who: Viewer, api: ApiDep) -> TaskOut:
    return TaskOut.of(await api.task(task_id, who))


@router.post("/api/tasks/{task_id}/cancel", response_model=TaskOut,
             summary="Cancel one task and its dependents", tags=["tasks"])
async def cancel_task(task_id: int, who: Operator, api: ApiDep, request: Request) -> TaskOut:
    await api.task(task_id, who)
    await api.engine.cancel_task(task_id, reason=f"cancelled through the API by {who.key_id}")
    api.record(request, who, "task.cancel", str(task_id))
    return TaskOut.of(await api.engine.store.get_task(task_id))


@router.post("/api/tenant/{action}", response_model=ControlOut,
             summary="Pause or resume the caller's own tenant", tags=["controls"])
async def tenant_control(action: Literal["pause", "resume"], who: Operator, api: ApiDep,
                         request: Request) -> ControlOut:
    scope = f"tenant:{who.tenant}"
    if action == "pause":
        await api.engine.pause(scope)
    else:
        await api.engine.resume(scope)
    api.record(request, who, f"tenant.{action}", scope)
    return ControlOut(action=action, scope=scope)


@router.get("/api/whoami", response_model=WhoAmIOut, summary="The calling key", tags=["keys"])
async def whoami(who: Viewer) -> WhoAmIOut:
    return WhoAmIOut(key_id=who.key_id, tenant=who.tenant, role=who.role.label)  # type: ignore[arg-type]


@router.get(EVENTS_PATH, summary="Server-sent events: state changes of the caller's work",
            tags=["events"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(who: Viewer, api: ApiDep, request: Request,
                 workflow_id: Annotated[int | None, Query(ge=1)] = None,
                 last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    if workflow_id is not None:
        await api.workflow(workflow_id, who)
    if api.streams.get(who.tenant, 0) >= api.settings.max_streams_per_tenant:
        raise QuotaExceeded(f"tenant {who.tenant!r} has "
                            f"{api.settings.max_streams_per_tenant} event streams open", 5)
    last = int(last_event_id) if last_event_id and last_event_id.isdigit() else None

    async def frames() -> Any:
        api.streams[who.tenant] = api.streams.get(who.tenant, 0) + 1
        try:
            async for frame in api.hub.stream(who, last_id=last, workflow_id=workflow_id):
                yield frame
        finally:
            api.streams[who.tenant] -= 1

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no"})
