"""Chat turns over HTTP in extractive mode on the sample KB: latency, throughput, node split.

``python -m app.bench.chat``: starts ``supportbot serve`` on a fresh data dir (embedded MongoDB,
sample KB ingested on first start), then measures REST turns at concurrency 1 and 16, and the
in-process cost of LangChain callbacks on a graph turn (langchain issue 19756).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from app.bench.common import admin_headers
from loaders.bench.common import percentiles
from loaders.mongo import free_port
from loaders.sample import SAMPLE_KB_DIR, read_manifest

QUESTIONS = [
    "How long is the password reset link valid?",
    "How do I turn on two-factor authentication?",
    "Can I get a refund on an annual plan?",
    "How much does the Team plan cost?",
    "Why are my notifications not arriving?",
    "How do I connect Slack?",
    "What is the API rate limit?",
    "How do I export my data?",
    "What happens when a payment fails?",
    "Do you charge VAT?",
]


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "REDIS_"))}
    env.update({"DATA_DIR": str(data_dir), "PORT": str(port), "LOG_LEVEL": "WARNING"})
    env["RATE_LIMIT_ENABLED"] = "false"  # the load generator is one client
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    expected = len(read_manifest(SAMPLE_KB_DIR))
    headers = admin_headers(url, data_dir)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/api/v1/knowledge-base/documents", timeout=2, headers=headers)
            if r.status_code == 200 and r.json()["data"]["total"] == expected:
                return proc, url, headers
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not become ready with the sample KB")


def customer_headers(url: str) -> dict[str, str]:
    """A registered customer's token: turns run with auth, as in production."""
    body = {"email": "bench@example.com", "password": "bench password 123", "full_name": "Bench"}
    r = httpx.post(f"{url}/api/v1/users/register", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}


def turns(
    url: str, n: int, out: list[dict[str, Any]], offset: int = 0, headers: Any = None
) -> None:
    """``n`` turns as one customer (a user account, as a real customer would be)."""
    with httpx.Client(timeout=60, headers=headers) as client:
        sid = client.post(f"{url}/api/v1/chat/sessions/initialize", json={}).json()["data"][
            "session_id"
        ]
        for i in range(n):
            if i and i % 8 == 0:  # keep histories realistic: a new conversation every 8 turns
                sid = client.post(f"{url}/api/v1/chat/sessions/initialize", json={}).json()["data"][
                    "session_id"
                ]
            q = QUESTIONS[(i + offset) % len(QUESTIONS)]
            t = time.perf_counter()
            r = client.post(f"{url}/api/v1/chat/sessions/{sid}/messages", json={"message": q})
            ms = (time.perf_counter() - t) * 1000
            assert r.status_code == 200, r.text
            out.append({"ms": ms, "timings": r.json()["data"]["timings"]})


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    nodes: dict[str, list[float]] = defaultdict(list)
    other = []
    for row in rows:
        for k, v in row["timings"].items():
            nodes[k].append(v)
        other.append(row["ms"] - sum(row["timings"].values()))
    return {
        "turn_ms": percentiles([r["ms"] for r in rows]),
        "nodes_ms": {k: percentiles(v) for k, v in sorted(nodes.items())},
        "outside_nodes_ms": percentiles(other),
        "turns": len(rows),
    }


def concurrent(url: str, clients: int, per_client: int, headers: Any) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=turns, args=(url, per_client, rows, i, headers))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {**summarize(rows), "clients": clients, "turns_per_s": round(len(rows) / elapsed, 1)}


def callback_cost(data_dir: Path) -> dict[str, Any]:
    """In-process graph turns with no callbacks vs a no-op handler (serialisation on)."""
    from langchain_core.callbacks import BaseCallbackHandler

    from chains.graph import graph
    from chains.resources import get_resources, set_resources

    os.environ["DATA_DIR"] = str(data_dir)
    from loaders.settings import get_settings

    get_settings.cache_clear()
    set_resources(None)
    get_resources()

    class Noop(BaseCallbackHandler):
        pass

    def run(callbacks: list[Any]) -> list[float]:
        out = []
        for i in range(60):
            t = time.perf_counter()
            graph.invoke(
                {"question": QUESTIONS[i % len(QUESTIONS)]},
                {"callbacks": callbacks} if callbacks else None,
            )
            out.append((time.perf_counter() - t) * 1000)
        return out[10:]

    result = {
        "no_callbacks_ms": percentiles(run([])),
        "noop_handler_ms": percentiles(run([Noop()])),
    }
    res = get_resources()
    if res.owner is not None:
        res.owner.close()
    set_resources(None)
    return result


def run(turns_c1: int, clients: int, per_client: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="supportbot-chat-") as tmp:
        proc, url, _ = start_server(Path(tmp))
        try:
            headers = customer_headers(url)
            warm: list[dict[str, Any]] = []
            turns(url, 10, warm, headers=headers)
            c1: list[dict[str, Any]] = []
            turns(url, turns_c1, c1, headers=headers)
            result = {"c1": summarize(c1), "c16": concurrent(url, clients, per_client, headers)}
        finally:
            proc.terminate()
            proc.wait(30)
        result["callbacks"] = callback_cost(Path(tmp))
    return result


def to_markdown(r: dict[str, Any]) -> str:
    c1, c16, cb = r["c1"], r["c16"], r["callbacks"]
    nodes = "\n".join(f"| {k} | {v['p50']} | {v['p95']} |" for k, v in c1["nodes_ms"].items())
    return f"""## Chat turns over HTTP (extractive, sample KB)

`POST /api/v1/chat/sessions/{{id}}/messages` against `supportbot serve` (embedded MongoDB,
history in MongoDB); a new session every 8 turns.

| load | turns | p50 ms | p95 ms | turns/s |
|---|---|---|---|---|
| concurrency 1 | {c1["turns"]} | {c1["turn_ms"]["p50"]} | **{c1["turn_ms"]["p95"]}** | - |
| {c16["clients"]} concurrent clients | {c16["turns"]} | {c16["turn_ms"]["p50"]} | \
{c16["turn_ms"]["p95"]} | **{c16["turns_per_s"]}** |

Server-side time by node at concurrency 1 (ms; `generate` is the model call, here extractive):

| node | p50 | p95 |
|---|---|---|
{nodes}
| outside the nodes (history I/O, sessions, HTTP, client) | \
{c1["outside_nodes_ms"]["p50"]} | {c1["outside_nodes_ms"]["p95"]} |

LangChain callbacks (langchain issue 19756), in-process graph turns: no callbacks p50
{cb["no_callbacks_ms"]["p50"]} / p95 {cb["no_callbacks_ms"]["p95"]} ms; with a no-op handler
attached p50 {cb["noop_handler_ms"]["p50"]} / p95 {cb["noop_handler_ms"]["p95"]} ms. The
server attaches no tracing handler unless LangSmith is configured.
{_baseline_md(r.get("baseline"))}"""


def _baseline_md(base: dict[str, Any] | None) -> str:
    """The same measurement of an earlier commit, taken in the same session as a baseline."""
    if not base:
        return ""
    return f"""
Baseline in the same session, `{base["commit"]}` ({base["what"]}): concurrency 1 p50
{base["c1"]["turn_ms"]["p50"]} / p95 **{base["c1"]["turn_ms"]["p95"]}** ms; 16 clients
**{base["c16"]["turns_per_s"]}** turns/s.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=12)
    parser.add_argument("--json")
    args = parser.parse_args()
    result = run(args.turns, args.clients, args.per_client)
    print(to_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
