"""The API's pure parts: key format and verification, quotas on a fake clock, the
settings file, template registration, the loopback rule."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pydantic
import pytest

from zerogate import InvalidConfig, InvalidInput, Registry, Workflow
from zerogate.adapters.memory_store import MemoryStore
from zerogate.api.keys import KEY_FORMAT, KeyRing, Role, digest, new_key, verify
from zerogate.api.quotas import QueueQuota, Quota, QuotaExceeded, Quotas, RateLimiter
from zerogate.api.server import bootstrap_key, is_loopback
from zerogate.config import load_settings, settings_from
from zerogate.domain.model import Limits
from zerogate.errors import UnknownTemplate
from zerogate.templates import TemplateParamsInvalid

NOW = 1_700_000_000.0


def test_a_key_has_a_visible_id_256_random_bits_and_only_its_hash_is_kept() -> None:
    key, record = new_key(tenant="acme", role="operator", name="ci", now=NOW)
    match = KEY_FORMAT.match(key)
    assert match and match.group(1) == record.key_id and record.key_id.startswith("zg_")
    assert len(match.group(2)) == 43  # 32 bytes in URL-safe base64
    assert record.secret_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(record)
    other, _ = new_key(tenant="acme", role="operator", name="ci", now=NOW)
    assert other != key


def test_verify_refuses_wrong_revoked_and_expired_keys() -> None:
    key, record = new_key(tenant="a", role="admin", name="", now=NOW, expires_at=NOW + 60)
    assert verify(record, key, NOW)
    assert not verify(record, key[:-1] + ("B" if key[-1] != "B" else "C"), NOW)
    assert not verify(record, key, NOW + 60)
    from dataclasses import replace
    assert not verify(replace(record, revoked_at=NOW), key, NOW)
    assert not verify(None, key, NOW)


@pytest.mark.parametrize("tenant", ["", "a b", "x" * 65, "-lead", "a/b"])
def test_tenant_names_are_checked(tenant: str) -> None:
    with pytest.raises(InvalidConfig, match="tenant"):
        new_key(tenant=tenant, role="viewer", name="", now=NOW)


def test_roles_are_ordered_and_parsed() -> None:
    assert Role.VIEWER < Role.OPERATOR < Role.ADMIN
    assert Role.parse("Admin") is Role.ADMIN
    with pytest.raises(InvalidConfig, match="viewer, operator or admin"):
        Role.parse("root")


async def test_key_ring_sees_a_revocation_after_its_cache_time() -> None:
    store = MemoryStore()
    await store.open()
    key, record = new_key(tenant="t", role="viewer", name="", now=NOW)
    await store.save_key(record)
    ring = KeyRing(store, ttl_s=0.0)
    who = await ring.authenticate(key, NOW)
    assert who is not None and (who.tenant, who.role) == ("t", Role.VIEWER)
    await store.revoke_key(record.key_id, NOW)
    assert await ring.authenticate(key, NOW) is None
    assert await ring.authenticate("zg_nope", NOW) is None


def test_rate_limiter_is_a_token_bucket_per_tenant() -> None:
    t = [0.0]
    limiter = RateLimiter(Quotas(default=Quota(rate_per_s=2, burst=2)), clock=lambda: t[0])
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(QuotaExceeded) as refused:
        limiter.take("a")
    assert refused.value.retry_after_s == pytest.approx(0.5)
    limiter.take("b")  # another tenant has its own bucket
    t[0] = 0.5
    limiter.take("a")


async def test_queue_quota_counts_what_it_admitted_between_reads() -> None:
    reads = []

    async def read() -> dict[str, int]:
        reads.append(1)
        return {"a": 3}

    t = [0.0]
    quota = QueueQuota(Quotas(default=Quota(max_queued=10)), read, clock=lambda: t[0])
    await quota.admit("a", 5)
    with pytest.raises(QuotaExceeded, match="8 open tasks"):
        await quota.admit("a", 3)
    await quota.admit("a", 2)
    assert len(reads) == 1
    with pytest.raises(InvalidInput, match="split it"):
        await quota.admit("a", 11)


def test_running_quotas_become_tenant_limits() -> None:
    quotas = Quotas(default=Quota(max_running=4), tenants={"big": Quota(max_running=16)})
    limits = quotas.apply(Limits(max_running=32))
    assert (limits.tenant_limit("big"), limits.tenant_limit("small")) == (16, 4)


def test_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "z.toml"
    path.write_text("[api]\nbody_limit = 1000\nallowed_origins = ['https://x']\n"
                    "[quotas.default]\nrate_per_s = 5\n[quotas.tenants.acme]\nmax_queued = 9\n")
    s = load_settings(path)
    assert s.body_limit == 1000 and s.allowed_origins == ("https://x",)
    assert s.quotas.of("other").rate_per_s == 5 and s.quotas.of("acme").max_queued == 9
    with pytest.raises(InvalidConfig, match="unknown setting body_limt"):
        settings_from({"api": {"body_limt": 1}})
    with pytest.raises(InvalidConfig, match=r"quotas.tenants.x.*burst"):
        settings_from({"quotas": {"tenants": {"x": {"burst": 0}}}})
    path.write_text("[api\n")
    with pytest.raises(InvalidConfig, match="not valid TOML"):
        load_settings(path)


class P(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    n: int = pydantic.Field(ge=1)


def test_templates_validate_params_and_stamp_the_tenant() -> None:
    reg = Registry()

    @reg.task
    async def step(i: int) -> int:
        return i

    @reg.template(params=P)
    def many(p: P) -> Workflow:
        """Several steps."""
        wf = Workflow("whatever", tenant="ignored")
        for i in range(p.n):
            wf.add(step, {"i": i}, id=f"s{i}")
        return wf

    t = reg.templates.get("many")
    assert t.description == "Several steps." and t.schema()["properties"]["n"]["minimum"] == 1
    spec = t.instantiate({"n": 3}, tenant="acme", priority="high")
    assert (spec.name, spec.tenant, len(spec.tasks), int(spec.priority)) == ("many", "acme", 3, 1)
    with pytest.raises(TemplateParamsInvalid) as bad:
        t.instantiate({"n": 0, "x": 1}, tenant="acme")
    assert sorted(e["loc"] for e in bad.value.errors) == [["n"], ["x"]]
    with pytest.raises(UnknownTemplate, match="registered: many"):
        reg.templates.get("few")


def test_a_template_must_forbid_unknown_params_and_have_a_plain_name() -> None:
    class Loose(pydantic.BaseModel):
        n: int = 1

    reg = Registry()
    with pytest.raises(InvalidConfig, match="forbid unknown fields"):
        reg.template(params=Loose, name="loose")(lambda p: Workflow("x"))
    with pytest.raises(InvalidConfig, match="lowercase"):
        reg.template(params=P, name="Bad-Name")(lambda p: Workflow("x"))


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False),
                                            ("192.168.1.4", False), ("example.org", False)])
def test_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


async def test_first_key_only_on_loopback_and_only_once() -> None:
    store = MemoryStore()
    await store.open()
    with pytest.raises(InvalidConfig, match=r"refusing to listen on 0\.0\.0\.0"):
        await bootstrap_key(store, "0.0.0.0", NOW)
    assert await store.list_keys() == []
    key = await bootstrap_key(store, "127.0.0.1", NOW)
    assert key is not None and digest(key) == (await store.list_keys())[0].secret_hash
    assert await bootstrap_key(store, "0.0.0.0", NOW) is None  # keys exist: allowed
    assert await bootstrap_key(store, "127.0.0.1", NOW) is None


async def test_connections_accepted_on_the_server_socket_send_at_once() -> None:
    """Without TCP_NODELAY a response body waits ~40 ms for the client's delayed ACK."""
    import asyncio
    import socket

    from zerogate.api.server import bind_socket
    seen: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=bind_socket("127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    writer.close()
    server.close()
    await server.wait_closed()
    assert seen and seen[0] != 0
