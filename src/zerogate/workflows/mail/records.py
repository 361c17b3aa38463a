"""The message record the email_analysis steps pass between them, and the helpers the
steps share for reading and writing their files.

``email_parse`` writes one JSON line per message (``Mail.record``); every later step
reads them back with ``load``, so a large mailbox never sits in memory as parsed
``email`` objects. A step's larger result is a JSON file in the work folder
(``write_json``) whose path its small JSON result gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOUR, DAY = 3600.0, 86_400.0  # seconds


@dataclass(frozen=True, slots=True)
class Mail:
    """One message as the analysis steps see it (addresses lower-cased)."""

    id: str
    sender: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    date: datetime | None = None
    date_problem: str | None = None
    subject: str = ""
    text: str = ""
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread: str = ""
    attachments: int = 0
    dropped_lines: int = 0
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def at(self) -> float | None:
        """The date as epoch seconds, None if undated."""
        return None if self.date is None else self.date.timestamp()

    @property
    def parent(self) -> str | None:
        """The message this one answers, if it says so."""
        return self.in_reply_to or (self.references[-1] if self.references else None)

    def record(self) -> dict[str, Any]:
        """The JSON line written for this message (``from``: the sender)."""
        rec = {f: getattr(self, f) for f in self.__slots__}  # tuples are written as lists
        rec["from"], rec["names"] = rec.pop("sender"), dict(self.names)
        rec["date"] = None if self.date is None else self.date.isoformat()
        return rec


def from_record(rec: Mapping[str, Any]) -> Mail:
    """A Mail from its JSON line."""
    fields = {**rec, "sender": rec["from"], "to": tuple(rec["to"]), "cc": tuple(rec["cc"]),
              "references": tuple(rec["references"]),
              "date": None if rec["date"] is None else datetime.fromisoformat(rec["date"])}
    del fields["from"]
    return Mail(**fields)


def load(path: Path | str, *, text: bool = True) -> Iterator[Mail]:
    """The messages of a JSON-lines file written by ``read_mailbox`` (``text=False``
    leaves the bodies out, for steps that only need the headers)."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if not text:
                rec["text"] = ""
            yield from_record(rec)


def counterparts(m: Mail, me: frozenset[str]) -> list[str]:
    """The contacts of a message: its sender if not us, else its recipients but us."""
    if m.sender not in me:
        return [m.sender]
    return [a for a in dict.fromkeys(m.to + m.cc) if a not in me]


def as_of_time(given: str | None, parsed: dict[str, Any]) -> float | None:
    """The time strengths and waits are measured at, as epoch seconds: ``given`` (ISO),
    else the latest message's date from the parse step's result; None if neither."""
    when = given or parsed["latest"]
    return None if when is None else datetime.fromisoformat(when).timestamp()


def iso(at: float | None) -> str | None:
    """Epoch seconds as an ISO time in UTC (None stays None)."""
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def write_json(path: Path, data: Any) -> str:
    """Write ``data`` as JSON to ``path`` and return the path, for a step's result."""
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)
