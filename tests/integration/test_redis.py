"""Redis caches against a real redis-server: layout and TTLs, the session cache and its
invalidation, and the whole app surviving Redis being killed mid-run, then using it again."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from app.main import create_app
from chains.sessions import ChatSessions, SessionGone, ensure_chat_indexes
from loaders.kv import InProcessKV
from loaders.redis_kv import RedisKV, make_kv
from loaders.redis_link import degraded_counts
from loaders.settings import Settings
from loaders.stack import Services
from tests.auth_fixtures import PASSWORD, make_user
from tests.kb_fixtures import ingest_ok, make_services
from tests.servers import RedisServer, redis_server

pytestmark = pytest.mark.integration

DOC = b"""# Refund policy

Annual plans can be refunded within 30 days of purchase. Monthly plans are not refunded,
but you can cancel any time from Settings > Billing.
"""
QUESTION = "Can annual plans be refunded within 30 days?"


def test_kv_entries_live_in_redis_with_ttl(redis_url: str) -> None:
    kv = make_kv(Settings(redis_url=redis_url))
    assert isinstance(kv, RedisKV) and kv.shared
    assert isinstance(make_kv(Settings(redis_url=None)), InProcessKV)
    raw = redis.Redis.from_url(redis_url)

    assert kv.get_json("config:llm:active") is None
    kv.set_json("config:llm:active", {"model": "extractive", "version": 3}, 3600)
    assert kv.get_json("config:llm:active") == {"model": "extractive", "version": 3}
    assert raw.get("config:llm:active") == b'{"model": "extractive", "version": 3}'
    assert 3590 < raw.ttl("config:llm:active") <= 3600
    kv.delete("config:llm:active")
    assert raw.exists("config:llm:active") == 0 and kv.get_json("config:llm:active") is None
    assert kv.stats.snapshot() == {("config", "miss"): 2, ("config", "hit"): 1}


def test_versioned_writes_never_go_back_in_time(redis_url: str) -> None:
    kv = RedisKV(redis_url)
    kv.set_json_if_newer("session:a", {"status": "ended", "revision": 2}, "revision", 60)
    kv.set_json_if_newer("session:a", {"status": "active", "revision": 1}, "revision", 60)
    assert kv.get_json("session:a") == {"status": "ended", "revision": 2}
    kv.set_json_if_newer("session:a", {"status": "abandoned", "revision": 3}, "revision", 60)
    assert kv.get_json("session:a") == {"status": "abandoned", "revision": 3}


def test_outage_logs_once_serves_in_process_and_replays_invalidations(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops answering (paused, data kept): the cache degrades, and entries changed in
    the meantime are deleted in Redis on recovery instead of resurfacing."""
    raw = redis.Redis.from_url(redis_url)
    kv = RedisKV(redis_url, timeout_seconds=0.1, cooldown_seconds=0.3)
    kv.set_json("config:llm:active", {"v": 1}, 600)
    before = degraded_counts().get("cache_set", 0)
    with caplog.at_level(logging.INFO, logger="loaders.redis_link"):
        raw.execute_command("CLIENT", "PAUSE", "1200")  # every other client blocks: timeouts
        started = time.monotonic()
        kv.set_json("config:llm:active", {"v": 2}, 600)  # fails: served from the fallback
        assert kv.get_json("config:llm:active") == {"v": 2}
        kv.set_json("config:other:active", {"v": 9}, 600)
        assert time.monotonic() - started < 0.5  # one timeout, then no network at all
        assert degraded_counts()["cache_set"] >= before + 2
        time.sleep(1.4)  # the pause ends and the cooldown has passed
        assert kv.get_json("config:llm:active") is None  # Redis again; the stale v1 was deleted
    assert raw.exists("config:llm:active", "config:other:active") == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "is back" in r.message]
    assert len(warnings) == 1 and "unavailable" in warnings[0].message
    assert len(infos) == 1
    assert not kv.outage.down


def test_sessions_are_read_through_redis_and_no_worker_serves_a_stale_state(
    mongo_db: Any, redis_url: str
) -> None:
    ensure_chat_indexes(mongo_db)
    worker_a = ChatSessions(mongo_db, 3600, RedisKV(redis_url))
    worker_b = ChatSessions(mongo_db, 3600, RedisKV(redis_url))
    raw = redis.Redis.from_url(redis_url)

    sid = worker_a.create("u1")["session_id"]
    key = f"session:{sid}"
    assert 3590 < raw.ttl(key) <= 3600
    assert worker_b.get_active(sid)["user_id"] == "u1"
    assert worker_b.cache is not None and worker_b.cache.stats.snapshot()[("session", "hit")] == 1  # type: ignore[attr-defined]

    stale = worker_a.get(sid)  # what a slow reader fetched before the session ended
    worker_a.end(sid, None)
    worker_b._cache_put(stale)  # ...and writes back late: refused, older revision
    with pytest.raises(SessionGone):
        worker_b.get_active(sid)
    assert b'"status": "ended"' in (raw.get(key) or b"")

    # Without a shared cache nothing is read from it: a per-process copy could be stale.
    local_a = ChatSessions(mongo_db, 3600, InProcessKV())
    local_b = ChatSessions(mongo_db, 3600, InProcessKV())
    sid2 = local_a.create("u2")["session_id"]
    local_a.get_active(sid2)
    local_b.end(sid2, None)
    with pytest.raises(SessionGone):
        local_a.get_active(sid2)


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with redis_server() as server:
        services = make_services(tmp_path_factory.mktemp("redis"), mongo.uri, redis_url=server.url)
        services.extras["redis_server"] = server
        yield services
        services.close()


def _send(client: TestClient, sid: str, headers: dict[str, str]) -> Any:
    return client.post(
        f"/api/v1/chat/sessions/{sid}/messages", json={"message": QUESTION}, headers=headers
    )


def test_ended_session_is_refused_although_it_was_cached(svc: Services) -> None:
    raw = redis.Redis.from_url(str(svc.settings.redis_url))
    with TestClient(create_app(svc.settings, svc)) as client:
        admin = make_user(svc, "admin")
        ingest_ok_with(client, admin.headers)
        user = make_user(svc, "user")
        r = client.post("/api/v1/chat/sessions/initialize", json={}, headers=user.headers)
        sid = r.json()["data"]["session_id"]
        assert _send(client, sid, user.headers).status_code == 200
        cached = raw.get(f"session:{sid}") or b""
        assert b'"status": "active"' in cached and b'"conversation_count": 1' in cached
        hits = svc.cache.stats.snapshot()[("session", "hit")]  # type: ignore[attr-defined]
        assert hits >= 1

        r = client.post(f"/api/v1/chat/sessions/{sid}/end", json={}, headers=user.headers)
        assert r.status_code == 200, r.text
        assert b'"status": "ended"' in (raw.get(f"session:{sid}") or b"")
        r = _send(client, sid, user.headers)
        assert r.status_code == 410 and r.json()["error"]["code"] == "SESSION_ENDED"
        r = client.post(
            "/chat/invoke",
            json={"input": {"question": QUESTION}, "config": {"configurable": {"session_id": sid}}},
            headers=user.headers,
        )
        assert r.status_code == 410, r.text
        metrics = client.get("/metrics", headers=admin.headers).text
        assert 'supportbot_cache_requests_total{cache="session",result="hit"}' in metrics


def ingest_ok_with(client: TestClient, headers: dict[str, str]) -> None:
    """Ingest the refund article once per module (admin headers: KB writes are admin-only)."""
    client.headers.update(headers)
    try:
        if client.get("/api/v1/knowledge-base/documents").json()["data"]["total"] == 0:
            ingest_ok(client, f"refunds-{uuid.uuid4().hex[:6]}.md", DOC)
    finally:
        for name in headers:
            client.headers.pop(name, None)


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not want and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_app_survives_redis_dying_and_uses_it_again(
    svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    server: RedisServer = svc.extras["redis_server"]
    settings = svc.settings.model_copy(
        update={"rate_limit_enabled": True, "rate_limit_per_minute": 1000}
    )
    kv: RedisKV = svc.cache  # type: ignore[assignment]
    kv.outage.cooldown_seconds = 0.3
    with TestClient(create_app(settings, svc)) as client:
        client.app.state.rate_limiter.windows.outage.cooldown_seconds = 0.3  # type: ignore[attr-defined]
        admin = make_user(svc, "admin")
        ingest_ok_with(client, admin.headers)
        user = make_user(svc, "user")
        sid = client.post("/api/v1/chat/sessions/initialize", json={}, headers=user.headers).json()[
            "data"
        ]["session_id"]
        assert _send(client, sid, user.headers).status_code == 200
        before = client.get("/metrics", headers=admin.headers).text

        server.stop()
        with caplog.at_level(logging.WARNING, logger="loaders.redis_link"):
            started = time.monotonic()
            assert _send(client, sid, user.headers).status_code == 200  # cached session, dead
            r = client.post("/api/v1/chat/sessions/initialize", json={}, headers=user.headers)
            sid2 = r.json()["data"]["session_id"]
            assert _send(client, sid2, user.headers).status_code == 200
            r = client.post(
                "/api/v1/users/login", json={"email": user.user["email"], "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            assert client.get("/api/v1/admin/config", headers=admin.headers).status_code == 200
            r = client.post(f"/api/v1/chat/sessions/{sid2}/end", json={}, headers=user.headers)
            assert r.status_code == 200
            assert _send(client, sid2, user.headers).status_code == 410
            assert time.monotonic() - started < 20
            during = client.get("/metrics", headers=admin.headers).text
        outage_logs = [r.message for r in caplog.records if "unavailable" in r.message]
        parts = [m.split(" for the ", 1)[1].split(" (", 1)[0] for m in outage_logs]
        assert len(parts) == len(set(parts)), outage_logs  # once per component, not per call
        assert {"rate limiter", "session and config cache"} <= set(parts), outage_logs
        for op in ("cache_get", "ratelimit"):
            assert _metric(during, "supportbot_redis_degraded_total", op=op) > _metric(
                before, "supportbot_redis_degraded_total", op=op
            )
        assert _metric(during, "supportbot_redis_errors_total", op="ratelimit") >= 1
        assert _metric(during, "supportbot_redis_up", component="cache") == 0

        server.start()  # same port, empty
        time.sleep(0.4)  # past the cooldown
        raw = redis.Redis.from_url(server.url)
        r = client.post("/api/v1/chat/sessions/initialize", json={}, headers=user.headers)
        sid3 = r.json()["data"]["session_id"]
        assert _send(client, sid3, user.headers).status_code == 200
        assert raw.exists(f"session:{sid3}") == 1
        assert raw.exists(f"ratelimit:user:{user.user_id}:chat") == 1
        after = client.get("/metrics", headers=admin.headers).text
        assert _metric(after, "supportbot_redis_up", component="cache") == 1
        assert _metric(after, "supportbot_redis_up", component="ratelimit") == 1
