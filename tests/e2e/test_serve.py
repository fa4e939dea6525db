"""``supportbot serve`` as `make run` starts it: embedded MongoDB, sample KB ingested, search.

Runs the real CLI in a subprocess with nothing configured but a temporary DATA_DIR, so the app
must start nx-27017 itself, ingest the bundled sample knowledge base on first start, answer
searches, and stop the embedded server when it exits.
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

from loaders.mongo import free_port
from loaders.sample import SAMPLE_KB_DIR, read_manifest


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_serve_starts_embedded_mongo_ingests_sample_kb_and_searches(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "REDIS_", "PINECONE_"))
    }
    env.update({"DATA_DIR": str(tmp_path / "var"), "PORT": str(port), "LOG_LEVEL": "WARNING"})
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
        while time.monotonic() < deadline and total < expected:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                r = httpx.get(f"{base}/api/v1/knowledge-base/documents", timeout=2)
                if r.status_code == 200:
                    total = r.json()["data"]["total"]
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert total == expected, f"sample KB not ingested: {total}/{expected}"
        r = httpx.post(
            f"{base}/api/v1/knowledge-base/search",
            json={"query": "how long is a password reset link valid", "top_k": 3},
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
