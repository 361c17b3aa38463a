"""The Python client against a real server: every call goes over HTTP to uvicorn and
the engine on SQLite. The async client runs on the test's loop; the sync client runs
in a thread (``asyncio.to_thread``) so that the loop stays free to serve it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import time
import zipfile
from typing import Any

import httpx
import pytest

from tests.api.conftest import Served, ServeFactory
from zerogate import AsyncClient, Client, GovernorConfig
from zerogate.api.app import ApiSettings
from zerogate.api.quotas import Quota, Quotas
from zerogate.client import (
    ApiError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFoundError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from zerogate.errors import InvalidInput, ZerogateError

WELL_FORMED_BUT_UNKNOWN = "zg_0123456789ab_" + "B" * 43


def aclient(served: Served, tenant: str = "acme", role: str = "operator",
            **kw: Any) -> AsyncClient:
    return AsyncClient(served.url, served.keys[(tenant, role)], **kw)


def sclient(served: Served, tenant: str = "acme", role: str = "operator",
            **kw: Any) -> Client:
    return Client(served.url, served.keys[(tenant, role)], **kw)


async def workflow_count(served: Served, tenant: str = "acme") -> int:
    rows = await served.api.engine.store.list_workflows(tenant=tenant, limit=500)
    return len(rows)


class Recording(httpx.AsyncBaseTransport):
    """A real HTTP transport that notes each exchange (method, path, Idempotency-Key,
    status); with ``lose_first`` it drops the first answer to a submission after the
    server has handled it, as a network that fails at the worst moment would."""

    def __init__(self, *, lose_first: bool = False) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lose_first = lose_first
        self.sent: list[tuple[str, str, str | None, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.sent.append((request.method, request.url.path,
                          request.headers.get("idempotency-key"), response.status_code))
        if self.lose_first and request.url.path.startswith("/api/workflows/submit"):
            self.lose_first = False
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection lost before the answer arrived",
                                  request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# ---------------------------------------------------------------- work


async def test_submit_wait_and_status_async(served: Served) -> None:
    async with aclient(served) as c:
        assert (await c.whoami()) == {"key_id": c.key_id, "tenant": "acme", "role": "operator"}
        run = await c.submit("greet", {"name": "Ada"}, priority="high")
        assert run["created"] is True and set(run["tasks"]) == {"hello"}
        done = await c.wait(run["id"], timeout_s=20, poll_s=0.05)
        assert done["state"] == "completed" and done["priority"] == "high"
        status = await c.status(run["id"])
        assert status["progress"] == 1.0 and status["counts"] == {"completed": 1}
        (task,) = status["tasks"]
        assert task["result"] == "hello Ada"
        assert (await c.task(task["id"]))["state"] == "completed"
        page = await c.tasks(workflow_id=run["id"])
        assert [t["id"] for t in page["items"]] == [task["id"]]
        assert (await c.system_status())["paused"] is False
        assert (await c.template("greet"))["params_schema"]["required"] == ["name"]
        assert "greet" in {t["name"] for t in await c.templates()}
        assert (await c.queue())["tenant"] == "acme"
        assert (await c.metrics())["quota"]["open_tasks"] == 0


async def test_submit_wait_and_status_sync(served: Served) -> None:
    def flow() -> tuple[dict[str, Any], dict[str, Any]]:
        with sclient(served) as c:
            run = c.submit("greet", {"name": "Bob"})
            return c.wait(run["id"], timeout_s=20, poll_s=0.05), c.status(run["id"])

    done, status = await asyncio.to_thread(flow)
    assert done["state"] == "completed"
    assert status["tasks"][0]["result"] == "hello Bob"


async def test_wait_times_out_then_cancel_and_retry(served: Served) -> None:
    async with aclient(served) as c:
        run = await c.submit("sleep", {"seconds": 30})
        with pytest.raises(TimeoutError, match=f"workflow {run['id']} is still"):
            await c.wait(run["id"], timeout_s=0.3, poll_s=0.05)
        await c.cancel(run["id"])
        assert (await c.wait(run["id"], timeout_s=20, poll_s=0.05))["state"] == "cancelled"
        assert (await c.retry(run["id"]))["state"] in ("pending", "running")
        task_id = next(iter(run["tasks"].values()))
        assert (await c.cancel_task(task_id))["id"] == task_id
        assert (await c.wait(run["id"], timeout_s=20, poll_s=0.05))["state"] == "cancelled"


async def test_bulk_is_one_call_and_repeats_with_its_key(served: Served) -> None:
    items = [{"template": "fan", "params": {"n": 2}},
             {"template": "greet", "params": {"name": "x"}, "priority": "low"},
             {"template": "fan", "params": None, "priority": None}]
    async with aclient(served) as c:
        first = await c.submit_bulk(items, idempotency_key="batch-1")
        assert first["tasks"] == 4 and [w["created"] for w in first["workflows"]] == [True] * 3
        again = await c.submit_bulk(iter(items), idempotency_key="batch-1")
        assert [w["id"] for w in again["workflows"]] == [w["id"] for w in first["workflows"]]
        assert not any(w["created"] for w in again["workflows"])
        with pytest.raises(InvalidInput, match="bulk item 1"):
            await c.submit_bulk([items[0], {"params": {}}])
        with pytest.raises(InvalidRequest) as bad:
            await c.submit_bulk([{"template": "fan", "parms": {}}])
        assert bad.value.details and bad.value.details[0]["loc"][-1] == "parms"
    assert await workflow_count(served) == 3


async def test_iterators_follow_pages(served: Served) -> None:
    async with aclient(served) as c:
        out = await c.submit_bulk([{"template": "greet", "params": {"name": str(i)}}
                                   for i in range(7)])
        await c.submit("fan", {"n": 1})
        ids = sorted((w["id"] for w in out["workflows"]), reverse=True)
        seen = [w["id"] async for w in c.iter_workflows(template="greet", page_size=3)]
        assert seen == ids
        first_page = await c.workflows(template="greet", limit=3)
        assert first_page["next_before"] == ids[2]
        rest = [w["id"] async for w in c.iter_workflows(template="greet",
                                                        before=first_page["next_before"])]
        assert rest == ids[3:]

    def sync_list() -> list[int]:
        with sclient(served) as s:
            return [w["id"] for w in s.iter_workflows(page_size=2)]

    assert len(await asyncio.to_thread(sync_list)) == 8


# ---------------------------------------------------------------- errors


async def test_each_error_status_has_its_class(served: Served,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEROGATE_API_KEY", raising=False)
    async with AsyncClient(served.url) as anonymous:
        assert not anonymous.has_key
        with pytest.raises(Unauthorized) as e401:
            await anonymous.whoami()
    assert e401.value.status == 401 and e401.value.code == "unauthorized"
    async with AsyncClient(served.url, WELL_FORMED_BUT_UNKNOWN) as stranger:
        with pytest.raises(Unauthorized):
            await stranger.whoami()
    async with aclient(served, role="viewer") as viewer:
        with pytest.raises(Forbidden) as e403:
            await viewer.submit("greet", {"name": "x"})
    assert e403.value.status == 403 and "operator" in e403.value.message
    async with aclient(served) as c:
        with pytest.raises(NotFoundError) as e404:
            await c.workflow(999_999)
        assert e404.value.code == "not_found" and e404.value.request_id
        with pytest.raises(NotFoundError):
            await c.template("no/such")  # quoted: one path segment, not a path
        run = await c.submit("greet", {"name": "x"}, idempotency_key="once")
        await c.wait(run["id"], timeout_s=20, poll_s=0.05)
        with pytest.raises(Conflict) as e409:
            await c.retry(run["id"])
        assert e409.value.status == 409
        with pytest.raises(Conflict, match="idempotency"):
            await c.submit("fan", {}, idempotency_key="once")
        with pytest.raises(InvalidRequest) as e422:
            await c.submit("greet", {"name": "", "extra": 1})
        assert e422.value.status == 422
        assert sorted(d["loc"][-1] for d in e422.value.details or []) == ["extra", "name"]
        with pytest.raises(InvalidRequest, match="no template is registered as 'nope'"):
            await c.submit("nope")
    async with aclient(served, role="admin") as admin:
        with pytest.raises(Conflict, match="governor is off"):
            await admin.features()
    for cls in (Unauthorized, Forbidden, NotFoundError, Conflict, InvalidRequest,
                RateLimited, Unavailable):
        assert issubclass(cls, ApiError) and issubclass(cls, ZerogateError)


async def test_413_429_and_an_unreachable_server(serve: ServeFactory) -> None:
    quotas = Quotas(tenants={"acme": Quota(rate_per_s=1, burst=2)})
    s = await serve(settings=ApiSettings(body_limit=2000, quotas=quotas))
    async with aclient(s, tenant="globex") as g:
        with pytest.raises(InvalidRequest) as e413:
            await g.submit("greet", {"name": "x" * 3000})
        assert e413.value.status == 413 and e413.value.code == "body_too_large"
    async with aclient(s, retries=0) as c:
        await c.whoami()
        await c.whoami()
        with pytest.raises(RateLimited) as e429:
            await c.whoami()
    assert e429.value.status == 429 and e429.value.retry_after_s is not None
    assert e429.value.retry_after_s >= 1

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    started = time.monotonic()
    async with AsyncClient(f"http://127.0.0.1:{port}", "k", retries=2) as dead:
        with pytest.raises(Unavailable) as gone:
            await dead.whoami()
    assert gone.value.status is None and gone.value.code == "unreachable"
    assert f"127.0.0.1:{port}" in gone.value.message
    assert time.monotonic() - started < 5  # two short backoffs, no Retry-After to wait


async def test_a_rate_limited_submit_is_retried_after_retry_after_once(
        serve: ServeFactory) -> None:
    quotas = Quotas(tenants={"acme": Quota(rate_per_s=2, burst=2)})
    s = await serve(settings=ApiSettings(quotas=quotas))
    recording = Recording()
    async with aclient(s, transport=recording) as c:
        await c.whoami()
        await c.whoami()
        started = time.monotonic()
        run = await c.submit("greet", {"name": "late"})
        waited = time.monotonic() - started
    submits = [x for x in recording.sent if x[1] == "/api/workflows/submit"]
    assert [x[3] for x in submits] == [429, 201]
    assert submits[0][2] == submits[1][2] and submits[0][2]  # one key for both attempts
    assert waited >= 0.9  # Retry-After: 1 was honoured
    assert run["created"] is True and await workflow_count(s) == 1


async def test_a_submit_whose_answer_was_lost_does_not_run_twice(served: Served) -> None:
    lossy = Recording(lose_first=True)
    async with aclient(served, transport=lossy) as c:
        run = await c.submit("greet", {"name": "once"})
    async with aclient(served, transport=Recording(lose_first=True)) as c:
        bulk = await c.submit_bulk([{"template": "greet", "params": {"name": "b"}}])
    assert [x[3] for x in lossy.sent] == [201, 200]  # the server saw it twice ...
    assert run["created"] is False  # ... and the retry got the first run back
    assert bulk["workflows"][0]["created"] is False
    assert await workflow_count(served) == 2


async def test_changes_other_than_submissions_are_never_retried(serve: ServeFactory) -> None:
    quotas = Quotas(tenants={"acme": Quota(rate_per_s=1, burst=1)})
    s = await serve(settings=ApiSettings(quotas=quotas))
    recording = Recording()
    async with aclient(s, transport=recording, retries=3) as c:
        await c.whoami()
        started = time.monotonic()
        with pytest.raises(RateLimited):
            await c.pause_tenant()
        assert time.monotonic() - started < 0.5
    assert [x[1] for x in recording.sent] == ["/api/whoami", "/api/tenant/pause"]


async def test_the_sync_client_retries_a_rate_limited_read(serve: ServeFactory) -> None:
    quotas = Quotas(tenants={"acme": Quota(rate_per_s=2, burst=1)})
    s = await serve(settings=ApiSettings(quotas=quotas))

    def two_reads() -> float:
        with sclient(s, role="viewer") as c:
            c.whoami()
            started = time.monotonic()
            assert c.whoami()["tenant"] == "acme"
            return time.monotonic() - started

    assert await asyncio.to_thread(two_reads) >= 0.9


# ---------------------------------------------------------------- events


async def test_events_follow_the_tenants_work_and_resume(served: Served) -> None:
    live: list[dict[str, Any]] = []
    wid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async with aclient(served) as c:
        async def listen() -> None:
            async with contextlib.aclosing(c.events()) as events:
                async for event in events:
                    live.append(event)
                    if (wid.done() and event["workflow_id"] == wid.result()
                            and event["kind"] == "workflow" and event["state"] == "completed"):
                        return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.3)  # subscribed before the work starts
        run = await c.submit("fan", {"n": 3})
        wid.set_result(run["id"])
        await asyncio.wait_for(listener, 20)
        mine = [(e["kind"], e["task_id"], e["state"]) for e in live
                if e["workflow_id"] == run["id"]]
        assert ("workflow", None, "completed") in mine
        assert {t for k, t, _ in mine if k == "claimed"} == set(run["tasks"].values())
        assert all(e["event_id"] for e in live)

        replayed: list[tuple[str, int | None, str]] = []
        async with contextlib.aclosing(c.events(workflow_id=run["id"],
                                                last_event_id="0")) as events:
            async for e in events:
                replayed.append((e["kind"], e["task_id"], e["state"]))
                if e["kind"] == "workflow" and e["state"] == "completed":
                    break
        assert replayed == mine

    def sync_replay() -> list[tuple[str, int | None, str]]:
        out = []
        with sclient(served) as s:
            events = s.events(workflow_id=run["id"], last_event_id="0")
            for e in events:
                out.append((e["kind"], e["task_id"], e["state"]))
                if e["kind"] == "workflow" and e["state"] == "completed":
                    events.close()
                    break
        return out

    assert await asyncio.to_thread(sync_replay) == mine


# ---------------------------------------------------------------- admin


async def test_report_in_each_format(served: Served) -> None:
    async with aclient(served) as op:
        await op.wait((await op.submit("greet", {"name": "r"}))["id"], timeout_s=20,
                      poll_s=0.05)
    async with aclient(served, role="admin") as c:
        doc = json.loads(await c.report("json", hours=1))
        assert doc["schema"] == "zerogate.report/1"
        html = await c.report("html", hours=1)
        assert html.lstrip().lower().startswith(b"<!doctype html") and b"<script" not in html
        with zipfile.ZipFile(io.BytesIO(await c.report("csv"))) as z:
            names = z.namelist()
            assert "task_types.csv" in names and all(n.endswith(".csv") for n in names)
        with pytest.raises(InvalidRequest):
            await c.report("pdf")
    async with aclient(served, role="operator") as op:
        with pytest.raises(Forbidden):
            await op.report()


async def test_keys_create_list_revoke_and_audit(served: Served) -> None:
    async with aclient(served, role="admin") as admin:
        made = await admin.create_key("globex", "viewer", "bot", expires_in_s=3600)
        assert made["key"].startswith(made["key_id"] + "_") and made["expires_at"]
        listed = await admin.keys()
        assert made["key_id"] in {k["key_id"] for k in listed}
        assert all("key" not in k for k in listed)
        async with AsyncClient(served.url, made["key"]) as bot:
            assert await bot.whoami() == {"key_id": made["key_id"], "tenant": "globex",
                                          "role": "viewer"}
            revoked = await admin.revoke_key(made["key_id"])
            assert revoked["revoked_at"] is not None
            with pytest.raises(Unauthorized):
                await bot.whoami()
        trail = await admin.audit(action="keys.revoke")
        assert [e["target"] for e in trail["items"]] == [made["key_id"]]


async def test_controls_and_system_views(serve: ServeFactory) -> None:
    s = await serve(governor=GovernorConfig())
    async with aclient(s, role="admin") as c:
        assert (await c.pause())["scope"] == "global"
        assert (await c.system_status())["paused"] is True
        assert (await c.resume())["action"] == "resume"
        assert (await c.pause_tenant())["scope"] == "tenant:acme"
        assert (await c.resume_tenant())["action"] == "resume"
        profiles = await c.profiles()
        assert profiles["active"] == "balanced"
        assert (await c.switch_profile("performance"))["active"] == "performance"
        assert isinstance(await c.features(), list)  # the test registry declares none
        with pytest.raises(NotFoundError, match="no feature named 'search'"):
            await c.set_feature("search", "off", for_s=60)
        with pytest.raises(InvalidRequest):
            await c.set_feature("search", "sideways")
        assert isinstance(await c.alerts(), list)
        assert set(await c.bottlenecks()) == {"active", "resolved"}
        assert isinstance(await c.recommendations(), list)
        assert isinstance(await c.capacity(), dict)
        assert "schema" in await c.dashboard()
        run = await c.submit("sleep", {"seconds": 30})
        assert (await c.stop())["action"] == "stop"
        assert (await c.wait(run["id"], timeout_s=20, poll_s=0.05))["state"] == "cancelled"


# ---------------------------------------------------------------- secrets


async def test_the_key_is_never_in_a_repr_or_an_error(served: Served) -> None:
    key = served.keys[("acme", "admin")]
    secret = key.split("_", 2)[2]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    errors: list[BaseException] = []
    async with AsyncClient(served.url, key) as c, \
            AsyncClient(f"http://127.0.0.1:{port}", key, retries=0) as dead:
        for call in (c.workflow(424242), dead.whoami()):
            try:
                await call
            except ApiError as exc:
                errors.append(exc)
        texts = [repr(c), str(c), repr(dead)]
    async with AsyncClient(served.url, key[:-3] + "xyz") as wrong:
        try:
            await wrong.whoami()
        except Unauthorized as exc:
            errors.append(exc)
    with Client(served.url, key) as sync:
        texts += [repr(sync), str(sync)]
    assert len(errors) == 3
    for exc in errors:
        texts += [str(exc), repr(exc), str(vars(exc)), str(exc.__cause__)]
    assert c.key_id and c.key_id in texts[0]  # the public id helps; the secret never shows
    for text in texts:
        assert secret not in text and secret[:-3] not in text, text
