"""Bad text on every route that takes text: a lone surrogate is a 422 ``INVALID_TEXT`` (never a
500), control characters never reach MongoDB raw, and ordinary Unicode passes unchanged.

Real nx-27017, the real chat graph (extractive default), LangServe routes, the ingestion worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import TestUser, make_user
from tests.kb_fixtures import ingest_ok, make_services, upload

pytestmark = pytest.mark.integration

S = "\ud800"  # a lone surrogate: JSON carries it as the escape \ud800
UNICODE = "Café naïve 😀 👨‍👩‍👧 東京 한국어 שלום עולם مرحبا"
DOC = b"# Refunds\n\nAnnual plans are refunded within 30 days of purchase, no questions asked.\n"


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("badtext"), mongo.uri)
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
def user(svc: Services) -> TestUser:
    return make_user(svc, "user")


@pytest.fixture(scope="module")
def doc_id(client: TestClient, admin: TestUser) -> str:
    client.headers.update(admin.headers)
    try:
        return str(ingest_ok(client, "refunds-text.md", DOC)["document_id"])
    finally:
        del client.headers["authorization"]


def raw(client: TestClient, method: str, path: str, body: Any, who: TestUser | None) -> Any:
    """Send ``body`` as ASCII JSON, so a lone surrogate travels as its ``\\ud800`` escape."""
    headers = {"content-type": "application/json", **(who.headers if who else {})}
    return client.request(method, path, content=json.dumps(body).encode(), headers=headers)


def session(client: TestClient, who: TestUser) -> str:
    r = client.post("/api/v1/chat/sessions/initialize", json={}, headers=who.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["session_id"])


def routes(sid: str, doc: str, user_id: str) -> list[tuple[str, str, Any, str | None]]:
    """``(method, path, body, who)`` for every route that takes text; ``who`` is a role."""
    return [
        ("POST", "/api/v1/chat/sessions/initialize", {"metadata": {"ref": S}}, "user"),
        ("POST", f"/api/v1/chat/sessions/{sid}/messages", {"message": f"hi {S}"}, "user"),
        ("POST", f"/api/v1/chat/sessions/{sid}/end", {"feedback": {"comment": S}}, "user"),
        ("POST", "/chat/invoke", {"input": {"question": S}}, "user"),
        ("POST", "/chat/stream", {"input": {"question": f"x{S}"}}, "user"),
        ("POST", "/chat/batch", {"inputs": [{"question": "ok"}, {"question": S}]}, "user"),
        ("POST", "/chat/feedback", {"session_id": sid, "score": 1, "comment": S}, "user"),
        ("POST", "/api/v1/knowledge-base/search", {"query": S}, "user"),
        ("PUT", f"/api/v1/knowledge-base/documents/{doc}", {"title": S}, "admin"),
        ("PUT", f"/api/v1/knowledge-base/documents/{doc}", {"description": S}, "admin"),
        ("PUT", f"/api/v1/knowledge-base/documents/{doc}", {"tags": ["ok", S]}, "admin"),
        ("POST", "/api/v1/embeddings/generate", {"texts": ["fine", S]}, "user"),
        ("POST", "/api/v1/users/register",
         {"email": "new@example.com", "password": S * 12, "full_name": "N"}, None),
        ("POST", "/api/v1/users/login", {"email": "x@example.com", "password": S}, None),
        ("POST", "/api/v1/users/refresh", {"refresh_token": S}, None),
        ("PATCH", "/api/v1/users/me", {"full_name": f"Ann{S}"}, "user"),
        ("PUT", "/api/v1/admin/config", {"llm_provider": {"model": S}}, "admin"),
        ("POST", "/api/v1/admin/prompts/answer/versions", {"version": "v9", "template": S},
         "admin"),
        ("PATCH", f"/api/v1/admin/users/{user_id}", {"role": S}, "admin"),
        ("POST", "/api/v1/admin/api-keys", {"name": S, "role": "user"}, "admin"),
    ]  # fmt: skip


def test_lone_surrogate_is_422_invalid_text_on_every_route(
    client: TestClient, admin: TestUser, user: TestUser, doc_id: str
) -> None:
    sid = session(client, user)
    who = {"admin": admin, "user": user, None: None}
    for method, path, body, role in routes(sid, doc_id, user.user_id):
        r = raw(client, method, path, body, who[role])
        assert r.status_code == 422, (method, path, r.status_code, r.text[:300])
        error = r.json()["error"]
        assert error["code"] == "INVALID_TEXT", (path, error)
        assert error["details"]["reason"] == "lone_surrogate"
        assert "surrogate" in error["message"] and error["details"]["field"]
        assert r.headers["x-request-id"] == error["trace_id"]
    # nothing half-done: the session still takes turns, the document kept its title
    assert raw(client, "POST", f"/api/v1/chat/sessions/{sid}/messages", {"message": "hi"}, user)
    got = client.get(f"/api/v1/knowledge-base/documents/{doc_id}", headers=admin.headers)
    assert got.json()["data"]["title"] == "Refunds"


@pytest.mark.parametrize(
    "form",
    [{"metadata": '{"author": "\\ud800"}'}, {"tags": '["ok", "\\ud800"]'}, {"title": "Bad\x07"},
     {"category": "x\x00y"}],
)  # fmt: skip
def test_ingest_form_fields_are_checked(
    client: TestClient, admin: TestUser, form: dict[str, str]
) -> None:
    client.headers.update(admin.headers)
    try:
        r = upload(client, "form-check.md", DOC, **form)
    finally:
        del client.headers["authorization"]
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "INVALID_TEXT"


def test_control_characters_never_reach_mongodb_raw(
    client: TestClient, svc: Services, admin: TestUser, user: TestUser, doc_id: str
) -> None:
    dirty = "Where\x00 is my\x1b[31m refund\x7f\x85?"
    clean = "Where is my[31m refund?"
    sid = session(client, user)
    r = raw(client, "POST", f"/api/v1/chat/sessions/{sid}/messages", {"message": dirty}, user)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["user_message"]["content"] == clean
    stored = svc.db["chat_messages"].find_one({"session_id": sid, "role": "user"})
    assert stored is not None and stored["content"] == clean
    r = raw(
        client, "POST", "/chat/feedback", {"session_id": sid, "score": 4, "comment": dirty}, user
    )
    assert r.status_code == 201, r.text
    assert svc.db["chat_feedback"].find_one({"session_id": sid})["comment"] == clean
    invoke = {"input": {"question": "invoke\x00 marker\x08"}}
    assert raw(client, "POST", "/chat/invoke", invoke, user).status_code == 200
    asked = svc.db["chat_messages"].find_one({"role": "user", "content": "invoke marker"})
    assert asked is not None
    assert not svc.db["chat_messages"].find_one({"content": {"$regex": "[\x00-\x08\x7f]"}})
    r = raw(
        client, "POST", f"/api/v1/chat/sessions/{sid}/end", {"feedback": {"comment": dirty}}, user
    )
    assert r.status_code == 200, r.text
    assert svc.db["chat_sessions"].find_one({"session_id": sid})["feedback"]["comment"] == clean

    path = f"/api/v1/knowledge-base/documents/{doc_id}"
    update = {"description": "Refund\x00 rules\x9f", "reindex": False}
    assert raw(client, "PUT", path, update, admin).status_code == 200
    record = svc.db["knowledge_base_documents"].find_one({"document_id": doc_id})
    assert record["description"] == "Refund rules"
    for body in ({"title": "Refunds\x00"}, {"tags": ["bil\x07ling"]}, {"category": "a\x1bb"}):
        r = raw(client, "PUT", path, body, admin)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["reason"] == "control_character"
    account = {"email": "eve@example.com", "password": "long enough pw", "full_name": "E"}
    for bad in ({"email": "eve\x00@example.com"}, {"full_name": "E\x00"}):
        r = raw(client, "POST", "/api/v1/users/register", account | bad, None)
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_TEXT", r.text
    assert svc.db["users"].count_documents({"full_name": {"$regex": "^E"}}) == 0
    r = raw(client, "POST", "/api/v1/embeddings/generate", {"texts": ["re\x00set"]}, user)
    assert r.json()["data"]["embeddings"][0]["text"] == "reset"


def test_ordinary_unicode_passes_unchanged(
    client: TestClient, svc: Services, admin: TestUser, user: TestUser
) -> None:
    sid = session(client, user)
    r = raw(client, "POST", f"/api/v1/chat/sessions/{sid}/messages", {"message": UNICODE}, user)
    assert r.status_code == 200, r.text
    stored = svc.db["chat_messages"].find_one({"session_id": sid, "role": "user"})
    assert stored is not None and stored["content"] == UNICODE
    r = client.post("/api/v1/knowledge-base/search", json={"query": UNICODE}, headers=user.headers)
    assert r.status_code == 200 and r.json()["data"]["query"] == UNICODE
    body = {"email": "uni@example.com", "password": "long enough pw", "full_name": UNICODE}
    r = client.post("/api/v1/users/register", json=body)
    assert r.status_code == 201, r.text
    assert svc.db["users"].find_one({"email": "uni@example.com"})["full_name"] == UNICODE
    client.headers.update(admin.headers)
    try:
        job = ingest_ok(client, "unicode.md", DOC, title=UNICODE, description=UNICODE)
    finally:
        del client.headers["authorization"]
    record = svc.db["knowledge_base_documents"].find_one({"document_id": job["document_id"]})
    assert record["title"] == UNICODE and record["description"] == UNICODE


def test_short_json_escapes_for_control_characters_are_checked_too(
    client: TestClient, user: TestUser, svc: Services
) -> None:
    sid = session(client, user)
    r = client.post(
        f"/api/v1/chat/sessions/{sid}/messages",
        content=b'{"message": "How do I get a refund?\\b\\f"}',
        headers={**user.headers, "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    stored = svc.db["chat_messages"].find_one({"session_id": sid, "role": "user"})
    assert stored is not None and "\b" not in stored["content"] and "\f" not in stored["content"]
    bad = client.post(
        "/api/v1/users/register",
        content=b'{"email": "x@example.com", "password": "long enough 123", "full_name": "a\\bb"}',
        headers={"content-type": "application/json"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_TEXT"


def test_absurdly_deep_json_is_a_4xx_not_a_500(client: TestClient, user: TestUser) -> None:
    sid = session(client, user)
    body = '{"message": ' + "[" * 5000 + '"\\u00e9"' + "]" * 5000 + "}"
    r = client.post(
        f"/api/v1/chat/sessions/{sid}/messages",
        content=body.encode(),
        headers={**user.headers, "content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text
