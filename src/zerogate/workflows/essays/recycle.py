"""Recycled passages between essays: text reused from one essay in another.

Each essay becomes normalised words (lower case, apostrophes dropped, punctuation
ignored) and every run of ``SHINGLE`` consecutive words a shingle, indexed by its
hash, so finding every shared shingle is one pass over all essays (no pairwise string
comparison; shingles are compared by 64-bit hash, where a false match is about as
likely as one in a billion). Consecutive shared shingles on one diagonal (the same
offset from the first essay to the second) form a maximal run, and runs less than
``SHINGLE`` words apart in both essays are joined into one passage, so a paragraph
reused with a word or two changed (lightly edited) is one passage. Each passage
names both essays, its word span in each (``start`` inclusive, ``end`` exclusive, in
normalised words), its text in each, and its share of each essay.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SHINGLE = 8
MAX_TEXTS = 200  # passages reported with their text
_BITS = 32  # an (essay, offset) pair packed in one int: essay << _BITS | offset
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Tokens:
    """An essay's normalised words and each word's character span in its text."""

    text: str
    words: list[str]
    spans: list[tuple[int, int]]

    def excerpt(self, start: int, end: int) -> str:
        """The text from word ``start`` to word ``end - 1``, as written."""
        return self.text[self.spans[start][0]:self.spans[end - 1][1]]


@dataclass(slots=True)
class Run:
    """Matching words: ``a[a0:a1]`` against ``b[b0:b1]``, ``matched`` of them exact."""

    a0: int
    a1: int
    b0: int
    b1: int
    matched: int


def tokenize(text: str) -> Tokens:
    """Normalised words of ``text`` with their spans."""
    found = list(_TOKEN.finditer(text))
    return Tokens(text, [m.group().lower().replace("'", "") for m in found],
                  [m.span() for m in found])


def shingle_hashes(doc: Tokens, k: int = SHINGLE) -> list[int]:
    """The hash of each run of ``k`` words, by starting offset."""
    w = doc.words
    return [hash(tuple(w[p:p + k])) for p in range(len(w) - k + 1)]


def shared_runs(docs: Sequence[Tokens], k: int = SHINGLE) -> dict[tuple[int, int], list[Run]]:
    """For each pair of essays ``(a, b)``, ``a < b``, the maximal runs of shingles the
    two share on one diagonal, found from one index of every shingle: a shared shingle
    whose predecessors also match continues a run and is skipped; one that starts a
    run is followed while the next shingles match. Memory grows with the runs, not with
    the shared shingles, so a portfolio of copies stays small."""
    hashes = [shingle_hashes(doc, k) for doc in docs]
    first: dict[int, int] = {}  # shingle hash -> its first (essay, offset), packed
    repeats: dict[int, list[int]] = defaultdict(list)  # -> every later one
    for d, hs in enumerate(hashes):
        for p, h in enumerate(hs):
            if first.setdefault(h, d << _BITS | p) != d << _BITS | p:
                repeats[h].append(d << _BITS | p)
    found: dict[tuple[int, int], list[Run]] = defaultdict(list)
    for h, later in repeats.items():
        hits = [divmod(x, 1 << _BITS) for x in (first[h], *later)]
        for i, (da, pa) in enumerate(hits):
            ha = hashes[da]
            for db, pb in hits[i + 1:]:  # hits are in (essay, offset) order: da <= db
                hb = hashes[db]
                if db == da or (pa and pb and ha[pa - 1] == hb[pb - 1]):
                    continue
                n = 1
                while pa + n < len(ha) and pb + n < len(hb) and ha[pa + n] == hb[pb + n]:
                    n += 1
                found[(da, db)].append(Run(pa, pa + n - 1 + k, pb, pb + n - 1 + k, n - 1 + k))
    return found


def _join(ordered: list[Run], k: int) -> list[Run]:
    joined: list[Run] = []
    for run in ordered:
        last = joined[-1] if joined else None
        if last and 0 <= run.a0 - last.a1 < k and 0 <= run.b0 - last.b1 < k:
            last.a1, last.b1, last.matched = run.a1, run.b1, last.matched + run.a1 - run.a0
        else:
            joined.append(run)
    return joined


def recycled(texts: Sequence[tuple[str, str]], k: int = SHINGLE,
             with_text: int = MAX_TEXTS) -> dict[str, Any]:
    """Recycled passages among ``(key, text)`` essays, longest first (the first
    ``with_text`` with their text, the rest with spans only, so a portfolio of copies
    stays small), and each essay's recycled share (its words in any passage)."""
    docs = [tokenize(text) for _, text in texts]
    keys = [key for key, _ in texts]
    covered: list[set[int]] = [set() for _ in docs]
    spans = []
    for (a, b), found in shared_runs(docs, k).items():
        for run in _join(sorted(found, key=lambda r: (r.a0, r.b0)), k):
            covered[a].update(range(run.a0, run.a1))
            covered[b].update(range(run.b0, run.b1))
            spans.append((a, b, run))
    spans.sort(key=lambda x: (x[2].a0 - x[2].a1, keys[x[0]], keys[x[1]], x[2].a0, x[2].b0))
    passages = [_passage(keys, docs, a, b, run, text=i < with_text)
                for i, (a, b, run) in enumerate(spans)]
    essays = {key: {"words": len(doc.words), "recycled_words": len(cov),
                    "share": round(len(cov) / max(len(doc.words), 1), 4)}
              for key, doc, cov in zip(keys, docs, covered, strict=True)}
    return {"shingle": k, "passages": passages, "essays": essays}


def _passage(keys: list[str], docs: Sequence[Tokens], a: int, b: int, run: Run,
             text: bool) -> dict[str, Any]:
    edited = docs[a].words[run.a0:run.a1] != docs[b].words[run.b0:run.b1]
    return {"essay_a": keys[a], "essay_b": keys[b], "start_a": run.a0, "end_a": run.a1,
            "start_b": run.b0, "end_b": run.b1, "words": run.a1 - run.a0,
            "matched_words": run.matched, "edited": edited,
            "text": docs[a].excerpt(run.a0, run.a1) if text else None,
            "text_b": docs[b].excerpt(run.b0, run.b1) if text and edited else None,
            "share_a": round((run.a1 - run.a0) / len(docs[a].words), 4),
            "share_b": round((run.b1 - run.b0) / len(docs[b].words), 4)}
