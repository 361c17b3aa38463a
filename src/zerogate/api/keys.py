"""API keys: how they look, how they are stored, and how a request proves one.

A key reads ``zg_<id>_<secret>``: ``zg_<id>`` is a visible prefix that names the key
in lists, logs and the audit trail; the secret is 32 random bytes (256 bits) in
URL-safe base64. The store keeps only the SHA-256 of the whole key: a stolen
database yields no usable key, and because keys carry far more than 128 random bits
a fast hash is safe (no password stretching is needed against guessing).

Verification compares digests with ``hmac.compare_digest``, and an unknown id is
compared against a fixed dummy digest, so unknown, revoked and expired keys cost the
same time and get the same answer.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from zerogate.domain.records import ApiKeyRecord
from zerogate.errors import InvalidConfig
from zerogate.ports import Store

PREFIX = "zg_"
KEY_FORMAT = re.compile(r"^(zg_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_DUMMY = hashlib.sha256(b"zerogate: no such key").hexdigest()


class Role(enum.IntEnum):
    """What a key may do; each role may do everything the ones below it may."""

    VIEWER = 1  # read its tenant's workflows, tasks, queue and metrics
    OPERATOR = 2  # and submit, cancel, retry, pause its own tenant
    ADMIN = 3  # and global emergency controls, profiles, features, keys, system views

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        if isinstance(value, Role):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            raise InvalidConfig(
                f"unknown role {value!r}: use viewer, operator or admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, its tenant and its role (never the secret)."""

    key_id: str
    tenant: str
    role: Role


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(*, tenant: str, role: Role | str, name: str, now: float,
            expires_at: float | None = None) -> tuple[str, ApiKeyRecord]:
    """A fresh key (shown once) and the record to store (which cannot rebuild it)."""
    check_tenant(tenant)
    if expires_at is not None and expires_at <= now:
        raise InvalidConfig("a key's expiry must be in the future")
    key_id = PREFIX + secrets.token_hex(6)
    key = f"{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(key_id=key_id, secret_hash=digest(key), tenant=tenant,
                          role=Role.parse(role).label, name=name[:200], created_at=now,
                          expires_at=expires_at)
    return key, record


TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_tenant(tenant: str) -> None:
    if not TENANT.match(tenant):
        raise InvalidConfig(f"tenant {tenant!r} must be 1-64 letters, digits, '.', '_' or "
                            "'-', starting with a letter or digit")


def verify(record: ApiKeyRecord | None, presented: str, now: float) -> bool:
    """True only for a known, unrevoked, unexpired key whose digest matches.

    The digest comparison always runs, against a dummy for an unknown key, so the
    answer takes the same time whichever check fails.
    """
    expected = record.secret_hash if record is not None else _DUMMY
    matches = hmac.compare_digest(expected, digest(presented))
    return (matches and record is not None and record.revoked_at is None
            and (record.expires_at is None or record.expires_at > now))


class KeyRing:
    """Authenticates presented keys against the store, with a short cache.

    A cached record is trusted for ``ttl_s`` (default 2 s): a key revoked through
    this process stops working at once; one revoked through another process (the
    CLI on the store file, another instance) within ``ttl_s``. The cache holds
    digests, never keys; unknown ids are not cached, so it cannot be flooded.
    """

    def __init__(self, store: Store, *, ttl_s: float = 2.0, max_entries: int = 10_000) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}

    async def authenticate(self, presented: str, now: float) -> Principal | None:
        match = KEY_FORMAT.match(presented)
        record = await self._record(match.group(1)) if match else None
        if not verify(record, presented, now) or record is None:
            return None
        return Principal(record.key_id, record.tenant, Role.parse(record.role))

    async def _record(self, key_id: str) -> ApiKeyRecord | None:
        mono = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and mono - hit[0] < self.ttl_s:
            return hit[1]
        record = await self.store.find_key(key_id)
        if record is None:
            self._cache.pop(key_id, None)
            return None
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[key_id] = (mono, record)
        return record

    def forget(self, key_id: str) -> None:
        """Drop a cached record (after a revoke through this process)."""
        self._cache.pop(key_id, None)
