"""Helpers to build a real service stack (nx-27017, local store, MiniLM) for integration tests."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from loaders.settings import Settings
from loaders.stack import Services, build_services


def make_settings(data_dir: Path, mongo_uri: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "mongodb_uri": mongo_uri,
        "mongodb_name": f"kb_{uuid.uuid4().hex[:10]}",
        "ingest_sample_kb": False,
        "vector_store": "local",
        "redis_url": None,
        # Test modules share one client (one IP) for hundreds of requests; rate-limit tests
        # switch it back on with small limits.
        "rate_limit_enabled": False,
        **overrides,
    }
    return Settings(**values)


def make_services(data_dir: Path, mongo_uri: str, **overrides: Any) -> Services:
    return build_services(make_settings(data_dir, mongo_uri, **overrides))


def upload(client: TestClient, name: str, data: bytes, **form: Any) -> Any:
    files = {"file": (name, io.BytesIO(data), "application/octet-stream")}
    return client.post("/api/v1/knowledge-base/documents/ingest", files=files, data=form)


def wait_job(client: TestClient, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/knowledge-base/documents/ingest/{job_id}/status")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()["data"]
        if body["status"] != "processing":
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still processing after {timeout}s")


def ingest_ok(client: TestClient, name: str, data: bytes, **form: Any) -> dict[str, Any]:
    r = upload(client, name, data, **form)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["data"]["job_id"])
    assert job["status"] == "completed", job
    return job


def search(client: TestClient, query: str, **body: Any) -> list[dict[str, Any]]:
    r = client.post("/api/v1/knowledge-base/search", json={"query": query, **body})
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["data"]["results"]
    return results


def counts(svc: Services) -> dict[str, int]:
    """Vectors, keyword entries, chunk records and record-manager keys: all must agree."""
    return {
        "vectors": svc.dense.count(),  # type: ignore[attr-defined]
        "keyword": svc.keyword.count(),
        "chunk_records": svc.kb.records.count_chunks(),
        "record_keys": len(svc.kb.record_manager.list_keys()),
    }
