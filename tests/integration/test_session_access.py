"""Who may read and extend chat sessions (REST, feedback, LangServe), API keys, the login cookie.

Real nx-27017, the real chat graph (extractive model, empty KB: turns are quick), real tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from app.auth.deps import COOKIE_NAME
from app.main import create_app
from app.routers.langserve_chat import bind_session
from loaders.stack import Services
from tests.auth_fixtures import PASSWORD, TestUser, make_user
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration
SECRET = "session-secret-" + "q" * 48
UNKNOWN = "00000000-0000-4000-8000-000000000000"
HANDOVER = "I want to talk to a human agent please"


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("acl"), mongo.uri, jwt_secret_key=SECRET)
    services.worker.stop()
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc)) as c:
        yield c


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def start(client: TestClient, who: TestUser | dict[str, str], **body: Any) -> str:
    headers = who.headers if isinstance(who, TestUser) else who
    r = client.post("/api/v1/chat/sessions/initialize", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["session_id"])


def post(client: TestClient, who: TestUser, sid: str, text: str = "hello", **body: Any) -> Any:
    url = f"/api/v1/chat/sessions/{sid}/messages"
    return client.post(url, json={"message": text, **body}, headers=who.headers)


def invoke(client: TestClient, who: TestUser, configurable: dict[str, Any]) -> Any:
    body = {"input": {"question": "hello"}, "config": {"configurable": configurable}}
    return client.post("/chat/invoke", json=body, headers=who.headers)


def count_messages(svc: Services, sid: str) -> int:
    return int(svc.db["chat_messages"].count_documents({"session_id": sid}))


def test_sessions_belong_to_their_owner_and_staff_only_read(
    client: TestClient, svc: Services
) -> None:
    alice, bob = make_user(svc), make_user(svc)
    agent, admin = make_user(svc, "support_agent"), make_user(svc, "admin")
    sid = start(client, alice, user_id=bob.user_id)  # a body user_id is ignored
    assert svc.db["chat_sessions"].find_one({"session_id": sid})["user_id"] == alice.user_id  # type: ignore[index]
    assert post(client, alice, sid, HANDOVER).status_code == 200
    messages = f"/api/v1/chat/sessions/{sid}/messages"
    bot = client.get(messages, headers=alice.headers).json()["data"]["messages"][0]

    # Bob: every way in looks exactly like an unknown session.
    unknown = client.get(f"/api/v1/chat/sessions/{UNKNOWN}/messages", headers=bob.headers)
    for r in (
        client.get(messages, headers=bob.headers),
        post(client, bob, sid),
        client.post(f"/api/v1/chat/sessions/{sid}/end", headers=bob.headers),
        client.post("/chat/feedback", json={"session_id": sid, "score": 1}, headers=bob.headers),
        invoke(client, bob, {"session_id": sid}),
    ):
        assert r.status_code == 404 and code(r) == "SESSION_NOT_FOUND", r.text
        assert (
            r.json()["error"]["message"].replace(sid, UNKNOWN) == unknown.json()["error"]["message"]
        )
    # Staff read the transcript but cannot post, end or rate in the customer's place.
    for staff in (agent, admin):
        r = client.get(messages, headers=staff.headers)
        assert r.status_code == 200 and r.json()["data"]["pagination"]["total_messages"] == 2
        for r in (
            post(client, staff, sid),
            client.post(f"/api/v1/chat/sessions/{sid}/end", headers=staff.headers),
            client.post(
                "/chat/feedback", json={"session_id": sid, "score": 1}, headers=staff.headers
            ),
            invoke(client, staff, {"session_id": sid}),
        ):
            assert r.status_code == 403 and code(r) == "SESSION_READ_ONLY", r.text
    assert count_messages(svc, sid) == 2
    r = client.post(
        "/chat/feedback",
        json={"session_id": sid, "message_id": bot["message_id"], "score": 5},
        headers=alice.headers,
    )
    assert r.status_code == 201 and r.json()["data"]["user_id"] == alice.user_id


def test_escalated_queue_for_staff_own_sessions_for_users(
    client: TestClient, svc: Services
) -> None:
    alice, bob, agent = make_user(svc), make_user(svc), make_user(svc, "support_agent")
    escalated = [start(client, alice), start(client, bob)]
    for who, sid in zip((alice, bob), escalated, strict=True):
        assert post(client, who, sid, HANDOVER).json()["data"]["escalation"]
    quiet = start(client, alice)

    def listed(who: TestUser, **params: Any) -> dict[str, Any]:
        r = client.get("/api/v1/chat/sessions", params=params, headers=who.headers)
        assert r.status_code == 200, r.text
        return r.json()["data"]  # type: ignore[no-any-return]

    queue = {s["session_id"] for s in listed(agent, status="escalated", page_size=100)["sessions"]}
    assert set(escalated) <= queue and quiet not in queue
    page = listed(agent, status="escalated", page=2, page_size=1)
    assert len(page["sessions"]) == 1 and page["pagination"]["total_sessions"] >= 2
    assert all(s["escalated"] for s in listed(agent, status="escalated")["sessions"])
    mine = {s["session_id"] for s in listed(alice)["sessions"]}
    assert mine == {escalated[0], quiet}, "a user sees only their own sessions"
    assert {s["session_id"] for s in listed(bob, status="escalated")["sessions"]} == {escalated[1]}
    r = client.get("/api/v1/chat/sessions", params={"status": "bogus"}, headers=agent.headers)
    assert r.status_code == 422


def test_rest_config_is_admin_only(client: TestClient, svc: Services) -> None:
    user, admin = make_user(svc), make_user(svc, "admin")
    sid = start(client, user)
    r = post(client, user, sid, config={"top_k": 1})
    assert r.status_code == 403 and code(r) == "CONFIG_NOT_ALLOWED"
    assert count_messages(svc, sid) == 0
    assert post(client, admin, start(client, admin), config={"top_k": 1}).status_code == 200


def test_langserve_binds_user_and_refuses_foreign_sessions(
    client: TestClient, svc: Services
) -> None:
    alice, bob = make_user(svc), make_user(svc)
    theirs = start(client, alice)
    # No session: a new one owned by the caller, whatever user_id the client claims.
    r = invoke(client, bob, {"user_id": alice.user_id, "model": "openai/not-allowed"})
    assert r.status_code == 200, r.text
    mine = svc.db["chat_sessions"].find_one({"user_id": bob.user_id})
    assert mine is not None
    ai = svc.db["chat_messages"].find_one({"session_id": mine["session_id"], "role": "assistant"})
    assert ai is not None and ai["user_id"] == bob.user_id
    assert ai["ai_metadata"]["model_used"] != "openai/not-allowed", "non-admin override kept"
    # A batch cannot smuggle a foreign session in one item's config.
    body = {
        "inputs": [{"question": "hi"}, {"question": "hi"}],
        "config": [
            {"configurable": {"session_id": mine["session_id"]}},
            {"configurable": {"session_id": theirs}},
        ],
    }
    r = client.post("/chat/batch", json=body, headers=bob.headers)
    assert r.status_code == 404 and code(r) == "SESSION_NOT_FOUND"
    assert count_messages(svc, theirs) == 0
    r = client.post(
        "/chat/stream",
        json={"input": {"question": "hi"}, "config": {"configurable": {"session_id": theirs}}},
        headers=bob.headers,
    )
    assert r.status_code == 404
    assert count_messages(svc, theirs) == 0


def _request(client: TestClient, user: dict[str, Any]) -> Request:
    request = Request({"type": "http", "app": client.app, "headers": [], "state": {}})
    request.state.user = user
    return request


def test_bind_session_keeps_overrides_for_admins_only(client: TestClient, svc: Services) -> None:
    user, admin = make_user(svc), make_user(svc, "admin")
    sent = {"configurable": {"top_k": 2, "temperature": 0.9, "user_id": "x", "evil": 1}}
    as_admin = bind_session(sent, _request(client, admin.user))["configurable"]
    assert as_admin["top_k"] == 2 and as_admin["temperature"] == 0.9
    assert as_admin["user_id"] == admin.user_id
    as_user = bind_session(sent, _request(client, user.user))["configurable"]
    defaults = bind_session({}, _request(client, user.user))["configurable"]
    assert as_user["user_id"] == user.user_id and "evil" not in as_user
    assert {k: v for k, v in as_user.items() if k != "session_id"} == {
        k: v for k, v in defaults.items() if k != "session_id"
    }


def test_api_keys_are_principals_shown_once_and_revocable(
    client: TestClient, svc: Services
) -> None:
    admin, other = make_user(svc, "admin"), make_user(svc)
    r = client.post(
        "/api/v1/admin/api-keys", json={"name": "widget", "role": "user"}, headers=admin.headers
    )
    assert r.status_code == 201, r.text
    created = r.json()["data"]
    secret = created["api_key"]
    assert secret.startswith(created["prefix"]) and len(created["prefix"]) < 16
    raw = svc.db["api_keys"].find_one({"key_id": created["key_id"]})
    assert raw is not None and raw["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(raw)
    listed = client.get("/api/v1/admin/api-keys", headers=admin.headers).json()["data"]["api_keys"]
    assert any(k["key_id"] == created["key_id"] for k in listed) and secret not in str(listed)
    assert "key_hash" not in str(listed)

    key = {"X-API-Key": secret}
    sid = start(client, key)
    doc = svc.db["chat_sessions"].find_one({"session_id": sid})
    assert (
        doc is not None
        and doc["user_id"] == created["principal_id"] == f"apikey:{created['key_id']}"
    )
    assert client.get(f"/api/v1/chat/sessions/{sid}/messages", headers=key).status_code == 200
    r = client.get(f"/api/v1/chat/sessions/{sid}/messages", headers=other.headers)
    assert r.status_code == 404
    assert client.get("/metrics", headers=key).status_code == 403  # a "user" key
    r = client.delete(f"/api/v1/admin/api-keys/{created['key_id']}", headers=admin.headers)
    assert r.status_code == 200 and r.json()["data"]["active"] is False
    r = client.get("/api/v1/embeddings/models", headers=key)
    assert r.status_code == 401 and code(r) == "INVALID_API_KEY"
    r = client.get("/api/v1/embeddings/models", headers={"X-API-Key": "sbk_made-up"})
    assert r.status_code == 401
    r = client.post(
        "/api/v1/admin/api-keys", json={"name": "prom", "role": "admin"}, headers=admin.headers
    )
    assert (
        client.get("/metrics", headers={"X-API-Key": r.json()["data"]["api_key"]}).status_code
        == 200
    )
    r = client.delete(f"/api/v1/admin/api-keys/{UNKNOWN}", headers=admin.headers)
    assert r.status_code == 404 and code(r) == "API_KEY_NOT_FOUND"


def test_login_page_cookie_opens_the_playground(client: TestClient, svc: Services) -> None:
    user = make_user(svc)
    email = user.user["email"]
    page = client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert client.get("/chat/playground/").status_code == 401
    r = client.post("/login", data={"email": email, "password": "wrong password"})
    assert r.status_code == 401 and COOKIE_NAME not in r.cookies
    r = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/chat/playground/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert client.get("/chat/playground/").status_code == 200
    r = client.post("/chat/invoke", json={"input": {"question": "hello"}})
    assert r.status_code == 200, r.text
    r = client.post(
        "/chat/invoke",
        json={"input": {"question": "hello"}},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and code(r) == "CROSS_ORIGIN_REFUSED"
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and COOKIE_NAME not in client.cookies
    assert client.get("/chat/playground/").status_code == 401
    with TestClient(client.app, base_url="https://testserver") as tls:
        r = tls.post("/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)
        assert "secure" in r.headers["set-cookie"].lower()
