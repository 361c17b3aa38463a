"""The seeded sample mbox the email_analysis template reads for ``{"sample": seed}``
(and its demo load): threads between one of us and Cast contacts, replies with
In-Reply-To/References and quoted text, a tone that drifts per contact, some HTML-only
bodies, a few attachments, one undated and one misdated message. Deterministic: the
same seed writes the same bytes (MIME boundaries included).
"""

from __future__ import annotations

import email.utils
import html
import mailbox
import random
import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from zerogate.workflows.samples import TOPICS, Cast, Person

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
