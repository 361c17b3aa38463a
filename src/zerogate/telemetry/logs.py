"""Structured logs that carry correlation ids: call ``configure_logging()`` once at startup.

zerogate logs through the stdlib ``logging`` module under the ``zerogate`` logger. This
module adds the ids that tie a line to its work, kept in context variables so that each
asyncio task and each thread sees its own:

* ``ATTEMPT`` holds the running attempt's ``Claim``. The engine sets it once per attempt,
  inside the attempt's task; that ``set`` is the whole cost on the hot path, because the
  formatters read ``workflow_id``, ``task_id``, ``attempt`` and ``name`` from it only when
  a record is actually written.
* ``bind(request_id=...)`` adds other ids for the duration of a ``with`` block (an HTTP
  middleware, a CLI command). Nested binds merge; leaving a block restores the outer ids.

When both name the same id, the attempt wins: it is the more specific of the two.

Formatting happens in the thread and context that logs, which is what a ``StreamHandler``
does. A handler that formats elsewhere (a ``QueueListener`` thread) sees no ids.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TextIO

from zerogate.errors import InvalidConfig, InvalidInput

__all__ = [
    "ATTEMPT",
    "ConsoleFormatter",
    "JsonFormatter",
    "bind",
    "configure_logging",
    "correlation",
    "new_request_id",
]

Ids = dict[str, str | int]

ATTEMPT: ContextVar[object | None] = ContextVar("zerogate_attempt", default=None)
_BOUND: ContextVar[Mapping[str, str | int]] = ContextVar(
    "zerogate_bound_ids", default=MappingProxyType({})
)

# (output key, Claim attribute), in the order the ids are written.
_ATTEMPT_FIELDS = (
    ("workflow_id", "workflow_id"),
    ("task_id", "task_id"),
    ("attempt", "attempt"),
    ("task", "name"),
)
# Keys the JSON formatter writes itself; an id under one of these names would be lost.
_CORE_KEYS = frozenset({"ts", "level", "logger", "message", "exc", "stack"})
# Everything a LogRecord carries on its own; what is left over came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_HANDLER_NAME = "zerogate.configure_logging"
_FORMATS = ("auto", "console", "json")


def new_request_id() -> str:
    """Return a fresh random request id (16 hex characters) to ``bind(request_id=...)``."""
    return secrets.token_hex(8)


def bind(**ids: str | int) -> AbstractContextManager[None]:
    """Attach these ids to every record logged inside the ``with`` block.

    Works across ``await``; asyncio tasks started inside the block inherit the ids,
    and changes they make stay theirs. Raises ``InvalidInput`` for a value that is not
    a str or int, or a name the JSON formatter reserves (ts, level, logger, message...).
    """
    for name, value in ids.items():
        if name in _CORE_KEYS:
            raise InvalidInput(f"cannot bind {name!r}: reserved keys are {sorted(_CORE_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidInput(f"bound id {name!r} must be a str or an int, not {value!r}")
    return _bound(ids)


@contextmanager
def _bound(ids: Ids) -> Iterator[None]:
    # Merge at entry, not at bind(): the outer ids are those in effect when the block starts.
    token = _BOUND.set({**_BOUND.get(), **ids})
    try:
        yield
    finally:
        _BOUND.reset(token)


def correlation() -> Ids:
    """Return the ids in effect here: the running attempt's, then the bound ones."""
    ids = _attempt_ids(ATTEMPT.get())
    for name, value in _BOUND.get().items():
        ids.setdefault(name, value)
    return ids


def _attempt_ids(claim: object | None) -> Ids:
    if claim is None:
        return {}
    ids: Ids = {}
    for key, attr in _ATTEMPT_FIELDS:
        value = getattr(claim, attr, None)
        if value is not None:
            ids[key] = value
    return ids


class JsonFormatter(logging.Formatter):
    """Write each record as one JSON object on one line, for log shippers.

    Keys: ``ts`` (UTC, milliseconds, ``Z``), ``level``, ``logger``, ``message``, the
    correlation ids, the caller's ``extra=`` fields, then ``exc`` and ``stack`` when
    present. An extra that names a correlation id replaces it for that record; the
    core keys always win. Never raises: values JSON cannot hold are written as repr().
    """

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _utc_timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for name, value in {**correlation(), **_extras(record)}.items():
            doc.setdefault(name, value)
        exc, stack = self._exc_text(record), self._stack_text(record)
        if exc:
            doc["exc"] = exc
        if stack:
            doc["stack"] = stack
        return _dumps(doc)

    def _exc_text(self, record: logging.LogRecord) -> str | None:
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            # Cached on the record like logging.Formatter does, for the next handler.
            record.exc_text = self.formatException(record.exc_info)
        return record.exc_text

    def _stack_text(self, record: logging.LogRecord) -> str | None:
        return self.formatStack(record.stack_info) if record.stack_info else None


class ConsoleFormatter(logging.Formatter):
    """Write each record as one readable line, for a terminal.

    ``12:03:04.567 WARNING  zerogate.engine message [workflow=7 task=42#2 name=resize
    request=ab12...]`` in local time, followed by the traceback when there is one.
    """

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", self.converter(record.created))
        line = f"{clock}.{int(record.msecs):03d} {record.levelname:<8} {record.name} "
        line += _message(record)
        ids = _console_ids(correlation())
        if ids:
            line += f" [{ids}]"
        if record.exc_info and record.exc_info[0] is not None:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _console_ids(ids: Ids) -> str:
    parts: list[str] = []
    if "workflow_id" in ids:
        parts.append(f"workflow={ids.pop('workflow_id')}")
    if "task_id" in ids:
        attempt = ids.pop("attempt", None)
        suffix = "" if attempt is None else f"#{attempt}"
        parts.append(f"task={ids.pop('task_id')}{suffix}")
    if "task" in ids:
        parts.append(f"name={ids.pop('task')}")
    if "request_id" in ids:
        parts.append(f"request={ids.pop('request_id')}")
    parts.extend(f"{name}={value}" for name, value in ids.items())
    return " ".join(parts)


def _utc_timestamp(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad %-format or a raising __str__ must not lose the line
        return f"{_safe_repr(record.msg)} % {_safe_repr(record.args)}"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}


def _dumps(doc: dict[str, Any]) -> str:
    try:
        return json.dumps(doc, default=_safe_repr, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        # NaN, a cycle, a non-str dict key or deep nesting: repr() only the culprits.
        return json.dumps({k: _jsonable(v) for k, v in doc.items()}, default=_safe_repr)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, default=_safe_repr, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return _safe_repr(value)
    return value


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not lose the line
        return f"<unrepresentable {type(value).__name__}>"


def configure_logging(
    *, fmt: str = "auto", level: str | int = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Send zerogate's logs to ``stream`` (stderr by default) as JSON or console lines.

    ``fmt`` is "json", "console", or "auto": console when the stream is a TTY, JSON
    otherwise. Calling it again replaces the handler it installed before. It sets
    ``propagate = False`` on the ``zerogate`` logger: this handler owns zerogate's
    output, so root handlers (``logging.basicConfig``) would print every line twice.
    An application that wants zerogate's records in its own handlers should not call
    this, and can put ``JsonFormatter`` or ``ConsoleFormatter`` on those handlers.
    Raises ``InvalidConfig`` for an unknown format or level.
    """
    if fmt not in _FORMATS:
        raise InvalidConfig(f"unknown log format {fmt!r}: use one of {', '.join(_FORMATS)}")
    levelno = _level_number(level)
    target = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(target)
    handler.set_name(_HANDLER_NAME)
    is_console = fmt == "console" or (fmt == "auto" and _is_tty(target))
    handler.setFormatter(ConsoleFormatter() if is_console else JsonFormatter())
    _install(handler, levelno)
    return handler


def _level_number(level: str | int) -> int:
    names = logging.getLevelNamesMapping()
    if isinstance(level, str) and level.upper() in names:
        return names[level.upper()]
    if isinstance(level, int) and not isinstance(level, bool) and level >= 0:
        return level
    accepted = "DEBUG, INFO, WARNING, ERROR, CRITICAL or an int >= 0"
    raise InvalidConfig(f"unknown log level {level!r}: use {accepted}")


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _install(handler: logging.Handler, levelno: int) -> None:
    logger = logging.getLogger("zerogate")
    for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(old)
        old.flush()
        old.close()  # drops it from logging's shutdown list; a StreamHandler keeps its stream
    logger.addHandler(handler)
    logger.setLevel(levelno)
    logger.propagate = False
