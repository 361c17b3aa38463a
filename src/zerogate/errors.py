"""The one error tree of zerogate: catch ``ZerogateError`` to catch them all.

::

    ZerogateError
    ├── InvalidInput                 the caller sent something zerogate cannot accept
    │   ├── InvalidWorkflow          malformed DAG: cycle, missing or duplicate task
    │   ├── UnknownTask              no handler registered under that name
    │   ├── UnknownTemplate          no workflow template registered under that name
    │   ├── InvalidPayload           arguments or a result that are not JSON
    │   └── InvalidConfig            a negative limit, an unknown priority, ...
    ├── NotFound                     no workflow or task with that id
    ├── InvalidTransition            a lifecycle move the state machine forbids
    ├── StoreError                   the durable store failed
    │   ├── StoreUnavailable         cannot reach, open or lock the store (retry later)
    │   └── StoreCorrupt             the file is not a zerogate store, or is damaged
    ├── ResourcesUnavailable         not one resource signal of the host could be read
    ├── EngineClosed                 the engine is shutting down or not started
    ├── WorkflowFailed               awaited a result of a workflow that failed
    └── TaskError                    raised inside a task's execution
        ├── TaskTimeout              the attempt ran past its timeout
        ├── TaskCancelled            the task was cancelled while running
        ├── WorkerCrashed            the process running the task died
        └── RemoteError              a process task raised an exception that could
                                     not be sent back as itself

Adapter exceptions (``sqlite3.Error``, ``OSError`` ...) are translated at the boundary
with ``raise StoreUnavailable(...) from exc`` so callers never see driver types.
"""

from __future__ import annotations

__all__ = [
    "EngineClosed",
    "InvalidConfig",
    "InvalidInput",
    "InvalidPayload",
    "InvalidTransition",
    "InvalidWorkflow",
    "NotFound",
    "RemoteError",
    "ResourcesUnavailable",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "TaskCancelled",
    "TaskError",
    "TaskTimeout",
    "UnknownTask",
    "UnknownTemplate",
    "WorkerCrashed",
    "WorkflowFailed",
    "ZerogateError",
]


class ZerogateError(Exception):
    """Root of every error zerogate raises on purpose."""


class InvalidInput(ZerogateError):
    """The caller sent something zerogate cannot accept; nothing was stored."""


class InvalidWorkflow(InvalidInput):
    """The workflow is not a valid DAG; the message names the offending tasks."""


class UnknownTask(InvalidInput):
    """No task handler is registered under the requested name."""


class UnknownTemplate(InvalidInput):
    """No workflow template is registered under the requested name."""


class InvalidPayload(InvalidInput):
    """Arguments or a result cannot be encoded as JSON."""


class InvalidConfig(InvalidInput):
    """A setting is out of range (negative limit, unknown priority, ...)."""


class NotFound(ZerogateError):
    """No workflow or task exists with that id (or it is not yours to see)."""


class InvalidTransition(ZerogateError):
    """The lifecycle state machine forbids this move."""


class StoreError(ZerogateError):
    """The durable store failed; acknowledged work is still in it."""


class StoreUnavailable(StoreError):
    """The store cannot be reached, opened or locked right now; retry later."""


class StoreCorrupt(StoreError):
    """The store file is damaged or is not a zerogate store."""


class ResourcesUnavailable(ZerogateError):
    """Not one resource signal could be read: check that /proc and /sys are mounted."""


class EngineClosed(ZerogateError):
    """The engine is not running (not started yet, or shutting down)."""


class TaskError(ZerogateError):
    """Base of failures that happen while a task attempt executes."""


class TaskTimeout(TaskError):
    """The attempt ran longer than the task's timeout."""


class TaskCancelled(TaskError):
    """The task was cancelled while it was running."""


class WorkerCrashed(TaskError):
    """The worker process running the task died before it answered."""


class RemoteError(TaskError):
    """A process task raised an exception that could not be pickled back.

    ``type_name`` and ``traceback_text`` keep what the child process saw.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.traceback_text = traceback_text


class WorkflowFailed(ZerogateError):
    """A workflow ended failed or cancelled; ``errors`` maps task ids to their errors."""

    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.errors = errors
