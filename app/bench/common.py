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


def admin_headers(url: str, data_dir: Path, timeout: float = 300) -> dict[str, str]:
    """Log in as the development admin ``supportbot serve`` creates on a fresh data dir."""
    import time

    import httpx

    from app.auth.startup import DEV_ADMIN_EMAIL, PASSWORD_FILE

    deadline = time.monotonic() + timeout
    path = data_dir / PASSWORD_FILE
    while time.monotonic() < deadline:
        if path.exists():
            try:
                r = httpx.post(
                    f"{url}/api/v1/users/login",
                    json={"email": DEV_ADMIN_EMAIL, "password": path.read_text().strip()},
                    timeout=5,
                )
                if r.status_code == 200:
                    return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    raise RuntimeError("could not log in as the development admin")


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port until the block ends."""
    import threading
    import time

    import httpx
    import uvicorn

    from loaders.mongo import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError("the app did not start within 60 s")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
