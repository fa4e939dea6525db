"""Shared benchmark plumbing: latency percentiles."""

from __future__ import annotations

import statistics


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    s = sorted(samples_ms)
    if not s:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0}

    def pct(q: float) -> float:
        return s[min(len(s) - 1, round(q * (len(s) - 1)))]

    return {
        "p50": round(pct(0.50), 2),
        "p95": round(pct(0.95), 2),
        "mean": round(statistics.fmean(s), 2),
    }
