"""Workflow templates: the only workflows a remote caller may submit.

A template is a name, a pydantic model of its parameters, and a function that builds
the workflow from validated parameters. The HTTP API accepts ``{"template": name,
"params": {...}}`` and nothing else, so a request can never name a handler, a module
or a dotted path: it picks one of the templates the server's owner registered, and
its parameters are checked against that template's schema before anything is stored.

>>> class Greet(pydantic.BaseModel):
...     model_config = pydantic.ConfigDict(extra="forbid")
...     name: str
>>> @registry.template(params=Greet, description="Say hello")
... def greet(p: Greet) -> Workflow:
...     wf = Workflow("greet")
...     wf.add(hello, {"name": p.name})
...     return wf
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pydantic

from zerogate.domain.model import Priority
from zerogate.domain.workflow import WorkflowSpec
from zerogate.errors import InvalidConfig, InvalidInput, UnknownTemplate

if TYPE_CHECKING:
    from zerogate.registry import Workflow

P = TypeVar("P", bound=pydantic.BaseModel)
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class TemplateParamsInvalid(InvalidInput):
    """Parameters that do not match a template's schema; ``errors`` lists each problem
    as ``{"loc": [...], "msg": ..., "type": ...}`` without echoing the input."""

    def __init__(self, template: str, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        at = ".".join(str(p) for p in first["loc"]) or "params"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"template {template!r}: {at}: {first['msg']}{more}")
        self.template = template
        self.errors = errors


@dataclass(frozen=True)
class TemplateContext:
    """What a template's build function may know besides its parameters: who submits.

    The tenant comes from the caller's credentials, never from the parameters, so a
    template that reads a tenant's files (``zerogate.workflows.inputs``) uses this one.
    """

    tenant: str


@dataclass(frozen=True, kw_only=True)
class Template(Generic[P]):
    """A registered template. ``build`` turns validated parameters into a workflow; a
    build function with a second parameter named ``ctx`` also gets a TemplateContext."""

    name: str
    params: type[P]
    build: Callable[..., Workflow]
    description: str = ""
    output: type[pydantic.BaseModel] | None = None
    feature: str | None = None  # the feature its tasks belong to, if any

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the parameters (what the API publishes)."""
        return self.params.model_json_schema()

    def output_schema(self) -> dict[str, Any] | None:
        return None if self.output is None else self.output.model_json_schema()

    def validate(self, params: Mapping[str, Any]) -> P:
        """Parse ``params`` or raise TemplateParamsInvalid naming every problem."""
        try:
            return self.params.model_validate(params)
        except pydantic.ValidationError as exc:
            raise TemplateParamsInvalid(self.name, [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)]) from None

    def instantiate(self, params: Mapping[str, Any], *, tenant: str,
                    priority: Priority | str | None = None) -> WorkflowSpec:
        """Validate, build, and stamp the tenant (which never comes from the params)."""
        valid = self.validate(params)
        wants_ctx = "ctx" in inspect.signature(self.build).parameters
        built = (self.build(valid, TemplateContext(tenant)) if wants_ctx
                 else self.build(valid))
        spec = built.spec()
        return dataclasses.replace(
            spec, name=self.name, tenant=tenant,
            priority=spec.priority if priority is None else Priority.parse(priority))


class Templates:
    """The templates of one registry, by name."""

    def __init__(self) -> None:
        self._by_name: dict[str, Template[Any]] = {}

    def add(self, template: Template[Any]) -> None:
        if not NAME.match(template.name):
            raise InvalidConfig(f"template name {template.name!r} must be 1-64 lowercase "
                                "letters, digits or underscores, starting with a letter")
        if template.name in self._by_name:
            raise InvalidConfig(f"a template named {template.name!r} is registered already")
        if template.params.model_config.get("extra") != "forbid":
            raise InvalidConfig(
                f"template {template.name!r}: its params model must forbid unknown fields "
                "(model_config = ConfigDict(extra='forbid')) so that typos are errors")
        self._by_name[template.name] = template

    def get(self, name: str) -> Template[Any]:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownTemplate(
                f"no template is registered as {name!r} (registered: {known})") from None

    def all(self) -> list[Template[Any]]:
        return [self._by_name[n] for n in sorted(self._by_name)]
