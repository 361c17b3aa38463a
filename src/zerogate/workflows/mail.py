"""Reading e-mail files (one .eml message or an mbox) into plain message records, and
writing the seeded sample mbox the email_analysis template's demo load reads.

The stdlib does the decoding: ``email`` with ``policy.default`` (RFC 2047 headers,
charsets, quoted-printable and base64 bodies) and ``mailbox.mbox`` (splitting an mbox
one message at a time, so a large file never sits in memory whole; each message is
fed to the parser in pieces, and repeating headers are parsed once per file). Ours:

- the body is the message's plain-text part, else its HTML part reduced to text with
  ``html.parser`` (a ``<blockquote>`` becomes ``>``-quoted lines, as a plain reply's);
- ``own_text`` drops what the sender did not write: ``>`` lines, "On ... wrote:"
  blocks, an Outlook "Original Message" and a ``--`` signature;
- attachments are counted, never decoded;
- a missing or broken Date keeps the message, flagged; a message without a sender
  address is skipped and counted; a file with no usable message is InvalidInput;
- a thread is named by its root: the first Message-ID in References, else the
  In-Reply-To, else the message's own, followed through messages of the file.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import html
import json
import mailbox
import random
import re
import textwrap
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesFeedParser
from email.policy import EmailPolicy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from zerogate.errors import InvalidInput
from zerogate.workflows.samples import TOPICS, Cast, Person

MSG_ID = re.compile(r"<[^<>\s]+>")
FROM_ESCAPED = re.compile(rb"(?m)^>(>*From )")
CHUNK, CACHE_SIZE = 1 << 16, 256
CACHED_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding",
                            "mime-version", "from", "to", "cc", "subject"})
ATTRIBUTION = re.compile(r"^\s*On\s.{0,300}\bwrote:\s*$", re.IGNORECASE)
OWN_ENDS = re.compile(r"^\s*(-{2,}\s*Original Message\s*-{2,}|_{20,})\s*$", re.IGNORECASE)
SKIP_TAGS = frozenset({"head", "script", "style", "title"})
BLOCK_TAGS = frozenset({"p", "div", "br", "li", "tr", "table", "ul", "ol", "pre", "hr",
                        "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"})
PARSE_ERRORS = (ValueError, LookupError, IndexError, TypeError, AttributeError,
                email.errors.MessageError)


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


# -- one message -------------------------------------------------------------------------


class _Headers(HeaderRegistry):
    """policy.default's header parsing, each distinct value of the headers that repeat
    across a mailbox (Content-Type, From, To ...) parsed once: the stdlib parses a
    header on every access, which was three quarters of the time per message."""

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
    """``policy.default`` with a header cache of its own (one per file read)."""
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


class _HtmlText(HTMLParser):
    """Text of an HTML body: one line per block, blockquotes ``>``-quoted."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.quote = 0
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self.skip += 1
        elif tag in BLOCK_TAGS:
            self.flush()
        self.quote += tag == "blockquote"

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skip = max(self.skip - 1, 0)
        elif tag in BLOCK_TAGS:
            self.flush()
        if tag == "blockquote":
            self.quote = max(self.quote - 1, 0)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.line.append(data)

    def flush(self) -> None:
        text = " ".join("".join(self.line).split())
        if text:
            self.lines.append("> " * self.quote + text)
        self.line = []


def html_to_text(html: str) -> str:
    """Reduce an HTML body to text: one paragraph per block (blank lines between, as in
    plain text), entities decoded, scripts and styles dropped."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    parser.flush()
    return "\n\n".join(parser.lines)


def own_text(text: str) -> tuple[str, int]:
    """What the sender wrote, without quoted replies or signature; and how many lines
    were dropped. An "On ... wrote:" line followed by ``>`` lines is dropped with them
    (an answer below them is kept); followed by unmarked text, everything after it is
    the quote."""
    lines = text.splitlines()
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">"):
            i += 1
            continue
        span = _attribution(lines, i)
        if span and not _quoted_next(lines, i + span):
            break
        if not span and (OWN_ENDS.match(line) or line.rstrip() == "--"):
            break
        if not span:
            kept.append(line)
        i += span or 1
    return "\n".join(kept).strip(), len(lines) - len(kept)


def _attribution(lines: list[str], i: int) -> int:
    """1 or 2 if an "On ... wrote:" line (perhaps wrapped once) starts at ``i``, else 0."""
    if ATTRIBUTION.match(lines[i]):
        return 1
    wrapped = i + 1 < len(lines) and lines[i].lstrip().lower().startswith("on ")
    return 2 if wrapped and ATTRIBUTION.match(lines[i] + " " + lines[i + 1]) else 0


def _quoted_next(lines: list[str], i: int) -> bool:
    rest = (line for line in lines[i:] if line.strip())
    return next(rest, "").lstrip().startswith(">")


# -- a whole file ------------------------------------------------------------------------


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
    tally, policy = Tally(), mail_policy()
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


# -- sample data -------------------------------------------------------------------------

SAMPLE_START = datetime(2025, 1, 6, 8, 30, tzinfo=UTC)
GOOD = ("Thank you so much for the quick turnaround, this is wonderful.",
        "Great news: the board loved the {topic} proposal!",
        "I really appreciate your help with the {topic} report.",
        "Congratulations on the launch, the team did a brilliant job.",
        "The site visit was excellent and everyone was impressed.")
PLAIN = ("Attached is the updated budget for the {topic} programme.",
         "The next review meeting is on {day} at 10:00.",
         "Please find the draft timeline for {topic} below.",
         "We will share the quarterly figures next week.",
         "I have copied in the finance team for the invoice.")
BAD = ("I am disappointed that the {topic} report is late again.",
       "Unfortunately the payment has not arrived, which is a serious problem.",
       "Frankly, the last draft was poor and missed the brief.",
       "We are frustrated by the repeated delays and the lack of answers.",
       "I'm worried the cuts will badly hurt the {topic} programme.")
ASKS = ("Could you confirm by {day}?", "Does that work for you?", "Any update on this?")
MATTERS = ("budget", "site visit", "quarterly report", "renewal", "grant agreement",
           "board meeting", "invoice")


def write_sample_mbox(path: Path, seed: int) -> None:
    """A realistic seeded mbox: about 300 messages in 80 threads over six months."""
    write_mbox(path, seed, threads=80)


def write_mbox(path: Path, seed: int, *, threads: int) -> None:
    """``threads`` seeded threads between one of us and 25 contacts (Cast people): replies
    with In-Reply-To/References and quoted text, tone from each contact's drifting
    mood, some HTML-only, some with an attachment, one undated and one misdated."""
    rng = random.Random(seed)
    me, *contacts = Cast(seed).people(26)
    moods = {p.email: (rng.uniform(-0.7, 0.8), rng.uniform(-0.8, 0.8)) for p in contacts}
    path.unlink(missing_ok=True)
    box = mailbox.mbox(path)
    try:
        for t in range(threads):
            them = rng.choices(contacts, weights=[1 / (i + 2) for i in range(len(contacts))])[0]
            cc = rng.choice(contacts) if rng.random() < 0.15 else None
            for msg in _sample_thread(rng, f"{seed}.{t}", me, them, cc, moods[them.email]):
                box.add(msg)
        box.flush()
    finally:
        box.close()


def _sample_thread(rng: random.Random, tid: str, me: Person, them: Person,
                   cc: Person | None, mood: tuple[float, float]) -> Iterator[bytes]:
    topic = rng.choice(TOPICS)
    subject = f"{topic.title()} {rng.choice(MATTERS)}"
    when = SAMPLE_START + timedelta(days=rng.uniform(0, 175), minutes=rng.randrange(600))
    ours = rng.random() < 0.5
    refs: list[str] = []
    quote = ""
    for i in range(rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6, 7))):
        sender, to = (me, them) if ours else (them, me)
        drift = mood[0] + mood[1] * (when - SAMPLE_START).days / 180
        text = _sample_text(rng, to, sender, topic, drift * (0.5 if ours else 1.0))
        msg = _sample_message(rng, f"<{tid}.{i}@{sender.email.split('@')[1]}>", sender, to,
                              cc, ("Re: " if refs else "") + subject, when, text, quote, refs)
        raw = msg.as_bytes(unixfrom=True)
        if tid.endswith(".5") and i == 0:  # a draft exported without a Date
            raw = re.sub(rb"\nDate: [^\n]*", b"", raw, count=1)
        elif tid.endswith(".11") and i == 0:  # a client that wrote a broken Date
            raw = re.sub(rb"\nDate: [^\n]*", b"\nDate: next Tuesday morning", raw, count=1)
        yield raw
        quote = f"On {when:%a, %d %b %Y at %H:%M}, {sender.name} <{sender.email}> wrote:\n" + \
            "\n".join("> " + line for line in text.splitlines())
        refs = [*refs, msg["Message-ID"]]
        when += timedelta(hours=rng.lognormvariate(1.2 if ours else 2.2, 1.1))
        ours = not ours if rng.random() < 0.85 else ours


def _sample_text(rng: random.Random, to: Person, sender: Person, topic: str,
                 mood: float) -> str:
    day = rng.choice(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"))
    lines = []
    for _ in range(rng.randint(2, 4)):
        x = rng.gauss(mood, 0.6)
        pool = GOOD if x > 0.35 else BAD if x < -0.35 else PLAIN
        lines.append(rng.choice(pool).format(topic=topic, day=day))
    if rng.random() < 0.4:
        lines.append(rng.choice(ASKS).format(day=day))
    return (f"Hi {to.name.split()[0]},\n\n" + textwrap.fill(" ".join(lines), 72) +
            f"\n\nBest,\n{sender.name.split()[0]}\n")


def _sample_message(rng: random.Random, mid: str, sender: Person, to: Person,
                    cc: Person | None, subject: str, when: datetime, text: str, quote: str,
                    refs: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg.set_unixfrom(f"From {sender.email} {when:%a %b %d %H:%M:%S %Y}")
    msg["From"] = f"{sender.name} <{sender.email}>"
    msg["To"] = f"{to.name} <{to.email}>"
    if cc is not None and cc not in (sender, to):
        msg["Cc"] = f"{cc.name} <{cc.email}>"
    msg["Subject"], msg["Message-ID"] = subject, mid
    msg["Date"] = email.utils.format_datetime(when)
    if refs:
        msg["In-Reply-To"], msg["References"] = refs[-1], " ".join(refs)
    if rng.random() < 0.15:
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
        quoted = "<br>".join(html.escape(line[2:]) for line in quote.splitlines()[1:])
        attribution = html.escape(quote.splitlines()[0]) if quote else ""
        body = (f"<html><body>{paragraphs}<div class=\"gmail_quote\">{attribution}</div>"
                f"<blockquote>{quoted}</blockquote></body></html>" if quote else
                f"<html><body>{paragraphs}</body></html>")
        msg.set_content(body, subtype="html", cte="quoted-printable")
    else:
        msg.set_content(text + ("\n" + quote + "\n" if quote else ""))
    if rng.random() < 0.08:
        rows = "".join(f"{item},{rng.randrange(500, 20000)}\n" for item in MATTERS[:4])
        msg.add_attachment("item,amount\n" + rows, subtype="csv", filename="figures.csv")
        msg.set_boundary(f"=_part_{mid.strip('<>')}")  # not a random one: seeded output
    return msg
