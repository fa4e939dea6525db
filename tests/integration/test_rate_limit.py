"""Rate limits end to end with a real redis-server: 429 + Retry-After, sliding windows, per
user / IP / email, chat turns through REST and LangServe, login brute force, shared limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from app.main import create_app
from app.ratelimit import classify
from loaders.stack import Services
from tests.auth_fixtures import PASSWORD, make_user
from tests.kb_fixtures import make_services
from tests.servers import RedisServer

pytestmark = pytest.mark.integration

ME = "/api/v1/users/me"


@pytest.fixture(scope="module")
def svc(
    mongo: Any, redis_srv: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("rl"), mongo.uri, redis_url=redis_srv.url)
    yield services
    services.close()


def client_for(svc: Services, ip: str = "10.0.0.1", **limits: Any) -> TestClient:
    """A client on an app whose limits are ``limits`` (the services stay the same)."""
    settings = svc.settings.model_copy(update={"rate_limit_enabled": True, **limits})
    return TestClient(create_app(settings, svc), client=(ip, 50000))


def assert_limited(r: Any, retry_after: int | None = None) -> None:
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["success"] is False and body["error"]["code"] == "RATE_LIMITED"
    assert "retry in" in body["error"]["message"]
    assert r.headers["Retry-After"].isdigit() and int(r.headers["Retry-After"]) >= 1
    if retry_after is not None:
        assert int(r.headers["Retry-After"]) == retry_after
    assert r.headers["X-Request-ID"] == body["meta"]["request_id"]


def test_classes_of_routes() -> None:
    assert classify("GET", "/health") is None and classify("GET", "/metrics") is None
    assert classify("GET", "/ready") is None
    assert classify("POST", "/api/v1/users/login") == "login" and classify("POST", "/login")
    assert classify("POST", "/api/v1/users/register") == "register"
    assert classify("POST", "/api/v1/chat/sessions/abc/messages") == "chat"
    for path in ("/chat/invoke", "/chat/stream", "/chat/batch", "/chat/stream_events"):
        assert classify("POST", path) == "chat"
    assert classify("GET", "/chat/playground/") == "api"
    assert classify("GET", "/api/v1/chat/sessions/abc/messages") == "api"


def test_per_user_limit_429_with_retry_after_and_a_sliding_window(
    svc: Services, redis_url: str
) -> None:
    raw = redis.Redis.from_url(redis_url)
    with client_for(svc, rate_limit_per_minute=3, rate_limit_window_seconds=2.0) as client:
        alice, bob = make_user(svc), make_user(svc)
        assert client.get(ME, headers=alice.headers).status_code == 200
        time.sleep(1.0)
        assert client.get(ME, headers=alice.headers).status_code == 200
        assert client.get(ME, headers=alice.headers).status_code == 200
        assert_limited(client.get(ME, headers=alice.headers), retry_after=1)  # first leaves in <1s
        key = f"ratelimit:user:{alice.user_id}:api"
        assert raw.zcard(key) == 3 and 0 < raw.pttl(key) <= 2000
        assert client.get(ME, headers=bob.headers).status_code == 200  # a budget per user
        for _ in range(5):
            assert client.get("/health").status_code == 200  # never limited

        time.sleep(1.1)  # the first request left the window; the other two have not
        assert client.get(ME, headers=alice.headers).status_code == 200
        assert_limited(client.get(ME, headers=alice.headers))  # sliding, not a fresh window
        time.sleep(2.05)
        assert client.get(ME, headers=alice.headers).status_code == 200


def test_anonymous_and_invalid_tokens_share_the_ip_budget(svc: Services, redis_url: str) -> None:
    with client_for(svc, ip="10.0.0.7", rate_limit_per_minute=2) as client:
        assert client.get(ME).status_code == 401  # counted even though it fails
        forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
        assert client.get(ME, headers=forged).status_code == 401
        assert_limited(client.get(ME, headers={"Authorization": "Bearer not-a-jwt"}))
        assert_limited(client.get(ME))
        assert client.get(ME, headers=make_user(svc).headers).status_code == 200
    assert redis.Redis.from_url(redis_url).exists("ratelimit:ip:10.0.0.7:api") == 1


def test_chat_turns_through_rest_and_langserve_share_the_chat_limit(
    svc: Services, redis_url: str
) -> None:
    with client_for(svc, rate_limit_chat_per_minute=2) as client:
        user = make_user(svc)
        h = user.headers
        sid = client.post("/api/v1/chat/sessions/initialize", json={}, headers=h).json()["data"][
            "session_id"
        ]
        r = client.post(f"/api/v1/chat/sessions/{sid}/messages", json={"message": "hi"}, headers=h)
        assert r.status_code == 200, r.text
        r = client.post("/chat/invoke", json={"input": {"question": "hello"}}, headers=h)
        assert r.status_code == 200, r.text
        assert_limited(client.post("/chat/invoke", json={"input": {"question": "x"}}, headers=h))
        assert_limited(client.post("/chat/stream", json={"input": {"question": "x"}}, headers=h))
        assert_limited(
            client.post(f"/api/v1/chat/sessions/{sid}/messages", json={"message": "x"}, headers=h)
        )
        assert client.get(f"/api/v1/chat/sessions/{sid}/messages", headers=h).status_code == 200
        metrics = client.get("/metrics", headers=make_user(svc, "admin").headers).text
        assert 'supportbot_rate_limited_total{limit="chat"} 3.0' in metrics


def test_brute_force_login_hits_the_login_limit_per_ip_and_per_email(
    svc: Services, redis_url: str
) -> None:
    victim = make_user(svc)
    email = victim.user["email"]
    wrong = {"email": email, "password": "not the password"}
    with client_for(svc, ip="10.0.1.1", rate_limit_login_per_minute=3) as attacker:
        for _ in range(3):
            assert attacker.post("/api/v1/users/login", json=wrong).status_code == 401
        assert_limited(attacker.post("/api/v1/users/login", json=wrong))
        # Even the right password from the throttled address waits.
        assert_limited(attacker.post("/api/v1/users/login", json={**wrong, "password": PASSWORD}))
        other = make_user(svc).user["email"]
        assert_limited(attacker.post("/api/v1/users/login", json={"email": other, "password": "x"}))
        app = attacker.app
    # Same account from a fresh address: the per-email window refuses it (JSON and the form).
    with TestClient(app, client=("10.0.2.2", 50000)) as elsewhere:
        assert_limited(
            elsewhere.post("/api/v1/users/login", json={**wrong, "email": email.upper()})
        )
        assert_limited(elsewhere.post("/login", data={"email": email, "password": "x"}))
        r = elsewhere.post("/api/v1/users/login", json={"email": other, "password": PASSWORD})
        assert r.status_code == 200, r.text  # other accounts are unaffected


def test_registration_is_limited_per_ip(svc: Services, redis_url: str) -> None:
    with client_for(svc, ip="10.0.3.3", rate_limit_login_per_minute=2) as client:
        for i in range(2):
            body = {"email": f"new{i}-{time.time_ns()}@example.com", "password": PASSWORD}
            r = client.post("/api/v1/users/register", json={**body, "full_name": "N"})
            assert r.status_code == 201, r.text
        body = {"email": f"x-{time.time_ns()}@example.com", "password": PASSWORD, "full_name": "N"}
        assert_limited(client.post("/api/v1/users/register", json=body))


def test_two_app_instances_share_the_limit_through_redis(svc: Services, redis_url: str) -> None:
    user = make_user(svc)
    with (
        client_for(svc, rate_limit_per_minute=3) as a,
        client_for(svc, rate_limit_per_minute=3) as b,
    ):
        assert a.app is not b.app
        assert a.get(ME, headers=user.headers).status_code == 200
        assert a.get(ME, headers=user.headers).status_code == 200
        assert b.get(ME, headers=user.headers).status_code == 200
        assert_limited(b.get(ME, headers=user.headers))
        assert_limited(a.get(ME, headers=user.headers))

    # Without Redis each process keeps its own windows (same semantics, per process).
    other = make_user(svc)
    local: dict[str, Any] = {"rate_limit_per_minute": 3, "redis_url": None}
    with client_for(svc, **local) as a, client_for(svc, **local) as b:
        for client in (a, b):
            for _ in range(3):
                assert client.get(ME, headers=other.headers).status_code == 200
            assert_limited(client.get(ME, headers=other.headers))
    assert redis.Redis.from_url(redis_url).exists(f"ratelimit:user:{other.user_id}:api") == 0


def test_the_switch_turns_limits_off(svc: Services, redis_url: str) -> None:
    with client_for(svc, rate_limit_enabled=False, rate_limit_per_minute=1) as client:
        user = make_user(svc)
        assert all(client.get(ME, headers=user.headers).status_code == 200 for _ in range(4))


def test_an_api_key_has_its_own_budget_as_a_header_or_a_bearer(
    svc: Services, redis_url: str
) -> None:
    admin = make_user(svc, "admin")
    with client_for(svc, ip="10.0.0.9", rate_limit_per_minute=2) as client:
        created = client.post("/api/v1/admin/api-keys", json={"name": "rl"}, headers=admin.headers)
        secret = created.json()["data"]["api_key"]
        models = "/api/v1/embeddings/models"
        assert client.get(models, headers={"X-API-Key": secret}).status_code == 200
        assert client.get(models, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        assert_limited(client.get(models, headers={"Authorization": f"Bearer {secret}"}))
        principal = created.json()["data"]["principal_id"]
    raw = redis.Redis.from_url(redis_url)
    assert raw.zcard(f"ratelimit:{principal}:api") == 2  # one budget, not the IP's
    assert raw.exists("ratelimit:ip:10.0.0.9:api") == 0
