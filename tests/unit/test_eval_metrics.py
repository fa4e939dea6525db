"""Retrieval metrics on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from evals.metrics import distinct, hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k


def test_duplicates_collapse_before_ranking() -> None:
    assert distinct(["a", "a", "b", "a", "c"]) == ["a", "b", "c"]
    assert hit_at_k(["x", "x", "x", "a"], {"a"}, 2) == 1.0
    assert mrr_at_k(["x", "x", "a"], {"a"}) == 0.5


def test_values() -> None:
    ranked = ["x", "a", "y", "b"]
    assert hit_at_k(ranked, {"a"}, 1) == 0.0
    assert hit_at_k(ranked, {"a"}, 2) == 1.0
    assert recall_at_k(ranked, {"a", "b"}, 2) == 0.5
    assert recall_at_k(ranked, {"a", "b"}, 4) == 1.0
    assert mrr_at_k(ranked, {"b"}, 3) == 0.0
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, {"a", "b"}, 10) == pytest.approx(expected)
    assert ndcg_at_k(["a", "b"], {"a", "b"}) == pytest.approx(1.0)
