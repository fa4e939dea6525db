"""Auth on every route, roles, JWT abuse, CORS, body limits, logs, PII at rest, start-up rules.

Real nx-27017, the real app and auth stack; tokens are signed (or forged) for real.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from starlette.routing import Route

from app.auth.pii import KEY_FILE, PiiKeyError
from app.auth.service import auth_service_for
from app.auth.startup import DEV_ADMIN_EMAIL, PASSWORD_FILE, bootstrap_dev_admin
from app.main import create_app
from loaders.errors import SupportbotError
from loaders.stack import Services
from tests.auth_fixtures import PASSWORD, make_user
from tests.kb_fixtures import make_services, make_settings

pytestmark = pytest.mark.integration
SECRET = "security-secret-" + "s" * 48
PII_KEY = Fernet.generate_key().decode()
ORIGIN = "https://app.example.com"
# Routes anyone may call: liveness/readiness, getting a token, the docs, the login page.
PUBLIC = {
    "/health",
    "/ready",
    "/api/v1/users/login",
    "/api/v1/users/register",
    "/api/v1/users/refresh",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/login",
    "/logout",
    # The customer widget: a public script, its demo page, and the site-key session start.
    "/widget.js",
    "/widget/demo",
    "/api/v1/widget/session",
}

# Pages for people, not scripts: without a login cookie they redirect to the login page.
LOGIN_REDIRECTS = {"/agent/": "/login?next=/agent/"}


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(
        tmp_path_factory.mktemp("sec"),
        mongo.uri,
        jwt_secret_key=SECRET,
        pii_encryption_key=PII_KEY,
        cors_origins=f"{ORIGIN}, https://admin.example.com",
    )
    services.worker.stop()
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc)) as c:
        yield c


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def concrete(path: str) -> str:
    """A callable URL for a route template: ids become a well-formed UUID."""
    path = re.sub(r"\{[^}]*:path\}", "index.html", path)
    return re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)


def routes(app: Any) -> Iterator[tuple[str, set[str]]]:
    """``(path, methods)`` of every route, through included routers (FastAPI >= 0.165 keeps
    them as lazily-flattened ``_IncludedRouter`` entries in ``app.routes``)."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                yield ctx.path, set(ctx.methods or ())
        else:
            assert isinstance(route, Route), f"unexpected route {route!r}: check its auth"
            yield route.path, set(route.methods or ())


def test_every_route_but_the_public_ones_answers_401_without_credentials(
    client: TestClient,
) -> None:
    """A route added later without auth fails here, whatever its router."""
    seen_public: set[str] = set()
    checked = 0
    paths = set()
    for path, methods in routes(client.app):
        paths.add(path)
        if path in PUBLIC:
            seen_public.add(path)
            continue
        if path in LOGIN_REDIRECTS:  # a page for people: anonymous callers go to /login
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == LOGIN_REDIRECTS[path]
            checked += 1
            continue
        for method in sorted(methods - {"HEAD"}):
            r = client.request(method, concrete(path))
            assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
            assert code(r) == "INVALID_TOKEN", (method, path)
            checked += 1
    assert seen_public == PUBLIC, (
        f"allow-list names routes that do not exist: {PUBLIC - seen_public}"
    )
    assert checked > 40  # LangServe alone adds dozens
    for path in ("/health", "/docs", "/openapi.json", "/login"):
        assert client.get(path).status_code == 200, path
    assert {
        "/api/v1/admin/api-keys",
        "/metrics",
        "/chat/batch",
        "/chat/playground/{file_path:path}",
    } <= paths


def test_everything_under_admin_is_admin_only(client: TestClient, svc: Services) -> None:
    """Other modules add admin routers; one that forgets the role check fails here."""
    user, agent = make_user(svc, "user"), make_user(svc, "support_agent")
    checked = 0
    for path, methods in routes(client.app):
        if not path.startswith("/api/v1/admin/"):
            continue
        for method in sorted(methods - {"HEAD"}):
            for who in (user, agent):
                r = client.request(method, concrete(path), headers=who.headers)
                assert r.status_code == 403, (who.user["role"], method, path, r.text[:200])
                checked += 1
    assert checked >= 6  # at least the API-key routes, for both roles


def test_roles_guard_writes_admin_routes_and_metrics(client: TestClient, svc: Services) -> None:
    user, agent, admin = (make_user(svc, role) for role in ("user", "support_agent", "admin"))
    doc = "00000000-0000-4000-8000-000000000000"
    admin_only = [
        ("POST", "/api/v1/knowledge-base/documents/ingest"),
        ("GET", f"/api/v1/knowledge-base/documents/ingest/{doc}/status"),
        ("PUT", f"/api/v1/knowledge-base/documents/{doc}"),
        ("DELETE", f"/api/v1/knowledge-base/documents/{doc}"),
        ("GET", "/api/v1/admin/api-keys"),
        ("POST", "/api/v1/admin/api-keys"),
        ("GET", "/metrics"),
    ]
    for who in (user, agent):
        for method, path in admin_only:
            r = client.request(method, path, headers=who.headers)
            assert r.status_code == 403 and code(r) == "FORBIDDEN", (who.user["role"], path)
    assert client.get("/metrics", headers=admin.headers).status_code == 200
    r = client.get(f"/api/v1/knowledge-base/documents/ingest/{doc}/status", headers=admin.headers)
    assert r.status_code == 404  # past the role check: the job just does not exist
    r = client.post("/api/v1/knowledge-base/search", json={"query": "x"}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/embeddings/models", headers=user.headers).status_code == 200
    r = client.post("/api/v1/embeddings/generate", json={"texts": ["hi"]}, headers=agent.headers)
    assert r.status_code == 200


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_forged_tampered_expired_and_none_tokens(client: TestClient, svc: Services) -> None:
    user = make_user(svc, "user")
    claims = jwt.decode(user.token, SECRET, algorithms=["HS256"])
    header, payload, sig = user.token.split(".")
    now = int(time.time())
    none_header = _b64(b'{"alg":"none","typ":"JWT"}')
    tampered = f"{header}.{_b64(jwt.utils.base64url_decode(payload).replace(b'user', b'admin'))}"
    bad = {
        "tampered": f"{tampered}.{sig}",
        "wrong key": jwt.encode({**claims, "role": "admin"}, "k" * 64, algorithm="HS256"),
        "alg none": f"{none_header}.{payload}.",
        "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 10}, SECRET),
        "garbage": "not.a.token",
    }
    search = "/api/v1/knowledge-base/search"
    for name, token in bad.items():
        r = client.post(search, json={"query": "x"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, name
        assert code(r) == ("TOKEN_EXPIRED" if name == "expired" else "INVALID_TOKEN"), name
    # A correctly signed token that claims "admin" for a plain user: the role comes from the
    # database, not from the token.
    lying = jwt.encode({**claims, "role": "admin"}, SECRET, algorithm="HS256")
    r = client.get("/api/v1/admin/api-keys", headers={"Authorization": f"Bearer {lying}"})
    assert r.status_code == 403


def test_no_role_escalation_through_register_or_profile(client: TestClient, svc: Services) -> None:
    body = {"email": "mallory@example.com", "password": PASSWORD, "full_name": "M"}
    r = client.post("/api/v1/users/register", json={**body, "role": "admin", "status": "active"})
    assert r.status_code == 201 and r.json()["data"]["role"] == "user"
    headers = {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
    for extra in ({"role": "admin"}, {"status": "active"}, {"email": "x@example.com"}):
        r = client.patch("/api/v1/users/me", json={"full_name": "M2", **extra}, headers=headers)
        assert r.status_code == 422, extra
    r = client.patch("/api/v1/users/me", json={"full_name": "Mal"}, headers=headers)
    assert r.status_code == 200 and r.json()["data"]["role"] == "user"
    stored = svc.db["users"].find_one({"email": "mallory@example.com"})
    assert stored is not None and stored["role"] == "user" and stored["full_name"] == "Mal"
    assert client.get("/api/v1/admin/api-keys", headers=headers).status_code == 403


def test_phone_is_encrypted_at_rest_and_readable_in_the_profile(
    client: TestClient, svc: Services
) -> None:
    phone, new_phone = "+1-555-0100", "+44 20 7946 0958"
    body = {"email": "pii@example.com", "password": PASSWORD, "full_name": "P", "phone": phone}
    data = client.post("/api/v1/users/register", json=body).json()["data"]
    headers = {"Authorization": f"Bearer {data['access_token']}"}
    raw = svc.db["users"].find_one({"email": "pii@example.com"})
    assert raw is not None and phone not in str(raw) and raw["phone"]
    assert Fernet(PII_KEY.encode()).decrypt(raw["phone"].encode()).decode() == phone
    assert client.get("/api/v1/users/me", headers=headers).json()["data"]["phone"] == phone
    r = client.patch(
        "/api/v1/users/me",
        json={"phone": new_phone, "preferences": {"theme": "dark"}},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["data"]["phone"] == new_phone
    assert r.json()["data"]["preferences"]["language"] == "en"  # merged, not replaced
    raw = svc.db["users"].find_one({"email": "pii@example.com"})
    assert raw is not None and new_phone not in str(raw) and phone not in str(raw)


def test_cors_only_for_configured_origins(client: TestClient, svc: Services) -> None:
    def preflight(origin: str) -> Any:
        return client.options(
            "/api/v1/knowledge-base/search",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )

    assert preflight(ORIGIN).headers.get("access-control-allow-origin") == ORIGIN
    assert "access-control-allow-origin" not in preflight("https://evil.example.net").headers
    r = client.get("/health", headers={"Origin": "https://admin.example.com"})
    assert r.headers.get("access-control-allow-origin") == "https://admin.example.com"
    assert (
        "access-control-allow-origin"
        not in client.get("/health", headers={"Origin": "https://evil.example.net"}).headers
    )
    settings = svc.settings.model_copy(update={"cors_origins": ""})
    with TestClient(create_app(settings, svc)) as plain:
        assert (
            "access-control-allow-origin"
            not in plain.get("/health", headers={"Origin": ORIGIN}).headers
        )


def test_oversized_bodies_are_413(client: TestClient, svc: Services) -> None:
    user = make_user(svc, "user")
    big = b'{"channel": "web", "metadata": {"x": "' + b"a" * (2 * 1024 * 1024) + b'"}}'
    headers = {**user.headers, "content-type": "application/json"}
    r = client.post("/api/v1/chat/sessions/initialize", content=big, headers=headers)
    assert r.status_code == 413
    r = client.post(
        "/api/v1/users/login", content=big, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_no_passwords_tokens_or_keys_in_logs(
    client: TestClient, svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    admin = make_user(svc, "admin")
    caplog.set_level(logging.DEBUG)
    r = client.post(
        "/api/v1/users/login", json={"email": admin.user["email"], "password": PASSWORD}
    )
    token = r.json()["data"]["access_token"]
    refresh = r.json()["data"]["refresh_token"]
    auth = {"Authorization": f"Bearer {token}"}
    key = client.post("/api/v1/admin/api-keys", json={"name": "logs"}, headers=auth).json()
    secret = key["data"]["api_key"]
    client.get("/api/v1/users/me", headers=auth)
    client.get("/api/v1/embeddings/models", headers={"X-API-Key": secret})
    client.post("/login", data={"email": admin.user["email"], "password": "wrong password!"})
    client.post("/api/v1/users/login", json={"email": "nobody@example.com", "password": PASSWORD})
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "nothing was logged: the check proves nothing"
    for value in (PASSWORD, "wrong password!", token, refresh, secret, admin.token):
        assert value not in text


def test_production_refuses_to_start_without_secrets(svc: Services) -> None:
    base = svc.settings.model_copy(update={"app_env": "production"})
    with pytest.raises(SupportbotError, match="JWT_SECRET_KEY"):
        create_app(base.model_copy(update={"jwt_secret_key": None}), svc)
    with pytest.raises(PiiKeyError, match="PII_ENCRYPTION_KEY must be set"):
        create_app(base.model_copy(update={"pii_encryption_key": None}), svc)
    with pytest.raises(PiiKeyError, match="not a valid Fernet key"):
        create_app(base.model_copy(update={"pii_encryption_key": "short"}), svc)
    create_app(base, svc)  # both set: starts


def test_development_key_file_and_first_admin(mongo: Any, tmp_path: Path) -> None:
    services = make_services(tmp_path, mongo.uri, jwt_secret_key=SECRET)
    services.worker.stop()
    try:
        auth = auth_service_for(services.extras, services.db, services.settings)
        auth.create_user("k@example.com", PASSWORD, "K", phone="+1 555 0101")
        key_file = tmp_path / KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert auth.users.by_email("k@example.com")["phone"] == "+1 555 0101"  # type: ignore[index]
        assert bootstrap_dev_admin(services) is None, "users exist: no bootstrap"
        services.db["users"].delete_many({})
        prod = services.settings.model_copy(update={"app_env": "production"})
        assert bootstrap_dev_admin(dataclasses.replace(services, settings=prod)) is None
        path = bootstrap_dev_admin(services)
        assert path == tmp_path / PASSWORD_FILE and stat.S_IMODE(path.stat().st_mode) == 0o600
        user = auth.check_credentials(DEV_ADMIN_EMAIL, path.read_text().strip())
        assert user["role"] == "admin"
        assert bootstrap_dev_admin(services) is None, "only on the very first start"
    finally:
        services.close()


def test_settings_parse_cors_list(tmp_path: Path, mongo: Any) -> None:
    s = make_settings(tmp_path, mongo.uri, cors_origins=" https://a.example/ ,,https://b.example")
    assert s.cors_origin_list == ["https://a.example", "https://b.example"]


def test_an_api_key_works_as_a_bearer_token_for_scrapers(client: TestClient, svc: Services) -> None:
    admin = make_user(svc, "admin")
    body = {"name": "prometheus", "role": "admin"}
    key = client.post("/api/v1/admin/api-keys", json=body, headers=admin.headers)
    secret = key.json()["data"]["api_key"]
    assert client.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    forged = client.get("/metrics", headers={"Authorization": f"Bearer {secret[:-2]}xx"})
    assert forged.status_code == 401
    plain = client.post("/api/v1/admin/api-keys", json={"name": "app"}, headers=admin.headers)
    user_key = plain.json()["data"]["api_key"]
    assert (
        client.get("/metrics", headers={"Authorization": f"Bearer {user_key}"}).status_code == 403
    )
