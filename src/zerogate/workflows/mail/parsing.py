"""Decoding one e-mail message's bytes into a ``Mail`` record.

The stdlib does the decoding: ``email`` with ``policy.default`` (RFC 2047 headers,
charsets, quoted-printable and base64 bodies). Ours:

- the body is the message's plain-text part, else its HTML part reduced to text
  (``bodies.html_to_text``), then only what the sender wrote is kept
  (``bodies.own_text``);
- attachments are counted, never decoded;
- a missing or broken Date keeps the message, flagged; a message without a sender
  address is None (the caller counts it).

The stdlib parses a header on every access, which was three quarters of the time per
message; ``mail_policy`` returns a policy whose header factory remembers each distinct
value of the headers that repeat across a mailbox. The cache belongs to that policy
object, made once per file read (never shared between calls or kept at module level).
"""

from __future__ import annotations

import email.errors
import email.policy
import re
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesFeedParser
from email.policy import EmailPolicy
from typing import Any

from zerogate.workflows.mail.bodies import html_to_text, own_text
from zerogate.workflows.mail.records import Mail

MSG_ID = re.compile(r"<[^<>\s]+>")
CHUNK, CACHE_SIZE = 1 << 16, 256
CACHED_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding",
                            "mime-version", "from", "to", "cc", "subject"})
PARSE_ERRORS = (ValueError, LookupError, IndexError, TypeError, AttributeError,
                email.errors.MessageError)


class _Headers(HeaderRegistry):
    """policy.default's header parsing, each distinct value of the headers that repeat
    across a mailbox (Content-Type, From, To ...) parsed once per instance."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: Any) -> BaseHeader:
        key = (name.lower(), str(value))
        if key[0] not in CACHED_HEADERS:
            return super().__call__(name, value)
        if key not in self.seen:
            if len(self.seen) >= CACHE_SIZE:  # about 12 KiB each, with their parse trees
                self.seen.clear()
            self.seen[key] = super().__call__(name, value)
        return self.seen[key]


def mail_policy() -> EmailPolicy[EmailMessage]:
    """``policy.default`` with a header cache of its own (make one per file read)."""
    return email.policy.default.clone(header_factory=_Headers())


def parse_message(raw: bytes, index: int,
                  policy: EmailPolicy[EmailMessage] | None = None) -> Mail | None:
    """Decode one message; None if it has no sender address (not analysable)."""
    parser = BytesFeedParser(policy=policy or email.policy.default)
    view = memoryview(raw)
    for start in range(0, len(raw), CHUNK):  # in pieces: half the peak of a big message
        parser.feed(bytes(view[start:start + CHUNK]))
    msg = parser.close()
    assert isinstance(msg, EmailMessage)  # policy.default builds EmailMessage
    senders = _addresses(msg, "From")
    if not senders:
        return None
    to, cc = _addresses(msg, "To"), _addresses(msg, "Cc")
    date, problem = _date(msg)
    text, body = body_text(msg)
    own, dropped = own_text(text)
    ids = MSG_ID.findall(str(msg.get("Message-ID", "")))
    replied = MSG_ID.findall(str(msg.get("In-Reply-To", "")))
    return Mail(id=ids[0] if ids else f"<no-id-{index}@zerogate.local>",
                sender=senders[0][0], to=tuple(a for a, _ in to), cc=tuple(a for a, _ in cc),
                date=date, date_problem=problem, subject=_one_line(msg.get("Subject", "")),
                text=own, dropped_lines=dropped, in_reply_to=replied[0] if replied else None,
                references=tuple(MSG_ID.findall(str(msg.get("References", "")))),
                attachments=count_attachments(msg, body),
                names={a: n for a, n in senders + to + cc if n})


def _addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    found = []
    for header in msg.get_all(name) or []:
        for address in getattr(header, "addresses", ()):
            spec = address.addr_spec.strip().lower()
            if "@" in spec:
                found.append((spec, _one_line(address.display_name)))
    return found


def _date(msg: EmailMessage) -> tuple[datetime | None, str | None]:
    header = msg.get("Date")
    if header is None or not str(header).strip():
        return None, "missing"
    when = getattr(header, "datetime", None)
    if not isinstance(when, datetime):
        return None, f"unparsable: {_one_line(header)[:80]!r}"
    if when.tzinfo is None:  # "-0000": the zone is unknown, so take UTC
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC), None


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def body_text(msg: EmailMessage) -> tuple[str, Message | None]:
    """The message's text (plain part, else HTML reduced to text) and the part it is."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", None
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: decode what we can
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = content if isinstance(content, str) else ""
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n"), part


def count_attachments(part: Message, body: Message | None) -> int:
    """Attached files and forwarded messages (inline images and the body are not)."""
    if part is body:
        return 0
    disposition = part.get_content_disposition()
    if disposition == "attachment" or part.get_content_type() == "message/rfc822":
        return 1
    if part.is_multipart():
        payload = part.get_payload()
        return sum(count_attachments(p, body) for p in payload if isinstance(p, Message))
    return 1 if part.get_filename() and disposition is None else 0
