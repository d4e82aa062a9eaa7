"""Text normalisation and word n-gram hashing shared by the checks.

"Normalised words" are the casefolded `\\w+` runs of the NFKC-normalised text: punctuation and
spacing never make two texts differ. Many texts are held as one flat numpy array of 64-bit word
values with offsets, so n-gram hashing for 100,000 texts is a handful of vector operations.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from itertools import chain

import numpy as np

WORD = re.compile(r"\w+")
# Odd 64-bit multiplier of the polynomial n-gram hash (arithmetic wraps modulo 2**64).
_P = np.uint64(0x9E3779B97F4A7C15)


def _prepare(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def words(text: str) -> list[str]:
    return WORD.findall(_prepare(text))


def normalise(text: str) -> str:
    return " ".join(words(text))


def word_spans(text: str) -> list[tuple[int, int]] | None:
    """Character offsets of the normalised words in the original text, or None when
    normalisation changed the text's length (offsets would not line up)."""
    prepared = _prepare(text)
    if len(prepared) != len(text):
        return None
    return [m.span() for m in WORD.finditer(prepared)]


def _word_value(word: str) -> int:
    # A stable hash (not Python's per-process hash) so results do not change between runs.
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


class WordTable:
    """Normalised words of many texts: `values` (uint64 per word) and `offsets` (len n+1)."""

    def __init__(self, texts: list[str]):
        lists = [words(t) for t in texts]
        self.norms = [" ".join(w) for w in lists]  # the normalised texts, free while the words are at hand
        self.lengths = np.fromiter(map(len, lists), np.int64, len(lists))
        self.offsets = np.zeros(len(lists) + 1, np.int64)
        np.cumsum(self.lengths, out=self.offsets[1:])
        flat = list(chain.from_iterable(lists))
        vocab = list(dict.fromkeys(flat))
        index = {w: i for i, w in enumerate(vocab)}
        self.ids = np.fromiter(map(index.__getitem__, flat), np.int64, len(flat))
        table = np.fromiter(map(_word_value, vocab), np.uint64, len(vocab))
        self.values = table[self.ids] if len(flat) else np.zeros(0, np.uint64)
        self.vocab_size = len(vocab)

    def __len__(self) -> int:
        return len(self.lengths)

    def doc_of_position(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    def ngrams(self, n: int, *, whole_short: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hashes of every n-word window inside each text: (hashes, doc index, start word).

        With `whole_short`, a non-empty text shorter than n words gives one hash of all its words,
        so short texts still take part (near-duplicate shingles). Output is ordered by doc.
        """
        v = self.values
        count = max(len(v) - n + 1, 0)
        h = v[:count].copy()
        for j in range(1, n):
            h = h * _P + v[j : j + count]
        starts = np.arange(count)
        doc = self.doc_of_position()[:count]
        keep = starts + n <= self.offsets[doc + 1]
        hashes, docs, starts = h[keep], doc[keep], starts[keep] - self.offsets[doc[keep]]
        if whole_short:
            short = np.flatnonzero((self.lengths > 0) & (self.lengths < n))
            if len(short):
                extra = np.array([_poly(v[self.offsets[d] : self.offsets[d + 1]]) for d in short], np.uint64)
                hashes = np.concatenate([hashes, extra])
                docs = np.concatenate([docs, short])
                starts = np.concatenate([starts, np.zeros(len(short), np.int64)])
                order = np.argsort(docs, kind="stable")
                hashes, docs, starts = hashes[order], docs[order], starts[order]
        return hashes, docs, starts


def _poly(values: np.ndarray) -> np.uint64:
    h = np.zeros(1, np.uint64)
    for x in values:
        h = h * _P + x
    return h[0]


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
