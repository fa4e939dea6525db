"""Aggregate item records into a run summary: overall, per dataset, per split, per tag,
calibration, speed and cost.

Every quality metric is the mean of the items it applies to (``n`` says how many), so
``guardrails.catch_rate`` is the share of attacks caught and ``answer.refusal_correctness`` the
share of unanswerable questions answered with an honest "I don't know". ``calibration.ece`` is
computed from the items' confidences and outcomes (``evals.calibration``), not averaged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from evals.calibration import calibration
from evals.speed import latency, tokens_and_cost

LOWER_IS_BETTER_PREFIXES = (
    "latency.",
    "tokens.",
    "cost.",
    "answer.over_refusal",
    "answer.confident_wrong",
    "calibration.ece",
    "guardrails.false_positive_rate",
    "errors",
)
# "python_faq/answer.correct_rate", "python_faq/test/answer.correct_rate": a dataset (and split)
# scope before the metric; scopes have no dot, metric names always do or are bare ("errors").
_SCOPE = re.compile(r"^(?:[^/.]+/){1,2}(?=[^/]+)")


def lower_is_better(metric: str) -> bool:
    return _SCOPE.sub("", metric, count=1).startswith(LOWER_IS_BETTER_PREFIXES)


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


def quality(records: list[dict[str, Any]]) -> dict[str, float]:
    """Means, ECE when confidences were reported, errors and items of a group of records."""
    out = means(records)
    cal = calibration(records)
    if cal is not None and cal["ece"] is not None:
        out["calibration.ece"] = cal["ece"]
    out["errors"] = float(sum(bool(r.get("error")) for r in records))
    out["items"] = float(len(records))
    return out


def by_split(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{dataset: {split: quality}}`` for the datasets whose items carry a split."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for d in sorted({r["dataset"] for r in records if r.get("split")}):
        mine = [r for r in records if r["dataset"] == d]
        splits = sorted({r["split"] for r in mine if r.get("split")})
        out[d] = {s: quality([r for r in mine if r.get("split") == s]) for s in splits}
    return out


def calibrations(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Reliability table and ECE per dataset that reported confidences."""
    out = {}
    for d in sorted({r["dataset"] for r in records}):
        cal = calibration(r for r in records if r["dataset"] == d)
        if cal is not None:
            out[d] = cal
    return out


def summarize(records: list[dict[str, Any]], prices: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``overall`` holds every metric of the run (quality and speed) in one flat mapping."""
    errors = [r for r in records if r.get("error")]
    overall = {**quality(records), **speed(records, prices)}
    datasets = sorted({r["dataset"] for r in records})
    tags = sorted({t for r in records for t in r.get("tags", [])})
    n = counts(records)
    cal = calibration(records)
    if cal is not None:
        n["calibration.ece"] = cal["n"]
    return {
        "overall": overall,
        "n": n,
        "datasets": {d: quality([r for r in records if r["dataset"] == d]) for d in datasets},
        "splits": by_split(records),
        "calibration": calibrations(records),
        "tags": {
            t: {
                **means(r for r in records if t in r.get("tags", [])),
                "items": float(sum(t in r.get("tags", []) for r in records)),
            }
            for t in tags
        },
        "failed_items": [{"id": r["id"], "error": r["error"]} for r in errors],
    }
