"""A small demo workload: documents analysed by a DAG of async, thread and process tasks.

Per document: ``generate`` writes a text file, then ``words`` (async) and ``digest``
(a child process, CPU-bound) read it in parallel, and ``report`` joins them. About
one document in six hits a transient error on its first attempt and is retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.domain.model import Limits
from zerogate.domain.retry import RetryPolicy
from zerogate.registry import Registry, Workflow
from zerogate.runtime.engine import Engine, EngineConfig
from zerogate.runtime.executor import TaskContext

VOCABULARY = (
    "grant", "sponsor", "deadline", "essay", "college", "budget", "review", "board", "partner",
    "impact", "program", "outcome", "report", "renewal", "letter", "draft", "cycle", "funding",
)


def generate(ctx: TaskContext, folder: str, doc: int, words: int) -> dict[str, Any]:
    """Write a deterministic document of ``words`` words (runs in a thread)."""
    rng = random.Random(doc)
    text = " ".join(rng.choice(VOCABULARY) for _ in range(words))
    path = Path(folder) / f"doc-{doc:05d}.txt"
    path.write_text(text, encoding="utf-8")
    return {"path": str(path), "bytes": len(text)}


async def words(ctx: TaskContext, doc: int) -> dict[str, Any]:
    """Count words; a sixth of the documents fail once, as a flaky service would."""
    if doc % 6 == 0 and ctx.attempt == 1:
        raise ConnectionError(f"word service busy for document {doc}")
    text = await asyncio.to_thread(Path(ctx.deps["generate"]["path"]).read_text)
    top = Counter(text.split()).most_common(3)
    return {"words": len(text.split()), "top": top}


def digest(ctx: TaskContext, rounds: int) -> str:
    """Hash the file repeatedly: real CPU work in a child process."""
    data = Path(ctx.deps["generate"]["path"]).read_bytes()
    for _ in range(rounds):
        data = hashlib.sha256(data).digest()
    return data.hex()[:16]


async def report(ctx: TaskContext) -> dict[str, Any]:
    return {"words": ctx.deps["words"]["words"], "digest": ctx.deps["digest"],
            "top": ctx.deps["words"]["top"][0][0]}


def build_registry() -> Registry:
    registry = Registry()
    registry.task(generate, run_in="thread")
    registry.task(words, retry=RetryPolicy(max_attempts=3, backoff_s=0.2))
    registry.task(digest, run_in="process", timeout_s=60)
    registry.task(report)
    return registry


def document_workflow(folder: Path, doc: int, *, words: int = 2_000,
                      rounds: int = 20_000) -> Workflow:
    wf = Workflow(f"document-{doc}", priority="high" if doc % 10 == 0 else "medium")
    wf.add("generate", {"folder": str(folder), "doc": doc, "words": words})
    wf.add("words", {"doc": doc}, after=["generate"])
    wf.add("digest", {"rounds": rounds}, after=["generate"])
    wf.add("report", after=["words", "digest"])
    return wf


@dataclass(frozen=True)
class DemoSummary:
    workflows: int
    states: dict[str, int]
    retried: int
    seconds: float


async def run_demo(engine: Engine, folder: Path, documents: int,
                   on_progress: Any = None) -> DemoSummary:
    """Submit the documents, report progress as they finish, and summarise this run.

    Only this run's workflows count, so a store holding earlier runs changes nothing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    handles = await engine.submit_many([document_workflow(folder, d) for d in range(documents)])
    states: Counter[str] = Counter()
    retried = 0
    for next_done in asyncio.as_completed([h.wait() for h in handles]):
        status = await next_done
        states.update(t.record.state.value for t in status.tasks)
        retried += sum(1 for t in status.tasks if t.record.failures)
        if on_progress is not None:
            on_progress(sum(states.values()), 4 * documents, dict(states))
    return DemoSummary(len(handles), dict(states), retried, time.perf_counter() - started)


def demo_engine(db: Path) -> Engine:
    config = EngineConfig(limits=Limits(max_running=32), process_workers=2)
    return Engine(build_registry(), SqliteStore(db), config=config)
