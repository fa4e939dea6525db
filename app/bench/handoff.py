"""Handoff live path: how long an agent's reply takes to reach the customer's open event stream.

``python -m app.bench.handoff``: serves the app with uvicorn on loopback (embedded MongoDB,
then again with the event bus on a real redis-server), opens the customer's SSE stream, and
times each agent reply from the moment its POST is sent to the moment the event arrives. The
baseline, measured in the same run, is the POST's own round trip: the difference is what the
delivery costs. Also records the size of ``widget.js``, plain and gzipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from app.auth.users import Role
from app.bench.auth_overhead import redis_url
from app.bench.common import bench_services, serve_in_thread
from loaders.bench.common import percentiles

WIDGET_JS = Path(__file__).resolve().parents[1] / "widget" / "static" / "widget.js"


def _user(svc: Any, role: Role) -> dict[str, str]:
    from app.auth.service import auth_service_for

    auth = auth_service_for(svc.extras, svc.db, svc.settings)
    user = auth.create_user(f"{role}-{time.time_ns()}@example.com", "bench password 123",
                            f"Bench {role}", role=role)  # fmt: skip
    return {"Authorization": f"Bearer {auth.tokens.issue_access(user['user_id'], role)}"}


def _follow(url: str, headers: dict[str, str], out: queue.Queue[float], ready: threading.Event):
    with httpx.stream("GET", url, headers=headers, timeout=None) as r:
        for line in r.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: message"):
                out.put(time.perf_counter())


def measure(base: str, svc: Any, n: int) -> dict[str, Any]:
    customer, agent = _user(svc, "user"), _user(svc, "support_agent")
    with httpx.Client(base_url=base, timeout=30) as http:
        sid = http.post("/api/v1/chat/sessions/initialize", json={}, headers=customer).json()[
            "data"
        ]["session_id"]
        http.post(f"/api/v1/chat/sessions/{sid}/handoff", json={}, headers=customer)
        http.post(f"/api/v1/agent/sessions/{sid}/claim", headers=agent)
        arrivals: queue.Queue[float] = queue.Queue()
        ready = threading.Event()
        url = f"{base}/api/v1/chat/sessions/{sid}/events"
        threading.Thread(target=_follow, args=(url, customer, arrivals, ready), daemon=True).start()
        assert ready.wait(30), "the customer's stream did not open"
        delivery, round_trip = [], []
        for i in range(n):
            sent = time.perf_counter()
            r = http.post(
                f"/api/v1/agent/sessions/{sid}/messages", json={"message": f"reply {i}"},
                headers=agent,
            )  # fmt: skip
            round_trip.append((time.perf_counter() - sent) * 1000)
            assert r.status_code == 201, r.text
            delivery.append((arrivals.get(timeout=30) - sent) * 1000)
    return {"delivery_ms": percentiles(delivery), "post_round_trip_ms": percentiles(round_trip)}


def widget_size() -> dict[str, Any]:
    if not WIDGET_JS.exists():
        return {"bytes": None, "gzip_bytes": None}
    raw = WIDGET_JS.read_bytes()
    return {"bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, 9))}


def run(n: int = 200) -> dict[str, Any]:
    from app.main import create_app

    out: dict[str, Any] = {"replies": n, "widget": widget_size()}
    with bench_services() as svc, serve_in_thread(create_app(svc.settings, svc)) as base:
        measure(base, svc, 20)  # warm-up
        out["in_process"] = measure(base, svc, n)
    with (
        redis_url() as url,
        bench_services(redis_url=url) as svc,
        serve_in_thread(create_app(svc.settings, svc)) as base,
    ):
        measure(base, svc, 20)
        out["redis"] = measure(base, svc, n)
    return out


def to_markdown(r: dict[str, Any]) -> str:
    def row(name: str, key: str) -> str:
        d, rt = r[key]["delivery_ms"], r[key]["post_round_trip_ms"]
        return (
            f"| {name} | {d['p50']:.1f} | **{d['p95']:.1f}** | {rt['p50']:.1f} | {rt['p95']:.1f} |"
        )

    w = r["widget"]
    size = f"{w['bytes']} bytes, **{w['gzip_bytes']} bytes gzipped**" if w["bytes"] else "absent"
    return f"""## Handoff: an agent's reply on the customer's event stream

{r["replies"]} agent replies over HTTP on loopback (uvicorn, one process), each timed from
sending the agent's POST to the `message` event arriving on the customer's open SSE stream.
Baseline in the same run: the POST's own round trip (the event is published before the POST
returns, so delivery can be shorter). Target (issue 12): delivery p95 <= 300 ms.

| event bus | delivery p50 ms | delivery p95 ms | POST p50 ms | POST p95 ms |
|---|---|---|---|---|
{row("in process", "in_process")}
{row("Redis Streams", "redis")}

`widget.js`: {size} (target <= 30 kB gzipped). Opening the widget costs one request
(`POST /api/v1/widget/session` returns the session, token and recent messages together).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    print(json.dumps(run(parser.parse_args().n), indent=2))


if __name__ == "__main__":
    main()
