"""Admin user management: list, promote to support agent, suspend (applies at once), audited."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import PASSWORD, make_user
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("admin_users"), mongo.uri)
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc)) as c:
        yield c


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def test_promote_to_support_agent_grants_transcript_access(
    client: TestClient, svc: Services
) -> None:
    admin, agent = make_user(svc, "admin"), make_user(svc, "user")
    assert (
        client.get("/api/v1/chat/sessions?status=escalated", headers=agent.headers).json()["data"][
            "sessions"
        ]
        == []
    )  # a plain user sees only their own (none)
    customer = make_user(svc, "user")
    sid = client.post("/api/v1/chat/sessions/initialize", json={}, headers=customer.headers).json()[
        "data"
    ]["session_id"]
    r = client.get(f"/api/v1/chat/sessions/{sid}/messages", headers=agent.headers)
    assert r.status_code == 404
    r = client.patch(
        f"/api/v1/admin/users/{agent.user_id}",
        json={"role": "support_agent"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["role"] == "support_agent"
    r = client.get(f"/api/v1/chat/sessions/{sid}/messages", headers=agent.headers)
    assert r.status_code == 200, r.text  # the same token: the role is re-read per request
    audit = client.get(
        "/api/v1/admin/audit", params={"action": "user.update"}, headers=admin.headers
    ).json()["data"]
    record = next(a for a in audit["records"] if a["target"] == agent.user_id)
    assert record["before"] == {"role": "user"} and record["after"] == {"role": "support_agent"}
    assert record["actor"]["user_id"] == admin.user_id


def test_suspension_applies_to_live_tokens_and_logins(client: TestClient, svc: Services) -> None:
    admin, user = make_user(svc, "admin"), make_user(svc, "user")
    login = client.post(
        "/api/v1/users/login", json={"email": user.user["email"], "password": PASSWORD}
    )
    refresh = login.json()["data"]["refresh_token"]
    assert client.get("/api/v1/users/me", headers=user.headers).status_code == 200
    r = client.patch(
        f"/api/v1/admin/users/{user.user_id}", json={"status": "suspended"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/users/me", headers=user.headers).status_code in (401, 403)
    r = client.post("/api/v1/users/refresh", json={"refresh_token": refresh})
    assert r.status_code in (401, 403)
    r = client.post("/api/v1/users/login", json={"email": user.user["email"], "password": PASSWORD})
    assert r.status_code == 403 and code(r) == "ACCOUNT_DISABLED"
    listed = client.get(
        "/api/v1/admin/users", params={"status": "suspended"}, headers=admin.headers
    ).json()["data"]
    assert user.user_id in {u["user_id"] for u in listed["users"]}
    assert all(u["status"] == "suspended" for u in listed["users"])
    assert all("password_hash" not in u for u in listed["users"])


def test_bad_updates_are_refused(client: TestClient, svc: Services) -> None:
    admin, user = make_user(svc, "admin"), make_user(svc, "user")
    cases = [
        (
            f"/api/v1/admin/users/{admin.user_id}",
            {"status": "suspended"},
            409,
            "CANNOT_CHANGE_SELF",
        ),
        (f"/api/v1/admin/users/{user.user_id}", {}, 422, "NO_CHANGES"),
        (f"/api/v1/admin/users/{user.user_id}", {"role": "root"}, 422, None),
        (f"/api/v1/admin/users/{user.user_id}", {"email": "x@example.com"}, 422, None),
        ("/api/v1/admin/users/no-such-user", {"role": "admin"}, 404, "USER_NOT_FOUND"),
    ]
    for path, body, status, expected in cases:
        r = client.patch(path, json=body, headers=admin.headers)
        assert r.status_code == status, (body, r.text)
        if expected:
            assert code(r) == expected
    r = client.patch(
        f"/api/v1/admin/users/{admin.user_id}", json={"role": "admin"}, headers=user.headers
    )
    assert r.status_code == 403
    assert svc.db["users"].find_one({"user_id": user.user_id})["role"] == "user"  # type: ignore[index]
