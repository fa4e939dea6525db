"""Confidence calibration: a reliability table and the expected calibration error (ECE).

Each scored item contributes its turn's confidence and its outcome (``record["correct"]``: the
binary ``evals.correct`` metric for an answerable item, "refused" for an unanswerable one);
only answers count, refusals are left out (see ``pairs``).
Confidences fall into ``BINS`` equal bins, [0, 0.1), [0.1, 0.2) ... [0.9, 1.0] (1.0 in the last).
ECE is the bin-count-weighted mean of |mean confidence - share correct|: 0 for a bot whose 0.8
answers are right 80% of the time, large for one that says 0.7 and is usually wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

BINS = 10


def bin_of(confidence: float) -> int:
    """Index of the bin holding ``confidence`` (clipped to 0..1)."""
    c = min(1.0, max(0.0, confidence))
    return min(BINS - 1, math.floor(c * BINS + 1e-9))


def pairs(records: Iterable[dict[str, Any]]) -> list[tuple[float, bool]]:
    """(confidence, correct) of the records that answered and have both.

    Refusals and "I don't know" are left out: their confidence is 0 by definition, so a right
    refusal would count as "correct at confidence 0", honesty scored as miscalibration.
    """
    return [
        (float(r["confidence"]), bool(r["correct"]))
        for r in records
        if r.get("confidence") is not None and r.get("correct") is not None and _answered(r)
    ]


def _answered(record: dict[str, Any]) -> bool:
    metrics = record.get("metrics") or {}
    return metrics.get("answer.answered_rate", 1.0) >= 1.0 and not metrics.get(
        "answer.refusal_correctness", 0.0
    )


def reliability(points: list[tuple[float, bool]]) -> list[dict[str, Any]]:
    """One row per bin: its bounds, count, mean confidence and share correct (``None`` empty)."""
    rows = []
    for b in range(BINS):
        inside = [(c, ok) for c, ok in points if bin_of(c) == b]
        n = len(inside)
        rows.append(
            {
                "low": round(b / BINS, 2),
                "high": round((b + 1) / BINS, 2),
                "count": n,
                "mean_confidence": round(sum(c for c, _ in inside) / n, 4) if n else None,
                "share_correct": round(sum(ok for _, ok in inside) / n, 4) if n else None,
            }
        )
    return rows


def ece(rows: list[dict[str, Any]]) -> float | None:
    """Expected calibration error of a reliability table; ``None`` when it is empty."""
    total = sum(r["count"] for r in rows)
    if not total:
        return None
    gap = sum(
        r["count"] * abs(r["mean_confidence"] - r["share_correct"]) for r in rows if r["count"]
    )
    return round(gap / total, 4)


def calibration(records: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """``{"n", "ece", "bins"}`` of the records with a confidence and an outcome, else ``None``."""
    points = pairs(records)
    if not points:
        return None
    rows = reliability(points)
    return {"n": len(points), "ece": ece(rows), "bins": rows}
