"""The customer widget end to end: site keys, visitor sessions and their scope, CORS, the
per-IP cap on new visitors, ``/widget.js`` and ``/widget/demo``.

Real nx-27017, the real chat graph (extractive model, empty KB: turns are quick), real tokens.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import jwt
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from app.auth.tokens import TokenService
from app.main import create_app
from app.widget.dev import DEV_PURPOSE, dev_origins, ensure_dev_site_key
from loaders.stack import Services
from tests.auth_fixtures import TestUser, make_user
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration
SECRET = "widget-secret-" + "w" * 48
SHOP = "https://shop.example.com"
BLOG = "https://blog.example.com"
EVIL = "https://evil.example.net"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("widget"), mongo.uri, jwt_secret_key=SECRET)
    services.worker.stop()
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc)) as c:
        yield c


@pytest.fixture(scope="module")
def admin(svc: Services) -> TestUser:
    return make_user(svc, "admin")


@pytest.fixture(scope="module")
def site_key(client: TestClient, admin: TestUser) -> dict[str, Any]:
    return new_key(client, admin, [SHOP, BLOG])


def new_key(client: TestClient, admin: TestUser, origins: list[str]) -> dict[str, Any]:
    body = {"name": "shop", "allowed_origins": origins}
    r = client.post("/api/v1/admin/widget-keys", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def open_widget(client: TestClient, key: str, origin: str | None = SHOP, **body: Any) -> Any:
    headers = {"Origin": origin} if origin else {}
    return client.post("/api/v1/widget/session", json={"site_key": key, **body}, headers=headers)


def visitor(client: TestClient, key: dict[str, Any], origin: str = SHOP) -> dict[str, Any]:
    r = open_widget(client, key["key"], origin)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    data["headers"] = {"Authorization": f"Bearer {data['access_token']}", "Origin": origin}
    return data


def say(client: TestClient, v: dict[str, Any], text: str = "hello", **extra: Any) -> Any:
    url = f"/api/v1/chat/sessions/{v['session_id']}/messages"
    return client.post(url, json={"message": text, **extra}, headers=v["headers"])


def test_site_keys_are_created_validated_listed_and_deactivated(
    client: TestClient, svc: Services, admin: TestUser
) -> None:
    origins = ["https://Shop.Example.com/", "http://localhost:3000", "https://shop.example.com:443"]
    key = new_key(client, admin, origins)
    assert key["key"].startswith("sbw_") and key["active"] is True
    assert key["allowed_origins"] == ["https://shop.example.com", "http://localhost:3000"]
    assert key["created_by"] == admin.user_id and key["created_at"]
    stored = svc.db["widget_keys"].find_one({"key_id": key["key_id"]})
    assert stored is not None and len(stored["key_hash"]) == 64
    for bad in ("*", "null", "ftp://x.example.com", "https://x.example.com/path", "shop.com", ""):
        body = {"name": "bad", "allowed_origins": [bad]}
        r = client.post("/api/v1/admin/widget-keys", json=body, headers=admin.headers)
        assert r.status_code == 422 and code(r) == "INVALID_ORIGIN", (bad, r.text)
    r = client.post(
        "/api/v1/admin/widget-keys",
        json={"name": "x", "allowed_origins": []},
        headers=admin.headers,
    )
    assert r.status_code == 422 and code(r) == "INVALID_ORIGIN"
    r = client.post("/api/v1/admin/widget-keys", json={"name": "x"}, headers=admin.headers)
    assert r.status_code == 422
    for who in (make_user(svc), make_user(svc, "support_agent")):
        assert client.get("/api/v1/admin/widget-keys", headers=who.headers).status_code == 403
    listed = client.get("/api/v1/admin/widget-keys", headers=admin.headers).json()["data"]
    assert key["key_id"] in {k["key_id"] for k in listed["widget_keys"]}
    assert all("key_hash" not in k for k in listed["widget_keys"])

    assert open_widget(client, key["key"]).status_code == 200
    r = client.delete(f"/api/v1/admin/widget-keys/{key['key_id']}", headers=admin.headers)
    assert r.status_code == 200 and r.json()["data"]["active"] is False
    r = open_widget(client, key["key"])  # refused at once on the worker that deactivated it
    assert r.status_code == 403 and code(r) == "INVALID_SITE_KEY"
    r = client.delete(f"/api/v1/admin/widget-keys/{UNKNOWN}", headers=admin.headers)
    assert r.status_code == 404 and code(r) == "WIDGET_KEY_NOT_FOUND"
    actions = {
        a["action"]
        for a in svc.db["audit_log"].find({"target": key["key_id"], "target_type": "widget_key"})
    }
    assert actions == {"widget_key.create", "widget_key.deactivate"}


def test_session_start_needs_an_allowed_origin_and_an_active_key(
    client: TestClient, svc: Services, site_key: dict[str, Any]
) -> None:
    r = open_widget(client, site_key["key"])
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["visitor_id"].startswith("visitor_") and data["resumed"] is False
    assert data["expires_in"] == svc.settings.widget_access_ttl_seconds
    assert data["handoff"]["state"] == "bot" and data["messages"] == []
    session = svc.db["chat_sessions"].find_one({"session_id": data["session_id"]})
    assert session is not None and session["user_id"] == data["visitor_id"]
    assert session["context"]["site_key_id"] == site_key["key_id"]
    claims = jwt.decode(data["access_token"], SECRET, algorithms=["HS256"], issuer="supportbot")
    assert claims["type"] == "visitor" and claims["sid"] == data["session_id"]
    assert claims["origin"] == SHOP and claims["kid"] == site_key["key_id"]

    for origin in (EVIL, None, "null", "https://shop.example.com.evil.net"):
        r = open_widget(client, site_key["key"], origin)
        assert r.status_code == 403 and code(r) == "ORIGIN_NOT_ALLOWED", (origin, r.text)
    for key in ("sbw_unknown", "not-a-key"):
        r = open_widget(client, key)
        assert r.status_code == 403 and code(r) == "INVALID_SITE_KEY"
    assert (
        client.post("/api/v1/widget/session", json={}, headers={"Origin": SHOP}).status_code == 422
    )


def test_a_visitor_chats_and_resumes_the_same_conversation(
    client: TestClient, svc: Services, site_key: dict[str, Any]
) -> None:
    v = visitor(client, site_key)
    r = say(client, v, "How do I reset my password?")
    assert r.status_code == 200, r.text
    turn = r.json()["data"]
    assert turn["bot_response"]["content"] and turn["user_message"]["message_id"]
    # Streamed, as the widget asks: token events, then one ``final`` with the turn payload.
    url = f"/api/v1/chat/sessions/{v['session_id']}/messages"
    headers = v["headers"] | {"Accept": "text/event-stream"}
    with client.stream("POST", url, json={"message": "thanks"}, headers=headers) as s:
        assert s.status_code == 200
        frames = "".join(s.iter_text()).split("\n\n")
    finals = [f for f in frames if f.startswith("event: final")]
    assert len(finals) == 1
    final = json.loads(finals[0].split("data: ", 1)[1])["data"]
    assert final["session_id"] == v["session_id"] and "bot_response" in final

    bot_id = turn["bot_response"]["message_id"]
    body = {"session_id": v["session_id"], "message_id": bot_id, "score": 5}
    r = client.post("/chat/feedback", json=body, headers=v["headers"])
    assert r.status_code == 201 and r.json()["data"]["user_id"] == v["visitor_id"]

    r = open_widget(client, site_key["key"], resume=v["refresh_token"])
    assert r.status_code == 200, r.text
    again = r.json()["data"]
    assert again["session_id"] == v["session_id"] and again["resumed"] is True
    assert again["visitor_id"] == v["visitor_id"] and again["access_token"] != v["access_token"]
    history = client.get(
        f"/api/v1/chat/sessions/{v['session_id']}/messages",
        params={"order": "asc", "page_size": 100},
        headers=v["headers"],
    ).json()["data"]["messages"]
    assert again["messages"] == history, "same shape and order as the messages route"
    assert [m["role"] for m in again["messages"]] == ["user", "assistant"] * 2
    assert again["messages"][0]["content"] == "How do I reset my password?"
    short = open_widget(
        client, site_key["key"], resume=v["refresh_token"], include_messages=False
    ).json()["data"]
    assert short["session_id"] == v["session_id"] and short["messages"] == []

    # Another origin of the same key cannot take the conversation over; a forged token neither.
    r = open_widget(client, site_key["key"], BLOG, resume=v["refresh_token"])
    assert r.status_code == 401 and code(r) == "INVALID_TOKEN"
    r = open_widget(client, site_key["key"], resume=v["access_token"])
    assert r.status_code == 401 and code(r) == "INVALID_TOKEN"

    # The session ends: resuming starts a new one for the same visitor.
    r = client.post(f"/api/v1/chat/sessions/{v['session_id']}/end", headers=v["headers"])
    assert r.status_code == 200, r.text
    fresh = open_widget(client, site_key["key"], resume=v["refresh_token"]).json()["data"]
    assert fresh["session_id"] != v["session_id"] and fresh["resumed"] is False
    assert fresh["visitor_id"] == v["visitor_id"] and fresh["messages"] == []


def test_a_visitor_token_reaches_only_its_own_session(
    client: TestClient, svc: Services, site_key: dict[str, Any]
) -> None:
    alice, bob = visitor(client, site_key), visitor(client, site_key)
    assert say(client, bob, "hi").status_code == 200
    user = make_user(svc)
    r = client.post("/api/v1/chat/sessions/initialize", json={}, headers=user.headers)
    theirs = r.json()["data"]["session_id"]
    h = alice["headers"]

    unknown = client.get(f"/api/v1/chat/sessions/{UNKNOWN}/messages", headers=user.headers)
    for sid in (bob["session_id"], theirs):
        for r in (
            client.get(f"/api/v1/chat/sessions/{sid}/messages", headers=h),
            client.post(f"/api/v1/chat/sessions/{sid}/messages", json={"message": "x"}, headers=h),
            client.post(f"/api/v1/chat/sessions/{sid}/end", headers=h),
            client.post("/chat/feedback", json={"session_id": sid, "score": 1}, headers=h),
        ):
            assert r.status_code == 404 and code(r) == "SESSION_NOT_FOUND", r.text
            message = r.json()["error"]["message"].replace(sid, UNKNOWN)
            assert message == unknown.json()["error"]["message"]
    for method, path in (
        ("GET", "/api/v1/chat/sessions"),
        ("POST", "/api/v1/chat/sessions/initialize"),
        ("GET", "/api/v1/knowledge-base/documents"),
        ("POST", "/api/v1/knowledge-base/search"),
        ("GET", "/api/v1/admin/widget-keys"),
        ("GET", "/api/v1/admin/audit"),
        ("GET", "/api/v1/analytics/dashboard"),
        ("GET", "/api/v1/users/me"),
        ("POST", "/chat/invoke"),
        ("POST", "/chat/stream"),
        ("GET", "/chat/playground/"),
        ("GET", "/metrics"),
    ):
        r = client.request(method, path, json={"query": "x", "input": {"question": "x"}}, headers=h)
        assert r.status_code == 403 and code(r) == "VISITOR_SCOPE", (path, r.text)
    r = say(client, alice, "hi", config={"top_k": 1})
    assert r.status_code == 403 and code(r) == "CONFIG_NOT_ALLOWED"
    # The token works only from the page it was issued for (or without an Origin: no browser).
    r = say(client, alice | {"headers": h | {"Origin": BLOG}})
    assert r.status_code == 403 and code(r) == "ORIGIN_NOT_ALLOWED"
    no_origin = {"Authorization": h["Authorization"]}
    url = f"/api/v1/chat/sessions/{alice['session_id']}/messages"
    assert client.get(url, headers=no_origin).status_code == 200
    assert svc.db["chat_messages"].count_documents({"session_id": bob["session_id"]}) == 2


def test_expired_forged_and_orphaned_visitor_tokens_are_refused(
    client: TestClient, svc: Services, admin: TestUser
) -> None:
    key = new_key(client, admin, [SHOP])
    v = visitor(client, key)
    url = f"/api/v1/chat/sessions/{v['session_id']}/messages"
    claims = jwt.decode(v["access_token"], SECRET, algorithms=["HS256"], issuer="supportbot")
    scope = {k: claims[k] for k in ("sub", "sid", "kid", "origin")}
    tokens = TokenService(SECRET, access_ttl=60, refresh_ttl=60)
    expired = tokens.issue_visitor(scope, refresh=False, ttl=-5)
    forged = TokenService("another-secret-" + "x" * 40, access_ttl=60, refresh_ttl=60)
    for token, expected in (
        (expired, "TOKEN_EXPIRED"),
        (forged.issue_visitor(scope, refresh=False, ttl=60), "INVALID_TOKEN"),
        (v["refresh_token"], "INVALID_TOKEN"),  # a refresh token is not an access token
        (v["access_token"] + "x", "INVALID_TOKEN"),
    ):
        r = client.get(url, headers={"Authorization": f"Bearer {token}", "Origin": SHOP})
        assert r.status_code == 401 and code(r) == expected, r.text
    assert client.get(url, headers=v["headers"]).status_code == 200
    client.delete(f"/api/v1/admin/widget-keys/{key['key_id']}", headers=admin.headers)
    r = client.get(url, headers=v["headers"])
    assert r.status_code == 403 and code(r) == "INVALID_SITE_KEY"


def test_cors_follows_the_active_site_keys(
    client: TestClient, svc: Services, site_key: dict[str, Any]
) -> None:
    def preflight(c: TestClient, origin: str, path: str) -> Any:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, last-event-id",
        }
        return c.options(path, headers=headers)

    for path in (
        "/api/v1/widget/session",
        f"/api/v1/chat/sessions/{UNKNOWN}/messages",
        f"/api/v1/chat/sessions/{UNKNOWN}/events",
        "/chat/feedback",
    ):
        r = preflight(client, SHOP, path)
        assert r.status_code == 204, (path, r.text)
        assert r.headers["access-control-allow-origin"] == SHOP
        assert "Origin" in r.headers["vary"]
        allowed = r.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "last-event-id", "x-request-id"} <= {
            h.strip() for h in allowed.split(",")
        }
        assert "access-control-allow-credentials" not in r.headers
        assert "access-control-allow-origin" not in preflight(client, EVIL, path).headers
    # Not a widget route: no widget CORS even for an allowed origin.
    assert (
        "access-control-allow-origin"
        not in preflight(client, SHOP, "/api/v1/knowledge-base/search").headers
    )
    ok = open_widget(client, site_key["key"])
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "Retry-After" in ok.headers["access-control-expose-headers"]
    refused = open_widget(client, site_key["key"], EVIL)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    # Errors carry the header too, so the widget can read them.
    r = client.get(f"/api/v1/chat/sessions/{UNKNOWN}/messages", headers={"Origin": SHOP})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == SHOP

    # Side by side with the configured CORS_ORIGINS middleware.
    settings = svc.settings.model_copy(update={"cors_origins": "https://admin.example.com"})
    with TestClient(create_app(settings, svc)) as both:
        r = preflight(both, SHOP, "/api/v1/widget/session")
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == SHOP
        r = preflight(both, "https://admin.example.com", "/api/v1/widget/session")
        assert r.headers["access-control-allow-origin"] == "https://admin.example.com"
        r = preflight(both, "https://admin.example.com", "/api/v1/knowledge-base/search")
        assert r.headers["access-control-allow-origin"] == "https://admin.example.com"


def test_new_visitor_sessions_are_capped_per_ip(svc: Services, site_key: dict[str, Any]) -> None:
    settings = svc.settings.model_copy(
        update={"rate_limit_enabled": True, "rate_limit_widget_sessions_per_hour": 2}
    )
    with TestClient(create_app(settings, svc), client=("10.9.8.7", 50000)) as c:
        first = visitor(c, site_key)
        assert open_widget(c, site_key["key"]).status_code == 200
        r = open_widget(c, site_key["key"])
        assert r.status_code == 429 and code(r) == "RATE_LIMITED", r.text
        assert int(r.headers["Retry-After"]) > 60 and r.headers["access-control-allow-origin"]
        # Returning visitors are not new visitors: resuming still works.
        r = open_widget(c, site_key["key"], resume=first["refresh_token"])
        assert r.status_code == 200 and r.json()["data"]["session_id"] == first["session_id"]
        # But a resume token of an ended chat opens a new session: that one counts.
        ended = c.post(
            f"/api/v1/chat/sessions/{first['session_id']}/end", json={}, headers=first["headers"]
        )
        assert ended.status_code == 200, ended.text
        r = open_widget(c, site_key["key"], resume=first["refresh_token"])
        assert r.status_code == 429 and code(r) == "RATE_LIMITED", r.text
        # The limiter knows the visitor by its token (not as an anonymous IP).
        limiter = c.app.state.rate_limiter  # type: ignore[attr-defined]
        token = first["access_token"].encode()
        scope = {"app": c.app, "client": ("10.9.8.7", 1)}
        who = limiter.caller(scope, {b"authorization": b"Bearer " + token})
        assert who == f"visitor:{first['visitor_id']}"
    with TestClient(create_app(settings, svc), client=("10.9.8.8", 50000)) as other:
        assert open_widget(other, site_key["key"]).status_code == 200  # a budget per IP


def test_widget_js_is_served_cacheable_and_gzipped(client: TestClient) -> None:
    r = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "max-age" in r.headers["cache-control"] and r.headers["etag"]
    assert r.headers["access-control-allow-origin"] == "*"  # module scripts load with CORS
    assert "import.meta.url" in r.text and "data-testid" in r.text
    raw = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and raw.content == r.content
    assert len(gzip.compress(r.content)) <= 30 * 1024
    again = client.get("/widget.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_demo_page_in_development_only(client: TestClient, svc: Services) -> None:
    assert "No development site key" in client.get("/widget/demo").text
    dev = ensure_dev_site_key(svc)
    assert dev is not None and dev["allowed_origins"] == dev_origins(svc.settings)
    assert dev["allowed_origins"] == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert ensure_dev_site_key(svc)["key_id"] == dev["key_id"]  # type: ignore[index]
    assert svc.db["widget_keys"].count_documents({"purpose": DEV_PURPOSE}) == 1
    r = client.get("/widget/demo")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'data-site-key="{dev["key"]}"' in r.text and 'src="/widget.js"' in r.text
    assert "Authorization" not in r.request.headers  # no login needed
    # Another port: the key gains that port's origins instead of a second key being made.
    moved = replace(svc, settings=svc.settings.model_copy(update={"port": 9123}))
    assert "http://localhost:9123" in ensure_dev_site_key(moved)["allowed_origins"]  # type: ignore[index]
    assert svc.db["widget_keys"].count_documents({"purpose": DEV_PURPOSE}) == 1

    prod = svc.settings.model_copy(
        update={"app_env": "production", "pii_encryption_key": Fernet.generate_key().decode()}
    )
    assert ensure_dev_site_key(replace(svc, settings=prod)) is None
    with TestClient(create_app(prod, svc)) as c:
        r = c.get("/widget/demo")
        assert r.status_code == 404 and code(r) == "NOT_FOUND"
        assert c.get("/widget.js").status_code == 200
