"""Throwaway service stacks on embedded parts for benchmarks."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def bench_services(data_dir: Path | None = None, **overrides: Any) -> Iterator[Any]:
    """A full service stack on embedded parts in a temporary data dir (no worker thread)."""
    from loaders.settings import Settings
    from loaders.stack import build_services

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
