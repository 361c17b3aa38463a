"""Server settings from a TOML file (``zerogate serve --config FILE``).

::

    [api]
    body_limit = 16777216          # bytes; larger bodies get 413 before parsing
    max_bulk_workflows = 10000
    max_in_flight = 64             # beyond it, 503 with Retry-After
    allowed_origins = ["https://ops.example.org"]

    [quotas.default]               # every tenant without its own table
    rate_per_s = 200
    burst = 400
    max_queued = 1000000
    max_running = 32

    [quotas.tenants.acme]
    rate_per_s = 20

An unknown table or key is an error that names it: a typo must not silently leave a
limit at its default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zerogate.api.app import ApiSettings
from zerogate.api.quotas import Quota, Quotas
from zerogate.errors import InvalidConfig


def load_settings(path: Path | None) -> ApiSettings:
    if path is None:
        return ApiSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidConfig(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig(f"{path} is not valid TOML: {exc}") from None
    return settings_from(data, str(path))


def settings_from(data: Mapping[str, Any], where: str = "config") -> ApiSettings:
    _only(data, {"api", "quotas"}, where)
    api = dict(data.get("api", {}))
    known = {f.name for f in dataclasses.fields(ApiSettings)} - {"quotas"}
    _only(api, known, f"{where} [api]")
    if "allowed_origins" in api:
        api["allowed_origins"] = tuple(api["allowed_origins"])
    quotas = data.get("quotas", {})
    _only(quotas, {"default", "tenants"}, f"{where} [quotas]")
    default = _quota(quotas.get("default", {}), f"{where} [quotas.default]")
    tenants = {name: _quota(q, f"{where} [quotas.tenants.{name}]")
               for name, q in quotas.get("tenants", {}).items()}
    try:
        return ApiSettings(**api, quotas=Quotas(default=default, tenants=tenants))
    except TypeError as exc:
        raise InvalidConfig(f"{where} [api]: {exc}") from None


def _quota(data: Mapping[str, Any], where: str) -> Quota:
    _only(data, {f.name for f in dataclasses.fields(Quota)}, where)
    try:
        return Quota(**data)
    except InvalidConfig as exc:
        raise InvalidConfig(f"{where}: {exc}") from None


def _only(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise InvalidConfig(f"{where} must be a table")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidConfig(f"{where}: unknown setting {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(allowed))})")
