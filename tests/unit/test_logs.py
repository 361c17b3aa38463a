"""Structured logs: JSON and console lines, correlation ids, and configure_logging."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from zerogate.domain.records import Claim
from zerogate.errors import InvalidConfig, InvalidInput
from zerogate.telemetry.logs import (
    ATTEMPT,
    ConsoleFormatter,
    JsonFormatter,
    bind,
    configure_logging,
    correlation,
    new_request_id,
)

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def claim(task_id: int, *, workflow_id: int = 7, attempt: int = 1, name: str = "resize") -> Claim:
    return Claim(task_id=task_id, workflow_id=workflow_id, local_id=f"t{task_id}", name=name,
                 args_json="[]", attempt=attempt, failures=0, timeout_s=None, retry_json="{}",
                 dep_results={})


class Capture:
    """A private logger whose lines land in a buffer, formatted by one formatter."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(formatter)
        self.log = logging.getLogger("zerogate.tests.logs")
        self.log.addHandler(self.handler)
        self.log.setLevel(logging.DEBUG)
        self.log.propagate = False

    def lines(self) -> list[str]:
        return self.buffer.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def close(self) -> None:
        self.log.removeHandler(self.handler)


@pytest.fixture
def jlog() -> Iterator[Capture]:
    capture = Capture(JsonFormatter())
    yield capture
    capture.close()


@pytest.fixture
def clog() -> Iterator[Capture]:
    capture = Capture(ConsoleFormatter())
    yield capture
    capture.close()


@pytest.fixture
def zerogate_logger() -> Iterator[logging.Logger]:
    """The real ``zerogate`` logger, restored afterwards so other tests see it unchanged."""
    logger = logging.getLogger("zerogate")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


# JSON lines


def test_a_json_line_carries_utc_time_level_logger_and_formatted_message(jlog: Capture) -> None:
    jlog.log.warning("claimed %d tasks from %s", 3, "sqlite")
    [record] = jlog.records()
    assert record["level"] == "WARNING"
    assert record["logger"] == "zerogate.tests.logs"
    assert record["message"] == "claimed 3 tasks from sqlite"
    assert TS.match(record["ts"])
    written = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(written.timestamp() - time.time()) < 5  # UTC, not local time


def test_without_ids_a_line_has_only_the_core_keys(jlog: Capture) -> None:
    jlog.log.info("idle")
    [record] = jlog.records()
    assert set(record) == {"ts", "level", "logger", "message"}


def test_ids_come_from_the_running_attempt(jlog: Capture) -> None:
    token = ATTEMPT.set(claim(42, workflow_id=7, attempt=2, name="resize"))
    try:
        jlog.log.info("running")
    finally:
        ATTEMPT.reset(token)
    [record] = jlog.records()
    assert (record["workflow_id"], record["task_id"], record["attempt"], record["task"]) == (
        7, 42, 2, "resize")


def test_ids_come_from_bind_and_leave_with_the_block(jlog: Capture) -> None:
    with bind(request_id="r1", tenant="acme"):
        jlog.log.info("inside")
    jlog.log.info("outside")
    inside, outside = jlog.records()
    assert (inside["request_id"], inside["tenant"]) == ("r1", "acme")
    assert "request_id" not in outside
    assert "tenant" not in outside


def test_nested_binds_merge_and_unwind() -> None:
    with bind(request_id="outer", tenant="acme"):
        with bind(request_id="inner", workflow_id=9):
            assert correlation() == {"request_id": "inner", "tenant": "acme", "workflow_id": 9}
        assert correlation() == {"request_id": "outer", "tenant": "acme"}
    assert correlation() == {}


def test_bind_unwinds_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), bind(request_id="r1"):
        raise RuntimeError("boom")
    assert correlation() == {}


def test_the_attempt_wins_over_a_bound_id_of_the_same_name() -> None:
    token = ATTEMPT.set(claim(42, workflow_id=7))
    try:
        with bind(workflow_id=99, request_id="r1"):
            ids = correlation()
    finally:
        ATTEMPT.reset(token)
    assert ids["workflow_id"] == 7
    assert ids["request_id"] == "r1"


def test_an_extra_field_replaces_an_ambient_id_for_its_record(jlog: Capture) -> None:
    with bind(workflow_id=1):
        jlog.log.info("about another workflow", extra={"workflow_id": 2})
    [record] = jlog.records()
    assert record["workflow_id"] == 2


async def test_ids_stay_with_their_own_asyncio_task(jlog: Capture) -> None:
    both_set = asyncio.Barrier(2)

    async def attempt(task_id: int) -> None:
        ATTEMPT.set(claim(task_id, attempt=task_id * 10))
        with bind(request_id=f"req-{task_id}"):
            await both_set.wait()  # both tasks have set their ids before either logs
            await asyncio.sleep(0)
            jlog.log.info("task %d done", task_id)

    async with asyncio.TaskGroup() as group:
        group.create_task(attempt(1))
        group.create_task(attempt(2))
    by_message = {r["message"]: r for r in jlog.records()}
    for task_id in (1, 2):
        record = by_message[f"task {task_id} done"]
        assert (record["task_id"], record["attempt"], record["request_id"]) == (
            task_id, task_id * 10, f"req-{task_id}")
    assert ATTEMPT.get() is None  # the tasks' sets never reached the parent
    assert correlation() == {}


async def test_a_task_started_inside_bind_inherits_its_ids() -> None:
    async def read() -> dict[str, str | int]:
        await asyncio.sleep(0)
        return correlation()

    with bind(request_id="r1"):
        task = asyncio.create_task(read())
    assert await task == {"request_id": "r1"}


def test_an_exception_is_written_as_traceback_text_on_one_line(jlog: Capture) -> None:
    try:
        raise ValueError("bad row")
    except ValueError:
        jlog.log.exception("import failed")
    [line] = jlog.lines()
    record = json.loads(line)
    assert record["message"] == "import failed"
    assert record["exc"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad row" in record["exc"]


def test_exc_info_outside_an_exception_adds_no_exc_key(jlog: Capture) -> None:
    jlog.log.error("nothing raised", exc_info=True)
    [record] = jlog.records()
    assert "exc" not in record


def test_extra_fields_are_written_and_record_internals_are_not(jlog: Capture) -> None:
    jlog.log.info("stored", extra={"rows": 3, "path": "/tmp/x", "tags": ["a", "b"]})
    [record] = jlog.records()
    assert (record["rows"], record["path"], record["tags"]) == (3, "/tmp/x", ["a", "b"])
    for internal in ("args", "msg", "lineno", "pathname", "levelno", "created", "exc_info"):
        assert internal not in record


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_values_json_cannot_hold_are_written_as_repr(jlog: Capture) -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    jlog.log.info("odd", extra={"obj": {1, 2}, "nan": float("nan"), "cycle": cycle,
                                "tuple_keys": {(1, 2): "x"}, "broken": Unprintable(),
                                "fine": 5})
    [record] = jlog.records()
    assert record["obj"] == "{1, 2}"
    assert record["nan"] == "nan"
    assert record["cycle"] == "[[...]]"
    assert record["tuple_keys"] == "{(1, 2): 'x'}"
    assert record["broken"] == "<unrepresentable Unprintable>"
    assert record["fine"] == 5


def test_a_message_whose_arguments_do_not_fit_is_still_written(jlog: Capture) -> None:
    jlog.log.info("%d tasks", "many")
    [record] = jlog.records()
    assert "%d tasks" in record["message"]
    assert "many" in record["message"]


def test_a_message_with_newlines_stays_one_line(jlog: Capture) -> None:
    jlog.log.info("first\nsecond\r\nthird")
    [line] = jlog.lines()
    assert json.loads(line)["message"] == "first\nsecond\r\nthird"


# Console lines


def test_a_console_line_shows_time_level_logger_message_and_ids(clog: Capture) -> None:
    token = ATTEMPT.set(claim(42, workflow_id=7, attempt=2, name="resize"))
    try:
        with bind(request_id="ab12", tenant="acme"):
            clog.log.warning("slow %s", "disk")
    finally:
        ATTEMPT.reset(token)
    [line] = clog.lines()
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} WARNING  zerogate\.tests\.logs slow disk "
        r"\[workflow=7 task=42#2 name=resize request=ab12 tenant=acme\]", line)


def test_a_console_line_without_ids_has_no_brackets(clog: Capture) -> None:
    clog.log.info("idle")
    [line] = clog.lines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} INFO     zerogate\.tests\.logs idle", line)


def test_a_console_line_is_followed_by_its_traceback(clog: Capture) -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        clog.log.exception("lookup failed")
    first, second, *rest = clog.lines()
    assert first.endswith("lookup failed")
    assert second == "Traceback (most recent call last):"
    assert rest[-1] == "KeyError: 'missing'"


# bind, ids


def test_bind_refuses_values_that_are_not_ids() -> None:
    with pytest.raises(InvalidInput, match="str or an int"):
        bind(request_id=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="str or an int"):
        bind(flag=True)


def test_bind_refuses_keys_the_json_line_reserves() -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        bind(level="x")


def test_request_ids_are_short_random_hex() -> None:
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)


# configure_logging


def test_configuring_twice_keeps_one_handler_and_writes_once(
        zerogate_logger: logging.Logger) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", stream=first)
    handler = configure_logging(fmt="json", stream=second)
    logging.getLogger("zerogate.engine").info("hello")
    assert [h for h in zerogate_logger.handlers if h.get_name() == handler.get_name()] == [
        handler]
    assert first.getvalue() == ""
    assert [json.loads(x)["message"] for x in second.getvalue().splitlines()] == ["hello"]


def test_configure_keeps_records_away_from_the_root_logger(
        zerogate_logger: logging.Logger) -> None:
    root_seen = io.StringIO()
    root_handler = logging.StreamHandler(root_seen)
    logging.getLogger().addHandler(root_handler)
    try:
        configure_logging(fmt="json", stream=io.StringIO())
        logging.getLogger("zerogate.engine").warning("once")
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert zerogate_logger.propagate is False
    assert root_seen.getvalue() == ""


def test_configure_keeps_handlers_it_did_not_install(zerogate_logger: logging.Logger) -> None:
    theirs = logging.StreamHandler(io.StringIO())
    zerogate_logger.addHandler(theirs)
    configure_logging(fmt="json", stream=io.StringIO())
    configure_logging(fmt="json", stream=io.StringIO())
    assert theirs in zerogate_logger.handlers
    assert len(zerogate_logger.handlers) == 2


def test_configure_sets_the_level(zerogate_logger: logging.Logger) -> None:
    out = io.StringIO()
    configure_logging(fmt="json", level="warning", stream=out)
    logging.getLogger("zerogate.engine").info("dropped")
    logging.getLogger("zerogate.engine").warning("kept")
    assert [json.loads(x)["message"] for x in out.getvalue().splitlines()] == ["kept"]
    configure_logging(fmt="json", level=logging.DEBUG, stream=out)
    assert zerogate_logger.level == logging.DEBUG


@pytest.mark.parametrize(("stream", "expected"), [
    (FakeTty(), ConsoleFormatter), (io.StringIO(), JsonFormatter)])
def test_auto_picks_console_for_a_tty_and_json_otherwise(
        zerogate_logger: logging.Logger, stream: io.StringIO,
        expected: type[logging.Formatter]) -> None:
    handler = configure_logging(stream=stream)
    assert type(handler.formatter) is expected


def test_an_explicit_format_wins_over_the_tty_check(zerogate_logger: logging.Logger) -> None:
    assert type(configure_logging(fmt="json", stream=FakeTty()).formatter) is JsonFormatter
    console = configure_logging(fmt="console", stream=io.StringIO())
    assert type(console.formatter) is ConsoleFormatter


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"fmt": "xml"}, "auto, console, json"),
    ({"level": "LOUD"}, "DEBUG, INFO, WARNING"),
    ({"level": -1}, "DEBUG, INFO, WARNING"),
    ({"level": True}, "DEBUG, INFO, WARNING"),
])
def test_an_unknown_format_or_level_is_refused_and_changes_nothing(
        zerogate_logger: logging.Logger, kwargs: dict[str, Any], named: str) -> None:
    before = list(zerogate_logger.handlers)
    with pytest.raises(InvalidConfig, match=named):
        configure_logging(stream=io.StringIO(), **kwargs)
    assert zerogate_logger.handlers == before
