"""The ASGI application: authentication, roles, tenants and quotas around the engine.

``Api`` holds what every route needs (the engine, the key ring, the audit log, the
quotas, the event hub); ``create_app`` builds the FastAPI app over it. Routes live in
``routes_work`` (workflows, tasks, queue, templates, events: tenant data) and
``routes_admin`` (emergency controls, governor, system views, keys, audit).

Rules every route follows (see ../shared/design/RELIABILITY.md, security checklist):
- the caller is authenticated by an API key; only /healthz and /readyz are open;
- the tenant comes from the key, never from the request; a record of another
  tenant answers exactly as a record that does not exist (404);
- the role decides what may be done: viewer < operator < admin;
- installation-wide views (resources, telemetry, alerts, bottlenecks, capacity,
  reports, /metrics) are admin only: they aggregate every tenant's work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zerogate.api.audit import AuditLog
from zerogate.api.errors import ApiError, install
from zerogate.api.events import EventHub
from zerogate.api.keys import KEY_FORMAT, KeyRing, Principal, Role
from zerogate.api.middleware import Guard
from zerogate.api.quotas import QueueQuota, Quotas, RateLimiter
from zerogate.domain.records import TaskRecord, WorkflowRecord
from zerogate.errors import InvalidInput, NotFound
from zerogate.runtime.engine import Engine

EVENTS_PATH = "/api/events"
R = TypeVar("R", WorkflowRecord, TaskRecord)


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    """Limits of the HTTP API; sizes in bytes, durations in seconds."""

    body_limit: int = 16 * 2**20
    max_bulk_workflows: int = 10_000
    max_bulk_tasks: int = 100_000
    max_page: int = 500
    max_in_flight: int = 64
    max_streams_per_tenant: int = 8
    quotas: Quotas = field(default_factory=Quotas)
    allowed_origins: tuple[str, ...] = ()
    key_cache_s: float = 2.0


class Api:
    """The state behind the routes (one per server)."""

    def __init__(self, engine: Engine, settings: ApiSettings | None = None, *,
                 hub: EventHub | None = None) -> None:
        self.engine = engine
        self.settings = settings or ApiSettings()
        store = engine.store
        self.keys = KeyRing(store, ttl_s=self.settings.key_cache_s)
        self.audit = AuditLog(store, engine.clock.now)
        self.rate = RateLimiter(self.settings.quotas)
        self.queue_quota = QueueQuota(self.settings.quotas, store.open_tasks_by_tenant)
        self.hub = hub or EventHub(self._read_tenant)  # the engine's event sink
        self.streams: dict[str, int] = {}
        self.guard: Guard | None = None
        self.ready = False  # the server sets it once the engine runs, clears it on stop

    async def _read_tenant(self, workflow_id: int) -> str:
        return (await self.engine.store.get_workflow(workflow_id)).tenant

    async def authorize(self, request: Request, token: str | None, role: Role) -> Principal:
        source = request.client.host if request.client else None
        rid = request.scope.get("state", {}).get("request_id")
        who = await self.keys.authenticate(token, self.engine.clock.now()) if token else None
        if who is None:
            match = KEY_FORMAT.match(token or "")
            self.audit.record("auth.failed", "denied", source=source, request_id=rid,
                              target=request.url.path,
                              key_id=match.group(1) if match else None,
                              reason="no key" if not token else "key refused")
            raise ApiError(401, "unauthorized", "a valid API key is required",
                           headers={"WWW-Authenticate": "Bearer"})
        if who.role < role:
            self.audit.record("authz.denied", "denied", actor=who.key_id, tenant=who.tenant,
                              source=source, request_id=rid, target=request.url.path,
                              needed=role.label, role=who.role.label)
            raise ApiError(403, "forbidden", f"this needs the {role.label} role; "
                           f"the key has the {who.role.label} role")
        self.rate.take(who.tenant)
        return who

    def record(self, request: Request, who: Principal, action: str, target: str | None = None,
               outcome: str = "ok", **detail: Any) -> None:
        """Audit a privileged or state-changing action."""
        self.audit.record(action, outcome, actor=who.key_id, tenant=who.tenant, target=target,
                          source=request.client.host if request.client else None,
                          request_id=request.scope.get("state", {}).get("request_id"),
                          **detail)

    async def workflow(self, workflow_id: int, who: Principal) -> WorkflowRecord:
        """The caller's workflow; another tenant's answers as if it did not exist."""
        return await _owned(self.engine.store.get_workflow, workflow_id, who, "workflow")

    async def task(self, task_id: int, who: Principal) -> TaskRecord:
        """The caller's task; another tenant's answers as if it did not exist."""
        return await _owned(self.engine.store.get_task, task_id, who, "task")


async def _owned(read: Callable[[int], Awaitable[R]], record_id: int, who: Principal,
                 what: str) -> R:
    try:
        record = await read(record_id)
    except NotFound:
        record = None
    if record is None or record.tenant != who.tenant:
        raise NotFound(f"no {what} with id {record_id}")
    return record


_bearer = HTTPBearer(auto_error=False, description="an API key: Authorization: Bearer zg_...")


def _caller(role: Role) -> Any:
    async def dependency(request: Request, creds: Annotated[
            HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        api: Api = request.app.state.api
        who = await api.authorize(request, creds.credentials if creds else None, role)
        request.scope.setdefault("state", {})["principal"] = who
        return who
    return Depends(dependency)


Viewer = Annotated[Principal, _caller(Role.VIEWER)]
Operator = Annotated[Principal, _caller(Role.OPERATOR)]
Admin = Annotated[Principal, _caller(Role.ADMIN)]


async def known_query_only(request: Request) -> None:
    """Refuse query parameters a route does not declare, as request bodies refuse
    unknown fields: ``?limt=10`` is a typo to report, not an option to ignore."""
    if not request.query_params:
        return
    names = request.app.state.query_names.get(id(request.scope.get("route")))
    if names is None:
        return
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        raise InvalidInput(f"unknown query parameter {', '.join(map(repr, unknown))}"
                           + (f" (known: {', '.join(sorted(names))})" if names else ""))


def _query_names(dependant: Any) -> Iterator[str]:
    yield from (p.alias for p in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


async def api_of(request: Request) -> Api:  # async: FastAPI runs a sync one in a thread
    api: Api = request.app.state.api
    return api


ApiDep = Annotated[Api, Depends(api_of)]


def create_app(api: Api) -> Any:
    """The ASGI app: FastAPI routes wrapped in the guard middleware."""
    from zerogate.api import routes_admin, routes_work

    app = FastAPI(title="zerogate", version="1", docs_url=None, redoc_url=None,
                  description="Submit workflow templates, watch them run, and control the "
                  "engine. Every path but /healthz and /readyz needs an API key.")
    app.state.api = api
    install(app)
    app.include_router(routes_work.router)
    app.include_router(routes_admin.router)
    # By id: routes are not hashable, and the app holds them, so their ids stay theirs.
    app.state.query_names = {id(route): frozenset(_query_names(route.dependant))
                             for route in app.routes if hasattr(route, "dependant")}
    s = api.settings
    guard = Guard(app, body_limit=s.body_limit, max_in_flight=s.max_in_flight,
                  streams=(EVENTS_PATH,), allowed_origins=s.allowed_origins)
    api.guard = guard
    return guard


def scoped_key(who: Principal, key: str | None, index: int | None = None) -> str | None:
    """An Idempotency-Key in the caller's tenant's namespace (tenants never collide)."""
    if key is None:
        return None
    return f"{who.tenant}/{key}" if index is None else f"{who.tenant}/{key}#{index}"

