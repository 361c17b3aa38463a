"""Two tiny templates to try the API with (and that tests and benchmarks share):
``greet`` (one task) and ``fan`` (``n`` independent no-op tasks in one workflow)."""

from __future__ import annotations

import pydantic

from zerogate.registry import Registry, TaskDef, Workflow


class GreetParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(min_length=1, max_length=100)


class FanParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    n: int = pydantic.Field(1, ge=1, le=10_000)


async def hello(name: str) -> str:
    return f"hello {name}"


async def noop(i: int) -> int:
    return i


def one_task(name: str, task: TaskDef, args: dict[str, object]) -> Workflow:
    """A workflow of a single run of ``task``."""
    wf = Workflow(name)
    wf.add(task, args)
    return wf


def fan_out(name: str, task: TaskDef, n: int, arg: str = "i") -> Workflow:
    """One workflow of ``n`` independent runs of ``task``, given ``{arg: 0..n-1}``."""
    wf = Workflow(name)
    for i in range(n):
        wf.add(task, {arg: i}, id=f"t{i}")
    return wf


def add_examples(reg: Registry) -> Registry:
    """Register the example tasks and templates on ``reg``; returns it."""
    hello_task = reg.task(hello)
    noop_task = reg.task(noop)

    @reg.template(params=GreetParams, description="Greets someone (one task)")
    def greet(p: GreetParams) -> Workflow:
        return one_task("greet", hello_task, {"name": p.name})

    @reg.template(params=FanParams, description="n independent no-op tasks in one workflow")
    def fan(p: FanParams) -> Workflow:
        return fan_out("fan", noop_task, p.n)

    return reg
