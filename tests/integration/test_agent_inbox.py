"""The agent inbox page at ``/agent/``: login redirect, staff only, CSP, static assets.

Real nx-27017 and real tokens; the page's API calls are the agent router's business.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.deps import COOKIE_NAME
from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import PASSWORD, TestUser, make_user
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration
SECRET = "inbox-secret-" + "i" * 48
LOGIN_NEXT = "/login?next=/agent/"


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("inbox"), mongo.uri, jwt_secret_key=SECRET)
    services.worker.stop()
    yield services
    services.close()


@pytest.fixture(scope="module")
def app(svc: Services) -> Any:
    return create_app(svc.settings, svc)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """A fresh client (own cookie jar) per test: one test's login must not leak into another."""
    with TestClient(app) as c:
        yield c


def as_cookie(client: TestClient, who: TestUser) -> TestClient:
    client.cookies.set(COOKIE_NAME, who.token)
    return client


def test_anonymous_callers_are_sent_to_log_in_and_back(client: TestClient) -> None:
    r = client.get("/agent/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == LOGIN_NEXT
    client.cookies.set(COOKIE_NAME, "not-a-token")  # a stale or forged cookie: log in again
    r = client.get("/agent/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == LOGIN_NEXT
    page = client.get(LOGIN_NEXT)
    assert page.status_code == 200 and 'name="next" value="/agent/"' in page.text


def test_a_support_agent_gets_the_page_with_a_strict_csp(client: TestClient, svc: Services) -> None:
    agent = make_user(svc, "support_agent")
    r = as_cookie(client, agent).get("/agent/", follow_redirects=False)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert f'<meta name="sb-agent-id" content="{agent.user_id}">' in r.text
    assert 'data-testid="sb-claim"' in r.text
    assert '<script type="module" src="/agent/static/inbox.js">' in r.text
    admin = make_user(svc, "admin")
    assert as_cookie(client, admin).get("/agent/").status_code == 200


def test_plain_users_get_a_403_page(client: TestClient, svc: Services) -> None:
    user = make_user(svc)
    r = as_cookie(client, user).get("/agent/", follow_redirects=False)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html") and "Not allowed" in r.text
    assert "content-security-policy" in r.headers
    assert 'data-testid="sb-claim"' not in r.text
    r = client.get("/agent/static/inbox.js")
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"


def test_static_assets_have_their_content_types(client: TestClient, svc: Services) -> None:
    assert client.get("/agent/static/inbox.js").status_code == 401  # same staff check
    as_cookie(client, make_user(svc, "support_agent"))
    for name, kind in (
        ("inbox.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("view.js", "text/javascript"),
        ("inbox.css", "text/css"),
    ):
        r = client.get(f"/agent/static/{name}")
        assert r.status_code == 200, (name, r.text)
        assert r.headers["content-type"].startswith(kind), name
        assert r.headers["x-content-type-options"] == "nosniff"
    assert "import " in client.get("/agent/static/inbox.js").text
    for name in ("index.html", "missing.js", "..%2Froutes.py"):
        r = client.get(f"/agent/static/{name}")
        assert r.status_code == 404, name


def test_logging_in_with_next_agent_returns_there_and_only_to_local_paths(
    client: TestClient, svc: Services
) -> None:
    agent = make_user(svc, "support_agent")
    form = {"email": agent.user["email"], "password": PASSWORD}
    r = client.post("/login", data={**form, "next": "/agent/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/agent/"
    assert COOKIE_NAME in r.cookies
    assert client.get("/agent/", follow_redirects=False).status_code == 200
    for evil in (
        "https://evil.example/agent/",
        "//evil.example/agent/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ):
        r = client.post("/login", data={**form, "next": evil}, follow_redirects=False)
        assert r.status_code == 303, evil
        assert r.headers["location"] == "/chat/playground/", (evil, r.headers["location"])
