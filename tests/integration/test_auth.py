"""Users and JWT auth end to end on nx-27017: register, login, refresh rotation, profile."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from app import cli
from app.auth.tokens import signing_secret
from app.main import create_app
from loaders.errors import SupportbotError
from loaders.settings import Settings, get_settings
from loaders.stack import Services
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration
SECRET = "test-secret-" + "x" * 60
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("auth"), mongo.uri, jwt_secret_key=SECRET)
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc)) as c:
        yield c


def email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def register(client: TestClient, address: str, **extra: Any) -> Any:
    body = {"email": address, "password": PASSWORD, "full_name": "Ada Lovelace", **extra}
    return client.post("/api/v1/users/register", json=body)


def login(client: TestClient, address: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/users/login", json={"email": address, "password": password})


def me(client: TestClient, token: str) -> Any:
    return client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})


def error_code(response: Any) -> str:
    body = response.json()
    assert body["success"] is False and body["data"] is None
    return str(body["error"]["code"])


def test_register_login_me_round_trip(client: TestClient, svc: Services) -> None:
    address = email()
    r = register(client, address.upper())
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["email"] == address and data["role"] == "user"
    assert me(client, data["access_token"]).json()["data"]["email"] == address
    r = login(client, address)
    assert r.status_code == 200, r.text
    pair = r.json()["data"]
    assert pair["expires_in"] == 3600 and pair["user_id"] == data["user_id"]
    claims = jwt.decode(pair["access_token"], SECRET, algorithms=["HS256"])
    assert claims["type"] == "access" and claims["exp"] - claims["iat"] == 3600
    profile = me(client, pair["access_token"]).json()["data"]
    assert profile["user_id"] == data["user_id"] and profile["status"] == "active"
    assert profile["last_login_at"] is not None
    assert "password_hash" not in profile and "_id" not in profile
    stored = svc.db["users"].find_one({"email": address})
    assert stored is not None and stored["password_hash"].startswith("$argon2id$")


def test_duplicate_email_is_409(client: TestClient) -> None:
    address = email()
    assert register(client, address).status_code == 201
    r = register(client, address.capitalize())
    assert r.status_code == 409 and error_code(r) == "EMAIL_ALREADY_REGISTERED"


def test_role_in_register_body_is_ignored(client: TestClient, svc: Services) -> None:
    address = email()
    r = register(client, address, role="admin", status="active")
    assert r.status_code == 201
    assert r.json()["data"]["role"] == "user"
    assert svc.db["users"].find_one({"email": address})["role"] == "user"  # type: ignore[index]
    token = login(client, address).json()["data"]["access_token"]
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["role"] == "user"


def test_weak_password_is_422_with_a_clear_message(client: TestClient) -> None:
    r = client.post(
        "/api/v1/users/register",
        json={"email": email(), "password": "short", "full_name": "A"},
    )
    assert r.status_code == 422 and error_code(r) == "WEAK_PASSWORD"
    assert "at least 10 characters" in r.json()["error"]["message"]


def test_wrong_password_and_unknown_email_look_the_same(client: TestClient) -> None:
    address = email()
    register(client, address)
    wrong = login(client, address, "not the password at all")
    unknown = login(client, email())
    assert wrong.status_code == unknown.status_code == 401
    assert error_code(wrong) == error_code(unknown) == "INVALID_CREDENTIALS"
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_bad_tokens_are_401(client: TestClient) -> None:
    address = email()
    data = register(client, address).json()["data"]
    header, _payload, sig = data["access_token"].split(".")
    claims = jwt.decode(data["access_token"], SECRET, algorithms=["HS256"])
    tampered = f"{header}.{_b64({**claims, 'role': 'admin'})}.{sig}"
    none_alg = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    now = int(time.time())
    expired = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, SECRET)
    hs512 = jwt.encode(claims, SECRET, algorithm="HS512")
    other_key = jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256")
    for token, code in [
        (tampered, "INVALID_TOKEN"),
        (none_alg, "INVALID_TOKEN"),
        (hs512, "INVALID_TOKEN"),
        (other_key, "INVALID_TOKEN"),
        (data["refresh_token"], "INVALID_TOKEN"),  # a refresh token is not an access token
        (expired, "TOKEN_EXPIRED"),
    ]:
        r = me(client, token)
        assert r.status_code == 401 and error_code(r) == code, token
    r = client.get("/api/v1/users/me")
    assert r.status_code == 401 and error_code(r) == "INVALID_TOKEN"
    assert me(client, data["access_token"]).status_code == 200


def test_refresh_rotation_and_reuse_revokes_the_family(client: TestClient, svc: Services) -> None:
    data = register(client, email()).json()["data"]
    first = data["refresh_token"]
    r = client.post("/api/v1/users/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()["data"]["refresh_token"]
    assert me(client, r.json()["data"]["access_token"]).status_code == 200
    jti = jwt.decode(second, SECRET, algorithms=["HS256"])["jti"]
    assert svc.db["refresh_tokens"].count_documents({"_id": jti}) == 0  # stored hashed only
    r = client.post("/api/v1/users/refresh", json={"refresh_token": first})
    assert r.status_code == 401 and error_code(r) == "REFRESH_TOKEN_REUSED"
    r = client.post("/api/v1/users/refresh", json={"refresh_token": second})
    assert r.status_code == 401, "the family must be revoked after reuse"
    r = client.post("/api/v1/users/refresh", json={"refresh_token": data["access_token"]})
    assert r.status_code == 401 and error_code(r) == "INVALID_TOKEN"


def test_suspended_user_cannot_log_in_or_use_tokens(client: TestClient, svc: Services) -> None:
    address = email()
    data = register(client, address).json()["data"]
    svc.db["users"].update_one({"email": address}, {"$set": {"status": "suspended"}})
    r = login(client, address)
    assert r.status_code == 403 and error_code(r) == "ACCOUNT_DISABLED"
    assert error_code(me(client, data["access_token"])) == "ACCOUNT_DISABLED"
    r = client.post("/api/v1/users/refresh", json={"refresh_token": data["refresh_token"]})
    assert r.status_code == 403
    assert error_code(login(client, address, "wrong password 123")) == "INVALID_CREDENTIALS"


def test_create_admin_cli(
    client: TestClient, svc: Services, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    address = email()
    monkeypatch.setenv("MONGODB_URI", str(svc.settings.mongodb_uri))
    monkeypatch.setenv("MONGODB_NAME", svc.settings.mongodb_name)
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    monkeypatch.setenv(cli.ADMIN_PASSWORD_ENV, "admin password 42")
    get_settings.cache_clear()
    try:
        assert cli.main(["users", "create-admin", "--email", address]) == 0
        assert cli.main(["users", "create-admin", "--email", address]) == 1
        monkeypatch.setenv(cli.ADMIN_PASSWORD_ENV, "short")
        assert cli.main(["users", "create-admin", "--email", email()]) == 1
    finally:
        get_settings.cache_clear()
    assert "at least 10 characters" in capsys.readouterr().err
    r = login(client, address, "admin password 42")
    assert r.status_code == 200 and r.json()["data"]["role"] == "admin"
    assert me(client, r.json()["data"]["access_token"]).json()["data"]["role"] == "admin"


def test_signing_secret_is_required_in_production(tmp_path: Path) -> None:
    with pytest.raises(SupportbotError) as info:
        signing_secret(Settings(app_env="production", jwt_secret_key=None, data_dir=tmp_path))
    assert info.value.code == "AUTH_NOT_CONFIGURED"
    dev = Settings(app_env="development", jwt_secret_key=None, data_dir=tmp_path)
    first = signing_secret(dev)
    assert len(first) >= 32 and signing_secret(dev) == first  # random, kept in DATA_DIR
    assert signing_secret(Settings(jwt_secret_key=SECRET)) == SECRET


def test_profile_statistics_count_the_callers_own_chats(client: TestClient) -> None:
    token = register(client, email()).json()["data"]["access_token"]
    other = register(client, email()).json()["data"]["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    sessions = []
    for _ in range(2):
        r = client.post("/api/v1/chat/sessions/initialize", json={}, headers=headers)
        assert r.status_code == 200, r.text
        sessions.append(r.json()["data"]["session_id"])
    r = client.post(
        f"/api/v1/chat/sessions/{sessions[0]}/messages",
        json={"message": "How do I reset my password?"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    for sid, rating in zip(sessions, (4, 5), strict=True):
        r = client.post(
            f"/api/v1/chat/sessions/{sid}/end",
            json={"feedback": {"rating": rating}},
            headers=headers,
        )
        assert r.status_code == 200, r.text
    stats = me(client, token).json()["data"]["statistics"]
    assert stats == {"total_sessions": 2, "total_messages": 1, "avg_satisfaction": 4.5}
    assert me(client, other).json()["data"]["statistics"] == {
        "total_sessions": 0,
        "total_messages": 0,
        "avg_satisfaction": None,
    }
