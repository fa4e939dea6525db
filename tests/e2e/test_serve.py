"""``supportbot serve`` as `make run` starts it: embedded MongoDB, sample KB ingested, search.

Runs the real CLI in a subprocess with nothing configured but a temporary DATA_DIR, so the app
must start nx-27017 itself, ingest the bundled sample knowledge base on first start, answer
searches, and stop the embedded server when it exits. An admin is created first with
`supportbot users create-admin`, as the README says, and logs in for a token.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.cli import ADMIN_PASSWORD_ENV
from loaders.mongo import free_port
from loaders.sample import SAMPLE_KB_DIR, read_manifest

ADMIN = "ops@example.com"
ADMIN_PASSWORD = "e2e admin password 1"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def create_admin(env: dict[str, str]) -> None:
    """``supportbot users create-admin`` against the same DATA_DIR (its own embedded MongoDB)."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "create-admin", "--email", ADMIN],
        env={**env, ADMIN_PASSWORD_ENV: ADMIN_PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def login(base: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/users/login", json={"email": ADMIN, "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}


def test_serve_starts_embedded_mongo_ingests_sample_kb_and_searches(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "REDIS_", "PINECONE_"))
    }
    env.update({"DATA_DIR": str(tmp_path / "var"), "PORT": str(port), "LOG_LEVEL": "WARNING"})
    create_admin(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    expected = len(read_manifest(SAMPLE_KB_DIR))
    try:
        deadline = time.monotonic() + 240
        total = -1
        headers: dict[str, str] | None = None
        while time.monotonic() < deadline and total < expected:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    headers = headers or login(base)
                    r = httpx.get(
                        f"{base}/api/v1/knowledge-base/documents", headers=headers, timeout=2
                    )
                    if r.status_code == 200:
                        total = r.json()["data"]["total"]
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert total == expected, f"sample KB not ingested: {total}/{expected}"
        assert headers is not None
        assert httpx.get(f"{base}/api/v1/knowledge-base/documents").status_code == 401
        r = httpx.post(
            f"{base}/api/v1/knowledge-base/search",
            json={"query": "how long is a password reset link valid", "top_k": 3},
            headers=headers,
        )
        hits = r.json()["data"]["results"]
        assert hits[0]["metadata"]["source"] == "password-reset.txt", json.dumps(hits)[:500]
        assert httpx.get(f"{base}/ready").status_code == 200
        mongo_port = int((tmp_path / "var" / "mongo-port").read_text())
        assert _port_open(mongo_port)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "API docs" in out and f"{base}/docs" in out
    assert not _port_open(mongo_port), "embedded MongoDB still running after exit"
