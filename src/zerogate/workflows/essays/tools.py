"""Pure text tools of the essay workflows: normalising an essay, splitting it into
paragraphs, sentences and words, counting words the way application portals do,
checking word limits, and readability.

Pure (text in, plain data out) so that each tool is one task of the essay workflows
(``zerogate.workflows.essays``) and tests check it against hand-computed values.

- Portal word count: whitespace-separated tokens holding a letter or a digit, as
  application portals and word processors count, so ``well-known`` and ``don't`` are
  one word each, ``1,200`` and ``3.5`` are words, and a lone ``—`` or ``&`` is not.
- Readability: Flesch reading ease ``206.835 - 1.015 W/S - 84.6 Y/W`` and
  Flesch-Kincaid grade ``0.39 W/S + 11.8 Y/W - 15.59`` (W words, S sentences,
  Y syllables). Syllables come from the hyphenation points of pyphen's bundled en_US
  dictionary (as textstat counts them), raised to a vowel-group estimate where the
  dictionary leaves a short edge syllable unsplit (``a-bout``, ``o-pen``); a
  hyphenated word adds up its parts, a numeral counts a syllable per digit.
"""

from __future__ import annotations

import functools
import itertools
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pyphen

from zerogate.errors import InvalidInput

MAX_WORDS = 20_000
LONG_SENTENCE = 35  # words; a sentence this long or longer is listed
_SPACES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\t": " ",
    "\u2010": "-", "\u2011": "-", "\u2026": "...", "\u200b": None, "\ufeff": None,
})
_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc",
                            "e.g", "i.e", "u.s", "mt", "a.m", "p.m", "approx"})
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*(?:-[A-Za-z]+(?:'[A-Za-z]+)*)*|\d+(?:[.,]\d+)*")
_VOWELS = re.compile(r"[aeiouy]+")
_TOKENS = re.compile(r"\S+")
_ALNUM = re.compile(r"[^\W_]")  # a letter or a digit
_LETTERS = re.compile(r"[a-z]+(?:'[a-z]+)?")
STOPWORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "even",
    "ever", "every", "few", "for", "from", "further", "get", "got", "had", "has", "have", "having",
    "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "itself", "just", "let", "like", "lot", "made", "make", "many",
    "may", "me", "might", "more", "most", "much", "must", "my", "myself", "never", "no", "nor",
    "not", "now", "of", "off", "on", "once", "one", "only", "or", "other", "our", "ours",
    "ourselves", "out", "over", "own", "per", "really", "said", "same", "see", "she", "should",
    "since", "so", "some", "still", "such", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "thing", "things", "this", "those", "through",
    "to", "too", "under", "until", "up", "upon", "us", "very", "was", "way", "we", "well", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "within",
    "without", "would", "yet", "you", "your", "yours", "yourself", "yourselves"
))


def decode(data: bytes) -> str:
    """The essay file's text; InvalidInput naming the byte if it is not UTF-8 text."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InvalidInput(f"the essay is not text: it holds a NUL byte at offset {nul} "
                           "(a binary file?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the essay is not UTF-8 text: byte 0x{data[exc.start]:02x} at "
                           f"offset {exc.start} cannot be decoded") from None


def normalise(text: str) -> str:
    """One space between words, straight quotes, paragraphs separated by one blank
    line. Blank lines separate paragraphs; a text without any has a paragraph a line."""
    lines = [" ".join(line.split()) for line in
             text.replace("\r\n", "\n").replace("\r", "\n").translate(_SPACES).split("\n")]
    if any(not line for line in _strip_edges(lines)):
        blocks, current = [], []
        for line in lines:
            if line:
                current.append(line)
            elif current:
                blocks.append(" ".join(current))
                current = []
        blocks.extend([" ".join(current)] if current else [])
    else:
        blocks = [line for line in lines if line]
    return "\n\n".join(blocks)


def _strip_edges(lines: list[str]) -> list[str]:
    nonempty = [i for i, line in enumerate(lines) if line]
    return lines[nonempty[0]:nonempty[-1] + 1] if nonempty else []


def paragraphs(normalised: str) -> list[str]:
    """The paragraphs of a normalised essay."""
    return [p for p in normalised.split("\n\n") if p.strip()]


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph: a break after . ! or ? (and any closing quote)
    before a capital or digit, unless the period ends an abbreviation or an initial."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        if match.group().startswith(".") and _abbreviation(paragraph[start:match.start()]):
            continue
        out.append(paragraph[start:match.end()].strip())
        start = match.end()
    tail = paragraph[start:].strip()
    return [*out, tail] if tail else out


def _abbreviation(before: str) -> bool:
    tokens = before.split()
    if not tokens:
        return False
    last = tokens[-1].lstrip("\"'([").lower()
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha() and last != "i")


def sentences(normalised: str) -> list[str]:
    """All sentences of the essay in order (numbered from 1 in reports)."""
    return [s for p in paragraphs(normalised) for s in split_sentences(p)]


def words(text: str) -> list[str]:
    """Words as readability counts them: letters with inner apostrophes and hyphens,
    or numerals (``1,200``, ``3.5``)."""
    return WORD.findall(text)


def portal_words(text: str) -> int:
    """Words as application portals count them (see the module docstring)."""
    return sum(1 for token in _TOKENS.finditer(text) if _ALNUM.search(token.group()))


def counts(normalised: str) -> dict[str, int]:
    """Portal words, sentences, paragraphs and characters of a normalised essay."""
    return {"words": portal_words(normalised), "sentences": len(sentences(normalised)),
            "paragraphs": len(paragraphs(normalised)), "characters": len(normalised)}


def check_size(text: str) -> None:
    """InvalidInput if the essay has no words or more than MAX_WORDS; counting stops
    past the limit, so a huge input is refused at once, before it is normalised."""
    found = (1 for token in _TOKENS.finditer(text) if _ALNUM.search(token.group()))
    n = sum(itertools.islice(found, MAX_WORDS + 1))
    if n == 0:
        raise InvalidInput("the essay is empty: it holds no words")
    if n > MAX_WORDS:
        raise InvalidInput(f"the essay has more than {MAX_WORDS:,} words, the most that "
                           "can be reviewed")


def limit_check(words_counted: int, college: str, limit: int,
                minimum: int | None = None) -> dict[str, Any]:
    """One college's word limit: ``status`` ok, over (by ``over_by``) or under its
    minimum (by ``under_by``)."""
    over = max(words_counted - limit, 0)
    under = max((minimum or 0) - words_counted, 0)
    status = "over" if over else "under" if under else "ok"
    return {"college": college, "limit": limit, "minimum": minimum, "words": words_counted,
            "status": status, "over_by": over, "under_by": under}


def limits(normalised: str, colleges: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``limit_check`` for each ``{"college", "limit", "minimum"}``."""
    n = portal_words(normalised)
    return [limit_check(n, c["college"], int(c["limit"]), c.get("minimum")) for c in colleges]


@functools.lru_cache(maxsize=1)
def _dictionary() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    """Syllables of one word (see the module docstring)."""
    if word[:1].isdigit():
        return max(sum(ch.isdigit() for ch in word), 1)
    parts = [p for p in word.lower().replace("'", "").split("-") if p]
    return sum(max(len(_dictionary().positions(p)) + 1, _vowel_groups(p)) for p in parts) or 1


def _vowel_groups(word: str) -> int:
    n = len(_VOWELS.findall(word))
    if n > 1 and word.endswith("e") and not re.search(r"[^aeiouy]le$|ee$|ye$", word):
        n -= 1  # a silent final e (make, whole), but not table, agree
    elif n > 1 and re.search(r"[^aeiouy]e[sd]$", word) and not re.search(
            r"(?:[cgsxz]|ch|sh)es$|[td]ed$", word):
        n -= 1  # makes, lived; but judges, wanted keep theirs
    return max(n, 1)


def flesch(n_words: int, n_sentences: int, n_syllables: int) -> tuple[float, float]:
    """Flesch reading ease and Flesch-Kincaid grade from the three counts."""
    if n_words == 0 or n_sentences == 0:
        return 0.0, 0.0
    per_sentence, per_word = n_words / n_sentences, n_syllables / n_words
    return (206.835 - 1.015 * per_sentence - 84.6 * per_word,
            0.39 * per_sentence + 11.8 * per_word - 15.59)


def readability(normalised: str, long_at: int = LONG_SENTENCE) -> dict[str, Any]:
    """Flesch scores, sentence-length mean and spread, and the long sentences."""
    sents = sentences(normalised)
    lengths = [len(words(s)) for s in sents]
    counted = [w for s in sents for w in words(s)]
    total = sum(syllables(w) * n for w, n in Counter(w.lower() for w in counted).items())
    ease, grade = flesch(len(counted), len(sents), total)
    return {"flesch_reading_ease": round(ease, 2), "flesch_kincaid_grade": round(grade, 2),
            "words": len(counted), "sentences": len(sents), "syllables": total,
            "sentence_mean": round(statistics.fmean(lengths), 2) if lengths else 0.0,
            "sentence_spread": round(statistics.pstdev(lengths), 2) if lengths else 0.0,
            "long_sentences": long_sentences(sents, lengths, long_at)}


def long_sentences(sents: Sequence[str], lengths: Sequence[int],
                   long_at: int) -> list[dict[str, Any]]:
    """Sentences of ``long_at`` words or more: number (from 1), words, opening text."""
    return [{"number": i + 1, "words": n, "text": clip(s)}
            for i, (s, n) in enumerate(zip(sents, lengths, strict=True)) if n >= long_at]


def clip(text: str, size: int = 100) -> str:
    """``text`` cut to about ``size`` characters at a word boundary, with an ellipsis."""
    if len(text) <= size:
        return text
    return text[:size].rsplit(" ", 1)[0] + "..."


def stem(word: str) -> str:
    """A light suffix-stripping stem, so ``communities`` and ``community``, ``learned``
    and ``learning``, ``realized`` and ``realization`` meet: a possessive or plural
    ending, then one of -ization, -ion, -ing, -ed, -ly, then a doubled consonant or a
    final e."""
    w = word.lower().removesuffix("'s")
    for suffix, keep in (("ies", "y"), ("es", "e"), ("s", "")):
        if w.endswith(suffix) and not w.endswith(("ss", "us", "is")) and len(w) - len(
                suffix) >= 3:
            w = w[: len(w) - len(suffix)] + keep
            break
    for suffix, keep in (("ization", "iz"), ("isation", "is"), ("ion", ""), ("ing", ""),
                         ("ed", ""), ("ly", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: len(w) - len(suffix)] + keep
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]  # running -> runn -> run
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def term_forms(text: str) -> dict[str, str]:
    """Content words of ``text`` by stem, each with the first form it appeared in
    (stopwords and words under three letters left out), in order of appearance."""
    forms: dict[str, str] = {}
    for word in _LETTERS.findall(text.lower()):
        if len(word) >= 3 and word not in STOPWORDS:
            forms.setdefault(stem(word), word)
    return forms


def terms(text: str) -> list[str]:
    """The stems of the content words of ``text``, repeats included, in order."""
    return [stem(w) for w in _LETTERS.findall(text.lower())
            if len(w) >= 3 and w not in STOPWORDS]
