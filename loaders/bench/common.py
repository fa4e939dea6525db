"""Shared benchmark plumbing: timing percentiles and throwaway service stacks."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    s = sorted(samples_ms)
    if not s:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0}

    def pct(q: float) -> float:
        return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]

    return {
        "p50": round(pct(0.50), 2),
        "p95": round(pct(0.95), 2),
        "mean": round(statistics.fmean(s), 2),
    }


@contextmanager
def bench_services(data_dir: Path | None = None, **overrides: Any) -> Iterator[Any]:
    """A full service stack on embedded parts in a temporary data dir (no worker thread)."""
    from app.services import build_services
    from loaders.settings import Settings

    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp:
        values: dict[str, Any] = {
            "data_dir": data_dir or Path(tmp),
            "mongodb_uri": None,
            "redis_url": None,
            "vector_store": "local",
            "ingest_sample_kb": False,
            **overrides,
        }
        svc = build_services(Settings(**values), start_worker=False)
        try:
            yield svc
        finally:
            svc.close()
