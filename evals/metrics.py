"""Retrieval metrics over ranked source lists: hit@k, recall@k, MRR@k, nDCG@k.

Ranked lists are collapsed to distinct sources in order (several chunks of one document count
once), which is how a person judges "did it find the right document".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def distinct(ranked: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def hit_at_k(ranked: Sequence[str], expected: set[str], k: int) -> float:
    return 1.0 if any(r in expected for r in distinct(ranked)[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], expected: set[str], k: int) -> float:
    if not expected:
        return 0.0
    return len(set(distinct(ranked)[:k]) & expected) / len(expected)


def mrr_at_k(ranked: Sequence[str], expected: set[str], k: int = 10) -> float:
    for i, r in enumerate(distinct(ranked)[:k], start=1):
        if r in expected:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], expected: set[str], k: int = 10) -> float:
    gains = [1.0 if r in expected else 0.0 for r in distinct(ranked)[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(expected), k)))
    return dcg / ideal if ideal else 0.0


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0
