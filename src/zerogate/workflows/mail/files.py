"""A whole mail file (one .eml message or an mbox) read into the JSON-lines message file
the email_analysis steps share, with the tally of what was read.

``mailbox.mbox`` splits an mbox one message at a time, so a large file never sits in
memory whole; each message is decoded by ``parsing.parse_message`` with one header
cache per file (``parsing.mail_policy``). Ours:

- the format is told by the first bytes (an mbox starts with "From ");
- a message that cannot be decoded or has no sender address is skipped and counted, a
  repeated Message-ID is counted as a duplicate; a file with no usable message is
  InvalidInput;
- a thread is named by its root: the first Message-ID in References, else the
  In-Reply-To, else the message's own, followed through messages of the file;
- ``choose_me`` checks the given "our" addresses, or guesses them from the tally.
"""

from __future__ import annotations

import json
import mailbox
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import EmailPolicy
from pathlib import Path

from zerogate.errors import InvalidInput
from zerogate.workflows.mail.parsing import PARSE_ERRORS, mail_policy, parse_message
from zerogate.workflows.mail.records import Mail

FROM_ESCAPED = re.compile(rb"(?m)^>(>*From )")


@dataclass
class Tally:
    """What reading a file counted, besides the messages themselves."""

    messages: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    attachments: int = 0
    undated: list[dict[str, str]] = field(default_factory=list)
    undated_count: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    latest: datetime | None = None

    def add(self, mail: Mail) -> None:
        """Count one usable message."""
        self.messages += 1
        self.attachments += mail.attachments
        self.sent[mail.sender] += 1
        self.received.update(set(mail.to + mail.cc))
        if mail.date is None:
            self.undated_count += 1
            if len(self.undated) < 10:
                self.undated.append({"id": mail.id, "problem": mail.date_problem or ""})
            return
        self.first = mail.date if self.first is None else min(self.first, mail.date)
        self.latest = mail.date if self.latest is None else max(self.latest, mail.date)


def detect_format(path: Path, wanted: str) -> str:
    """``eml`` or ``mbox``: ``wanted`` checked, or (``auto``) told by the first bytes."""
    with path.open("rb") as f:
        head = f.read(4096)
    if not head.strip():
        raise InvalidInput("the mail file is empty")
    if b"\0" in head:
        raise InvalidInput("the mail file is binary data, not an e-mail message or mbox")
    is_mbox = head.lstrip(b"\xef\xbb\xbf\r\n").startswith(b"From ")
    if wanted == "mbox" and not is_mbox:
        raise InvalidInput("format 'mbox' was asked for, but the file does not start with "
                           "a 'From ' line as an mbox does (use format 'eml' or 'auto')")
    return wanted if wanted != "auto" else ("mbox" if is_mbox else "eml")


def raw_messages(path: Path, fmt: str) -> Iterator[bytes]:
    """Each message's bytes, one at a time."""
    if fmt == "eml":
        yield path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        return
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():  # body lines ">From " were "From " before escaping
            yield FROM_ESCAPED.sub(rb"\1", box.get_bytes(key))
    finally:
        box.close()


def read_mailbox(path: Path, wanted: str, out: Path) -> Tally:
    """Parse the file at ``path`` to one JSON line per message in ``out`` (thread roots
    filled in) and return the tally; InvalidInput if no message is usable."""
    fmt = detect_format(path, wanted)
    partial = out.with_name(out.name + ".partial")
    links: dict[str, str] = {}
    tally, policy = Tally(), mail_policy()  # the header cache lives for this file only
    with partial.open("w", encoding="utf-8") as f:
        for index, raw in enumerate(raw_messages(path, fmt)):
            mail = _parse_counted(raw, index, tally, policy)
            if mail is None:
                continue
            if mail.id in links:
                tally.duplicates += 1
                continue
            links[mail.id] = mail.references[0] if mail.references else (
                mail.in_reply_to or mail.id)
            tally.add(mail)
            f.write(json.dumps(mail.record(), ensure_ascii=False) + "\n")
    if not links:
        partial.unlink()
        raise InvalidInput(_nothing_usable(fmt, tally))
    _fill_threads(partial, out, thread_roots(links))
    return tally


def _parse_counted(raw: bytes, index: int, tally: Tally,
                   policy: EmailPolicy[EmailMessage]) -> Mail | None:
    try:
        mail = parse_message(raw, index, policy)
    except PARSE_ERRORS as exc:
        tally.skipped[f"could not be decoded ({type(exc).__name__})"] += 1
        return None
    if mail is None:
        tally.skipped["no sender address (From)"] += 1
    return mail


def _nothing_usable(fmt: str, tally: Tally) -> str:
    seen = sum(tally.skipped.values())
    if not seen:
        return f"the {fmt} file holds no message"
    why = "; ".join(f"{n} {reason}" for reason, n in tally.skipped.most_common())
    return (f"the file holds no usable e-mail message (read as {fmt}): of {seen} "
            f"message(s), {why}")


def thread_roots(links: Mapping[str, str]) -> dict[str, str]:
    """Each message's thread root, from ``links`` (message -> the oldest ancestor it
    names, itself if none), followed through messages in the file."""
    roots = {}
    for start in links:
        node, seen = start, {start}
        while node in links and links[node] not in seen:
            node = links[node]
            seen.add(node)
        roots[start] = node
    return roots


def _fill_threads(partial: Path, out: Path, roots: Mapping[str, str]) -> None:
    with partial.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            rec = json.loads(line)
            rec["thread"] = roots[rec["id"]]
            dst.write(json.dumps(rec, ensure_ascii=False) + "\n")
    partial.unlink()


def choose_me(given: list[str], tally: Tally) -> tuple[list[str], bool]:
    """Our addresses: ``given`` (checked to occur), else the address that occurs most
    as sender or recipient (ties: the one received more, then alphabetical). The bool
    says whether they were guessed."""
    total = tally.sent + tally.received
    if not given:
        return [min(total, key=lambda a: (-total[a], -tally.received[a], a))], True
    wanted = list(dict.fromkeys(a.strip().lower() for a in given))
    if not any(a in total for a in wanted):
        top = ", ".join(a for a, _ in total.most_common(3))
        raise InvalidInput(f"none of the addresses in 'me' ({', '.join(wanted)}) sends or "
                           f"receives a message in the file; its most frequent are {top}")
    return wanted, False
