"""In-memory BM25: the tokenizer (stop words, light stemming) and exact scoring over postings.

Each term keeps its postings as growing ``(slot, tf)`` arrays; a query gathers the postings of
its distinct terms into one score vector with ``np.add.at`` (a few ns a posting, against
~500 ns for SQLite FTS5's ``bm25()``), masks it by the filter and keeps the top ``k``. Deleted
chunks are tombstoned slots until ``compact_ratio`` of slots are dead. Per-term weights are
cached until the next write (any write changes N, the average length or a document frequency).
Scores are Lucene's BM25: ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))``, k1 = 1.2, b = 0.75.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np

from loaders.filters import Filter
from loaders.local_index import filter_values

_STOP_TEXT = (
    "a an and are as at be been but by can could did do does for from had has have how i if in "
    "into is it its me my no not of on or our so than that the their them then there these they "
    "this those to was we were what when where which who why will with would you your"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())
MAX_QUERY_TERMS = 32
_WORD = re.compile(r"[^\W_]+")
_MARKS = re.compile(r"[\u0300-\u036f]+")  # the diacritics NFKD splits off Latin letters
_VOWELS = frozenset("aeiou")
_PLAIN = re.compile(r"[a-z]+")
# ASCII text skips the regex: every ASCII character that is not a letter or digit separates.
_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` with Latin diacritics removed ("Café" -> "cafe")."""
    if text.isascii():
        return text.lower().translate(_SEPARATORS).split()
    return _WORD.findall(_MARKS.sub("", unicodedata.normalize("NFKD", text.casefold())))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter's steps 1 and 5: plurals, -ed, -ing and final -e ("billed", "billing" -> "bill").

    Only these light steps, so words are conflated when they are inflections of each other,
    not merely related ("refunds" = "refund", but "payment" != "pay"). Non-ASCII words and
    words of two letters or fewer are left alone.
    """
    if len(word) <= 2 or not _PLAIN.fullmatch(word):
        return word
    if word.endswith("sses") or word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if word.endswith("eed"):
        word = word[:-1] if _measure(word[:-3]) > 0 else word
    elif (cut := 2 if word.endswith("ed") else 3 if word.endswith("ing") else 0) and _has_vowel(
        word[:-cut]
    ):
        word = _after_suffix(word[:-cut])
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    if word.endswith("e"):
        m = _measure(word[:-1])
        if m > 1 or (m == 1 and not _cvc(word[:-1])):
            word = word[:-1]
    if word.endswith("ll") and _measure(word) > 1:
        word = word[:-1]
    return word


def _after_suffix(word: str) -> str:
    """Porter 1b's repair after removing -ed/-ing ("hopp" -> "hop", "conflat" -> "conflate")."""
    if word.endswith(("at", "bl", "iz")):
        return word + "e"
    if len(word) > 1 and word[-1] == word[-2] and _consonant(word, -1) and word[-1] not in "lsz":
        return word[:-1]
    return word + "e" if _measure(word) == 1 and _cvc(word) else word


def _consonant(word: str, i: int) -> bool:
    i %= len(word)
    if word[i] in _VOWELS:
        return False
    return word[i] != "y" or i == 0 or not _consonant(word, i - 1)


def _measure(word: str) -> int:
    """Porter's m: the number of vowel-consonant sequences."""
    return "".join("c" if _consonant(word, i) else "v" for i in range(len(word))).count("vc")


def _has_vowel(word: str) -> bool:
    return any(not _consonant(word, i) for i in range(len(word)))


def _cvc(word: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y (as in "hop", not "snow")."""
    if len(word) < 3 or word[-1] in "wxy":
        return False
    return _consonant(word, -3) and not _consonant(word, -2) and _consonant(word, -1)


def query_terms(query: str) -> list[str]:
    """Distinct index terms of ``query`` in order (stop words dropped, stemmed), at most 32."""
    terms = (stem(w) for w in words(query) if w not in STOP_WORDS)
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


class _Chunks:
    """A growing array kept as a list of pieces, joined into one when read."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[np.ndarray] | None = None) -> None:
        self.parts = parts or []

    def append(self, part: np.ndarray) -> None:
        self.parts.append(part)
        if len(self.parts) > 32:  # many small writes: keep reads cheap
            self.array()

    def array(self) -> np.ndarray:
        if not self.parts:  # a term whose first write failed half-way
            return np.zeros((0, 2), dtype=np.int32)
        if len(self.parts) > 1:
            self.parts = [np.concatenate(self.parts)]
        return self.parts[0]


class _TermIds(dict[str, int]):
    """Word -> term id (-1 for stop words), creating terms for new words."""

    def __init__(self, index: BM25Index) -> None:
        super().__init__()
        self.index = index

    def __missing__(self, word: str) -> int:
        if word in STOP_WORDS:
            self[word] = -1
            return -1
        term = stem(word)
        vocab = self.index.vocab
        if term not in vocab:
            vocab[term] = len(vocab)
            self.index.postings.append(_Chunks())
        self[word] = vocab[term]
        return vocab[term]


class BM25Index:
    """Chunks by key: tokenized text in postings, filter values, liveness. Not thread-safe.

    Each chunk also carries a ``rowid`` (where the caller stores it), returned by ``search``.
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, compact_ratio: float = 0.3) -> None:
        self.k1, self.b, self.compact_ratio = k1, b, compact_ratio
        self.vocab: dict[str, int] = {}
        self.postings: list[_Chunks] = []  # per term id: rows of (slot, tf), int32
        self._term_ids = _TermIds(self)
        self._fields: dict[tuple[str, str], _Chunks] = {}
        self._pos: dict[str, int] = {}
        self.rowids = np.zeros(0, dtype=np.int64)
        self._lengths = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self.size = self.count = 0
        self._total = 0.0  # summed length of live chunks
        self._gen = self._cache_gen = 0
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(
        self,
        keys: Sequence[str],
        rowids: Sequence[int],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Index chunks (``keys`` distinct); a key already present is replaced."""
        self.remove(keys)
        m, start = len(keys), self.size
        if m == 0:
            return
        tokens = [words(t) for t in texts]
        counts = np.fromiter(map(len, tokens), dtype=np.int64, count=m)
        flat = chain.from_iterable(tokens)
        terms = np.fromiter(map(self._term_ids.__getitem__, flat), np.int64, int(counts.sum()))
        docs = np.repeat(np.arange(m), counts)[terms >= 0]  # stop words are -1
        terms = terms[terms >= 0]
        lengths = np.bincount(docs, minlength=m)
        self._reserve(start + m)
        self.rowids[start : start + m] = rowids
        self._lengths[start : start + m] = lengths
        self._alive[start : start + m] = True
        self._append_postings(terms, docs, m, start)
        fields: dict[tuple[str, str], list[int]] = {}
        for i, (key, meta) in enumerate(zip(keys, metadatas, strict=True)):
            self._pos[key] = start + i
            for value in set(filter_values(meta)):
                fields.setdefault(value, []).append(start + i)
        for value, slots in fields.items():
            self._fields.setdefault(value, _Chunks()).append(np.array(slots, dtype=np.int32))
        self.size, self.count = start + m, self.count + m
        self._total += float(lengths.sum())
        self._gen += 1

    def _append_postings(self, terms: np.ndarray, docs: np.ndarray, m: int, start: int) -> None:
        """Group (term, doc) pairs of one batch into per-term ``(slot, tf)`` rows."""
        if not len(terms):
            return
        pairs, tf = np.unique(terms * m + docs, return_counts=True)
        term = pairs // m
        rows = np.stack([pairs % m + start, np.minimum(tf, 2**31 - 1)], axis=1).astype(np.int32)
        cuts = np.flatnonzero(np.diff(term)) + 1
        for t, part in zip(term[np.r_[0, cuts]].tolist(), np.split(rows, cuts), strict=True):
            self.postings[t].append(part)

    def _reserve(self, n: int) -> None:
        if n > len(self.rowids):
            grow = max(n, 2 * len(self.rowids), 1024) - len(self.rowids)
            self.rowids = np.concatenate([self.rowids, np.zeros(grow, np.int64)])
            self._lengths = np.concatenate([self._lengths, np.zeros(grow, np.float32)])
            self._alive = np.concatenate([self._alive, np.zeros(grow, bool)])

    def remove(self, keys: Iterable[str]) -> int:
        """Tombstone chunks by key; returns how many were present."""
        gone = [p for p in (self._pos.pop(key, None) for key in keys) if p is not None]
        if gone:
            self._alive[gone] = False
            self.count -= len(gone)
            self._total -= float(self._lengths[gone].sum())
            self._gen += 1
        return len(gone)

    def search(self, terms: Sequence[str], k: int, flt: Filter | None) -> list[tuple[int, float]]:
        """``(rowid, score)`` of the best ``k`` live chunks allowed by ``flt``, best first.

        Only chunks containing a query term score (> 0); ties go to the older chunk.
        """
        ids = [self.vocab[t] for t in dict.fromkeys(terms) if t in self.vocab]
        if not ids or k <= 0 or self.count == 0:
            return []
        scores = np.zeros(self.size, dtype=np.float32)
        for t in ids:
            np.add.at(scores, *self._weights(t))
        if flt:
            scores *= self._allowed(flt)
        hits = np.flatnonzero(scores)
        if len(hits) > k:  # keep every tie of the k-th score so that the older chunk wins
            hits = hits[scores[hits] >= -np.partition(-scores[hits], k - 1)[k - 1]]
        hits = hits[np.lexsort((hits, -scores[hits]))][:k]
        return list(zip(self.rowids[hits].tolist(), scores[hits].tolist(), strict=True))

    def _weights(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Live slots holding ``term`` and their BM25 weights, cached until the next write."""
        if self._cache_gen != self._gen:
            self._cache.clear()
            self._cache_gen = self._gen
        if (hit := self._cache.get(term)) is None:
            rows = self.postings[term].array()
            if self.count < self.size:
                rows = rows[self._alive[rows[:, 0]]]
            slots, tf = np.ascontiguousarray(rows[:, 0]), rows[:, 1].astype(np.float32)
            n, df, k1 = self.count, len(slots), self.k1
            idf = np.log1p((n - df + 0.5) / (df + 0.5))
            scale = self.b * n / self._total if self._total > 0 else 0.0
            norm = k1 * (1 - self.b + self._lengths[slots] * np.float32(scale))
            hit = self._cache[term] = (slots, (tf * np.float32(idf * (k1 + 1)) / (tf + norm)))
        return hit

    def _allowed(self, flt: Filter) -> np.ndarray:
        """Slots matching ``flt``: any listed value within a field, every field."""
        mask = np.ones(self.size, dtype=bool)
        for field, values in flt.items():
            in_field = np.zeros(self.size, dtype=bool)
            for value in values:
                if (chunks := self._fields.get((field, value))) is not None:
                    in_field[chunks.array()] = True
            mask &= in_field
        return mask

    def maintain(self) -> None:
        """Drop tombstoned slots once they are over ``compact_ratio`` of all slots."""
        if self.size - self.count <= self.compact_ratio * self.size:
            return
        keep, keep_all = self._alive[: self.size], np.flatnonzero(self._alive)
        remap = (np.cumsum(keep) - 1).astype(np.int32)
        vocab: dict[str, int] = {}
        postings: list[_Chunks] = []
        for term, tid in self.vocab.items():
            rows = self.postings[tid].array()
            rows = rows[keep[rows[:, 0]]]
            if len(rows):
                rows[:, 0] = remap[rows[:, 0]]
                vocab[term] = len(postings)
                postings.append(_Chunks([rows]))
        fields: dict[tuple[str, str], _Chunks] = {}
        for value, chunks in self._fields.items():
            slots = chunks.array()
            if len(slots := slots[keep[slots]]):
                fields[value] = _Chunks([remap[slots]])
        self.vocab, self.postings, self._fields = vocab, postings, fields
        self._term_ids = _TermIds(self)
        self._pos = {key: int(remap[p]) for key, p in self._pos.items()}
        self.rowids, self._lengths = self.rowids[keep_all], self._lengths[keep_all]
        self.size = self.count
        self._alive = np.ones(self.size, dtype=bool)
        self._gen += 1
