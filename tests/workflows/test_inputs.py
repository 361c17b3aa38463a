"""Template inputs: one source of four kinds, files confined to the tenant's inbox, the
tenant from the caller, and templates submitted in-process like the API does."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pydantic
import pytest

from zerogate import Engine, EngineConfig, Registry, SqliteStore, Workflow
from zerogate.domain.admission import Need
from zerogate.errors import InvalidConfig, InvalidInput, UnknownTemplate
from zerogate.templates import TemplateContext, TemplateParamsInvalid
from zerogate.workflows.inputs import Source, inbox_file, materialize, prune_work, workdir


def write_seed(path: Path, seed: int) -> None:
    path.write_text(f"sample {seed}")


@pytest.mark.parametrize("given", [{}, {"text": "a", "sample": 1},
                                   {"file": "a.csv", "base64": "YQ=="}])
def test_a_source_is_exactly_one_kind(given: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one of text, base64"):
        Source.model_validate(given)


@pytest.mark.parametrize("name", ["../x.csv", "/etc/passwd", "a/../../b", ".hidden", "a//b",
                                  "a\\b", ""])
def test_an_inbox_name_is_a_plain_relative_name(name: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        Source(file=name)


def test_inline_text_base64_and_samples_are_written_to_the_work_folder(tmp_path: Path) -> None:
    work = workdir(tmp_path)
    assert work.parent == tmp_path / "work" and not work.exists()
    text = materialize({"text": "héllo"}, root=tmp_path, tenant="t", dest=work / "a.txt",
                       sample=write_seed)
    assert text == {"path": str(work / "a.txt"), "bytes": 6, "origin": "text"}
    raw = materialize(Source(base64=base64.b64encode(b"\x00\x01").decode()), root=tmp_path,
                      tenant="t", dest=work / "b.bin", sample=write_seed)
    assert (work / "b.bin").read_bytes() == b"\x00\x01" and raw["origin"] == "base64"
    made = materialize({"sample": 7}, root=tmp_path, tenant="t", dest=work / "c.txt",
                       sample=write_seed)
    assert (work / "c.txt").read_text() == "sample 7" and made["origin"] == "sample"


def test_bad_base64_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not valid base64"):
        materialize({"base64": "not base64!"}, root=tmp_path, tenant="t",
                    dest=tmp_path / "x", sample=write_seed)


def test_inbox_files_are_read_in_place_and_only_from_the_tenants_own_inbox(
        tmp_path: Path) -> None:
    mine = tmp_path / "inbox" / "acme"
    mine.mkdir(parents=True)
    (mine / "sub").mkdir()
    (mine / "sub" / "data.csv").write_text("a,b\n")
    (tmp_path / "inbox" / "globex").mkdir()
    (tmp_path / "inbox" / "globex" / "secret.csv").write_text("theirs")
    got = materialize({"file": "sub/data.csv"}, root=tmp_path, tenant="acme",
                      dest=tmp_path / "unused", sample=write_seed)
    assert got == {"path": str((mine / "sub" / "data.csv").resolve()), "bytes": 4,
                   "origin": "file"}
    with pytest.raises(InvalidInput, match=r"no input file 'secret\.csv' in the inbox of "
                                           r"tenant 'acme'"):
        inbox_file(tmp_path, "acme", "secret.csv")
    (mine / "link.csv").symlink_to(tmp_path / "inbox" / "globex" / "secret.csv")
    with pytest.raises(InvalidInput, match="leads outside the tenant's inbox"):
        inbox_file(tmp_path, "acme", "link.csv")
    with pytest.raises(InvalidInput, match="not a plain relative name"):
        inbox_file(tmp_path, "acme", "../globex/secret.csv")


class Who(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    n: int = pydantic.Field(1, ge=1, le=3)


def registry_with_tenant_echo() -> Registry:
    reg = Registry()
    reg.feature("echoes", "advanced")

    @reg.task(feature="echoes", cpu=0.5, memory_mb=64)
    async def echo(tenant: str, n: int) -> str:
        return f"{tenant}:{n}"

    @reg.task(feature="echoes", memory_mb=128)
    async def echo_more(tenant: str) -> str:
        return tenant

    @reg.template(params=Who, feature="echoes")
    def who(p: Who, ctx: TemplateContext) -> Workflow:
        wf = Workflow("who")
        wf.add(echo, {"tenant": ctx.tenant, "n": p.n})
        return wf

    return reg


async def test_a_template_learns_the_submitting_tenant_and_is_submitted_in_process(
        tmp_path: Path) -> None:
    reg = registry_with_tenant_echo()
    # the heaviest declaration of any of the feature's tasks, per resource
    assert reg.feature_needs("echoes") == ("advanced", Need(0.5, 128 * 2**20))
    async with Engine(reg, SqliteStore(tmp_path / "t.db"), config=EngineConfig()) as engine:
        handle = await engine.submit_template("who", {"n": 2}, tenant="acme", priority="high")
        assert await handle.result(timeout_s=30) == {"echo": "acme:2"}
        status = await handle.status()
        assert (status.record.tenant, status.record.name, status.record.priority) == (
            "acme", "who", 1)
        with pytest.raises(TemplateParamsInvalid, match="n: Input should be less than or "
                                                        "equal to 3"):
            await engine.submit_template("who", {"n": 9})
        with pytest.raises(UnknownTemplate, match="registered: who"):
            await engine.submit_template("nope")


def test_a_template_feature_must_be_declared() -> None:
    with pytest.raises(InvalidConfig, match="template feature 'ghost' is not declared"):
        Registry().template(params=Who, feature="ghost")


def test_idle_work_folders_are_pruned_and_busy_ones_and_inboxes_kept(tmp_path: Path) -> None:
    def folder(path: Path, age_s: float, now: float) -> None:
        path.mkdir(parents=True)
        (path / "f.json").write_text("{}")
        for p in (path / "f.json", path):
            os.utime(p, (now - age_s, now - age_s))

    now = 1_800_000_000.0
    folder(tmp_path / "work" / "idle", 8 * 86_400, now)
    folder(tmp_path / "work" / "fresh", 3_600, now)
    folder(tmp_path / "work" / "busy", 8 * 86_400, now)
    (tmp_path / "work" / "busy" / "new.json").write_text("{}")  # a step wrote just now
    os.utime(tmp_path / "work" / "busy" / "new.json", (now - 60, now - 60))
    folder(tmp_path / "inbox" / "acme", 30 * 86_400, now)
    assert prune_work(tmp_path, older_than_s=7 * 86_400, now=now) == 1
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["busy", "fresh"]
    assert (tmp_path / "inbox" / "acme" / "f.json").exists()
    assert prune_work(tmp_path / "nowhere", older_than_s=0, now=now) == 0
