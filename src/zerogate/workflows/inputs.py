"""Where the built-in templates' input files come from, and where their work goes.

A template's input is a ``Source``: exactly one of

- ``text``: the file's text inline (an .eml, an mbox, a CSV, an essay), up to 4 MiB;
- ``base64``: a binary file inline (an .xlsx), up to 4 MiB decoded;
- ``file``: the name of a file in the submitting tenant's inbox,
  ``<files>/inbox/<tenant>/<name>``, for inputs too large to send (the server's owner
  or the tenant's own tooling puts them there);
- ``sample``: the seed of sample data the template generates itself (the demo's load).

A request can never name a path of its own: ``file`` is a relative name checked to
stay inside the tenant's inbox (after resolving links), and the tenant comes from the
caller's credentials (``TemplateContext``), never from the parameters. Each workflow
works in a fresh folder ``<files>/work/<token>/``; a task passes a later one the path
of what it wrote (its JSON result), never the content. Work folders stay after the
workflow ends (a retried step may need them); ``prune_work`` removes idle ones, which
``zerogate serve`` does at start-up and then hourly (``--keep-work-days``).
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pydantic

from zerogate.errors import InvalidInput

MAX_INLINE = 4 * 2**20
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$")


class Source(pydantic.BaseModel):
    """One input file: inline ``text`` or ``base64``, a ``file`` in the tenant's inbox,
    or a ``sample`` seed (exactly one)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    text: str | None = pydantic.Field(None, max_length=MAX_INLINE)
    base64: str | None = pydantic.Field(None, max_length=MAX_INLINE * 4 // 3 + 4)
    file: str | None = pydantic.Field(
        None, max_length=255, pattern=FILE_NAME.pattern,
        description="a name relative to the tenant's inbox folder")
    sample: int | None = pydantic.Field(None, ge=0, le=2**31,
                                        description="seed of generated sample data")

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> Source:
        given = [k for k in ("text", "base64", "file", "sample") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text, base64, file or sample"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


SampleWriter = Callable[[Path, int], None]  # writes sample data for a seed to a path


def workdir(root: Path | str) -> Path:
    """A fresh folder for one workflow's files (named, not created: its first task
    creates it, so building a workflow touches no disk)."""
    return Path(root) / "work" / uuid.uuid4().hex


def prune_work(root: Path | str, *, older_than_s: float, now: float) -> int:
    """Delete work folders last changed more than ``older_than_s`` before ``now``;
    returns how many. Inboxes are the tenants' and never touched. A folder a running
    workflow still uses changes as its steps write, so only idle ones are old."""
    work = Path(root) / "work"
    if not work.is_dir():
        return 0
    removed = 0
    for folder in work.iterdir():
        try:
            newest = max((f.stat().st_mtime for f in folder.rglob("*")),
                         default=folder.stat().st_mtime)
            if folder.is_dir() and now - newest > older_than_s:
                shutil.rmtree(folder)
                removed += 1
        except FileNotFoundError:  # removed meanwhile
            continue
    return removed


def inbox(root: Path | str, tenant: str) -> Path:
    return Path(root) / "inbox" / tenant


def inbox_file(root: Path | str, tenant: str, name: str) -> Path:
    """The path of ``name`` in the tenant's inbox; InvalidInput if the name is not a
    plain relative name, leads outside the inbox, or no such file exists."""
    if not FILE_NAME.match(name) or ".." in name.split("/"):
        raise InvalidInput(f"input file {name!r} is not a plain relative name")
    folder = inbox(root, tenant).resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        raise InvalidInput(f"input file {name!r} leads outside the tenant's inbox")
    if not path.is_file():
        raise InvalidInput(f"no input file {name!r} in the inbox of tenant {tenant!r}")
    return path


def materialize(source: Source | Mapping[str, Any], *, root: Path | str, tenant: str,
                dest: Path, sample: SampleWriter) -> dict[str, Any]:
    """Make ``source`` a file on disk and describe it as a task result:
    ``{"path", "bytes", "origin"}``. Inline and sample inputs are written to ``dest``
    (its folder is created); an inbox file is read where it is."""
    src = source if isinstance(source, Source) else Source.model_validate(source)
    if src.file is not None:
        path = inbox_file(root, tenant, src.file)
        return {"path": str(path), "bytes": path.stat().st_size, "origin": "file"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.text is not None:
        dest.write_text(src.text, encoding="utf-8")
        origin = "text"
    elif src.base64 is not None:
        dest.write_bytes(_decode(src.base64))
        origin = "base64"
    else:
        assert src.sample is not None  # _exactly_one
        sample(dest, src.sample)
        origin = "sample"
    return {"path": str(dest), "bytes": dest.stat().st_size, "origin": origin}


def _decode(data: str) -> bytes:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"the base64 input is not valid base64: {exc}") from None
    if len(raw) > MAX_INLINE:
        raise InvalidInput(f"the base64 input decodes to {len(raw)} bytes "
                           f"(at most {MAX_INLINE})")
    return raw
