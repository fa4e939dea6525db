"""Aggregate item records into a run summary: overall, per dataset, per tag, speed and cost.

Every quality metric is the mean of the items it applies to (``n`` says how many), so
``guardrails.catch_rate`` is the share of attacks caught and ``answer.refusal_correctness`` the
share of unanswerable questions answered with an honest "I don't know".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from evals.speed import latency, tokens_and_cost

LOWER_IS_BETTER_PREFIXES = (
    "latency.",
    "tokens.",
    "cost.",
    "answer.over_refusal",
    "guardrails.false_positive_rate",
    "errors",
)


def lower_is_better(metric: str) -> bool:
    return metric.startswith(LOWER_IS_BETTER_PREFIXES)


def means(records: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Mean of each metric over the records that have it, plus ``<metric>.n`` counts."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in records:
        for name, value in r.get("metrics", {}).items():
            sums[name] = sums.get(name, 0.0) + float(value)
            counts[name] = counts.get(name, 0) + 1
    return {name: round(sums[name] / counts[name], 4) for name in sorted(sums)}


def counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        for name in r.get("metrics", {}):
            out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


def speed(records: list[dict[str, Any]], prices: dict[str, dict[str, float]]) -> dict[str, float]:
    turns = [t for r in records for t in r.get("turn_log", [])]
    return {**latency(turns), **tokens_and_cost(turns, prices), "turns": float(len(turns))}


def summarize(records: list[dict[str, Any]], prices: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``overall`` holds every metric of the run (quality and speed) in one flat mapping."""
    errors = [r for r in records if r.get("error")]
    overall = {
        **means(records),
        **speed(records, prices),
        "errors": float(len(errors)),
        "items": float(len(records)),
    }
    datasets = sorted({r["dataset"] for r in records})
    tags = sorted({t for r in records for t in r.get("tags", [])})
    return {
        "overall": overall,
        "n": counts(records),
        "datasets": {
            d: {
                **means(r for r in records if r["dataset"] == d),
                "items": float(sum(r["dataset"] == d for r in records)),
            }
            for d in datasets
        },
        "tags": {
            t: {
                **means(r for r in records if t in r.get("tags", [])),
                "items": float(sum(t in r.get("tags", []) for r in records)),
            }
            for t in tags
        },
        "failed_items": [{"id": r["id"], "error": r["error"]} for r in errors],
    }
