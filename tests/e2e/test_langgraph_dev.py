"""``langgraph dev`` serves the graph of langgraph.json offline and answers a run from the KB.

The sample KB is ingested with ``supportbot ingest`` into a temporary DATA_DIR; then the CLI
(langgraph-cli[inmem], in the venv layered over .venv that `make` builds: langserve and
langgraph-api pin incompatible sse-starlette versions) starts with that DATA_DIR and nothing else
configured, so the graph builds its own stack, embedded MongoDB included, on first use.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from loaders.mongo import free_port
from loaders.sample import SAMPLE_KB_DIR, read_manifest
from tests.servers import unavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# No analytics, no version check, no tracing: the CLI and the server stay on loopback.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "1",
    "LANGSMITH_TRACING": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def langgraph_cli() -> str:
    """The ``langgraph`` executable: LANGGRAPH_CLI, the venv `make` builds, then PATH."""
    for candidate in (
        os.environ.get("LANGGRAPH_CLI"),
        str(REPO / ".venv" / "langgraph" / "bin" / "langgraph"),
        shutil.which("langgraph"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    unavailable("langgraph-cli[inmem] not found: run `make langgraph` (or set LANGGRAPH_CLI)")
    raise AssertionError("unreachable")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def base_env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MONGODB_", "REDIS_", "PINECONE_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(OFFLINE_ENV, DATA_DIR=str(data_dir), LOG_LEVEL="WARNING")
    return env


def config_in(workdir: Path) -> Path:
    """langgraph.json with the repo's paths made absolute, so the CLI can run in ``workdir``.

    `langgraph dev` resolves paths against its working directory and keeps its own state there
    (``.langgraph_api``): running it in a temporary directory leaves nothing in the repo and
    never loads a previous run's state.
    """
    config = json.loads((REPO / "langgraph.json").read_text())
    config["dependencies"] = [str((REPO / d).resolve()) for d in config["dependencies"]]
    config["graphs"] = {
        name: f"{(REPO / spec.split(':')[0]).resolve()}:{spec.split(':')[1]}"
        for name, spec in config["graphs"].items()
    }
    path = workdir / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"langgraph dev exited:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"langgraph dev did not start:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes], data_dir: Path) -> bool:
    """Ctrl-C, as a developer stops it; True when the embedded MongoDB stopped with it."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    port_file = data_dir / "mongo-port"
    if not port_file.is_file():
        return True
    port = int(port_file.read_text())
    deadline = time.monotonic() + 10
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not port_open(port):
        return True
    # Left behind: stop it (it is ours, started by the graph in that process) and report it.
    pid_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"nx-27017-{port}.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text())
        if str(data_dir) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
            os.kill(pid, signal.SIGTERM)
    return False


def test_langgraph_dev_serves_the_graph_offline(tmp_path: Path) -> None:
    cli = langgraph_cli()
    data_dir = tmp_path / "var"
    env = base_env(data_dir)
    ingest = subprocess.run(
        [sys.executable, "-m", "app.cli", "ingest", "-q", str(SAMPLE_KB_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    assert f"Ingested {len(read_manifest(SAMPLE_KB_DIR))} document(s)" in ingest.stdout

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "langgraph.log"
    cmd = [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--config", str(config_in(tmp_path))]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=out)
    try:
        wait_until_up(base, proc, log)
        run = {"assistant_id": "support_chat", "input": {"question": "How do I reset my password?"}}
        r = httpx.post(f"{base}/runs/wait", json=run, timeout=120)
    finally:
        mongo_stopped = stop(proc, data_dir)

    assert r.status_code == 200, r.text
    output: dict[str, Any] = r.json()
    assert "[1]" in output["answer"] and "password" in output["answer"].lower(), output
    titles = {s["title"] for s in output["sources"]}
    assert read_manifest(SAMPLE_KB_DIR)["password-reset.txt"]["title"] in titles, output
    assert output["guardrails"]["input_safe"] is True
    assert set(output["timings"]) >= {"guard", "retrieve", "generate", "validate"}
    assert "system_prompt" not in output and "documents" not in output, sorted(output)
    assert mongo_stopped, "embedded MongoDB (nx-27017) still running after langgraph dev exited"
