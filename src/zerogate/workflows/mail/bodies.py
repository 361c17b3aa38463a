"""What the sender of a message wrote: an HTML body reduced to text, and the quoted
reply text, attributions and signature dropped before the tone is scored.

- ``html_to_text`` uses the stdlib ``html.parser``: one paragraph per block, a
  ``<blockquote>`` becomes ``>``-quoted lines (as a plain reply's), scripts and styles
  dropped;
- ``own_text`` drops ``>`` lines, "On ... wrote:" blocks, an Outlook "Original
  Message" and a ``--`` signature.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

ATTRIBUTION = re.compile(r"^\s*On\s.{0,300}\bwrote:\s*$", re.IGNORECASE)
OWN_ENDS = re.compile(r"^\s*(-{2,}\s*Original Message\s*-{2,}|_{20,})\s*$", re.IGNORECASE)
SKIP_TAGS = frozenset({"head", "script", "style", "title"})
BLOCK_TAGS = frozenset({"p", "div", "br", "li", "tr", "table", "ul", "ol", "pre", "hr",
                        "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"})


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
