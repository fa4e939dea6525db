"""One timestamp format in every API response: ISO 8601 UTC with microseconds and ``+00:00``.

Walks the responses of the main routes (jobs, documents, sessions, messages, streaming, users,
API keys, admin users, config versions, prompts, audit, analytics, LangServe) and checks every
value that looks like a date-time, whatever its key. nx-27017 hands back datetimes written with
``$set`` as "2026-12-03 14:23:22.044000": those must be normalised too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import TestUser, make_user
from tests.kb_fixtures import make_services, wait_job

pytestmark = pytest.mark.integration

ONE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00")
LOOKS_LIKE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
DOC = b"# Seats\n\nAdding a seat is prorated to the day; removed seats are credited next month.\n"


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("ts"), mongo.uri)
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc)) as c:
        yield c


def timestamps(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(path, value)`` of every string in ``value`` that looks like a date-time."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k != "bucket":  # an analytics bucket's label ("2026-12-03T14:00", "2026-12"),
                yield from timestamps(v, f"{path}.{k}")  # beside its ``start`` timestamp
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from timestamps(v, f"{path}[{i}]")
    elif isinstance(value, str) and LOOKS_LIKE_TIME.match(value):
        yield path, value


class Walk:
    """Calls routes, asserts success, and collects every timestamp of every response."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seen: dict[str, str] = {}

    def __call__(self, method: str, path: str, who: TestUser | None, **kw: Any) -> Any:
        headers = who.headers if who else {}
        r = self.client.request(method, path, headers=headers, **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text[:300])
        body = r.json()
        self.collect(f"{method} {path}", body)
        return body.get("data", body)

    def collect(self, route: str, body: Any) -> None:
        for where, value in timestamps(body):
            self.seen[f"{route} {where}"] = value


def test_every_timestamp_in_every_response_has_one_format(
    client: TestClient, svc: Services
) -> None:
    admin, user = make_user(svc, "admin"), make_user(svc, "user")
    call = Walk(client)
    files = {"file": ("seats.md", DOC, "text/markdown")}
    job = call("POST", "/api/v1/knowledge-base/documents/ingest", admin, files=files)
    client.headers.update(admin.headers)
    wait_job(client, job["job_id"])
    del client.headers["authorization"]
    kb = "/api/v1/knowledge-base"
    status = call("GET", f"{kb}/documents/ingest/{job['job_id']}/status", admin)
    assert status["updated_at"] != status["created_at"]  # the $set one, stored as a string
    doc = job["document_id"]
    call("GET", f"{kb}/documents", admin)
    call("GET", f"{kb}/documents/{doc}", admin)
    call("PUT", f"{kb}/documents/{doc}", admin, json={"description": "d", "reindex": False})
    call("GET", f"{kb}/documents/{doc}", admin)  # updated_at now set by $set
    call("POST", f"{kb}/search", user, json={"query": "seat prorated"})

    chat = "/api/v1/chat/sessions"
    sid = call("POST", f"{chat}/initialize", user, json={})["session_id"]
    turn = call("POST", f"{chat}/{sid}/messages", user, json={"message": "Are seats prorated?"})
    call("POST", "/chat/feedback", user,
         json={"session_id": sid, "message_id": turn["message_id"], "score": 5})  # fmt: skip
    streamed = client.post(
        f"{chat}/{sid}/messages",
        json={"message": "and removed seats?"},
        headers={**user.headers, "accept": "text/event-stream"},
    )
    final = [e for e in streamed.text.split("\n\n") if e.startswith("event: final")]
    assert final, streamed.text[:300]
    call.collect("SSE final", json.loads(final[0].split("data: ", 1)[1]))
    call("GET", f"{chat}/{sid}/messages", user)
    call("GET", chat, admin)
    call("POST", f"{chat}/{sid}/end", user, json={"feedback": {"rating": 4}})
    call("GET", chat, admin, params={"status": "ended"})
    call("POST", "/chat/invoke", user, json={"input": {"question": "Are seats prorated?"}})

    users = "/api/v1/users"
    body = {"email": "ts@example.com", "password": "long enough pw", "full_name": "T S"}
    call("POST", f"{users}/register", None, json=body)
    tokens = call("POST", f"{users}/login", None, json={k: body[k] for k in ("email", "password")})
    call("POST", f"{users}/refresh", None, json={"refresh_token": tokens["refresh_token"]})
    call("PATCH", f"{users}/me", user, json={"full_name": "Renamed"})
    call("GET", f"{users}/me", user)

    admin_api = "/api/v1/admin"
    key = call("POST", f"{admin_api}/api-keys", admin, json={"name": "widget", "role": "user"})
    call("GET", f"{admin_api}/api-keys", admin)
    call("DELETE", f"{admin_api}/api-keys/{key['key_id']}", admin)
    call("GET", f"{admin_api}/api-keys", admin)  # revoked_at, set by $set
    call("PATCH", f"{admin_api}/users/{user.user_id}", admin, json={"role": "support_agent"})
    call("GET", f"{admin_api}/users", admin)
    call("PUT", f"{admin_api}/config", admin, json={"retrieval_config": {"top_k": 4}})
    call("GET", f"{admin_api}/config", admin)
    call("GET", f"{admin_api}/config/history", admin)
    call("GET", f"{admin_api}/prompts", admin)
    call("GET", f"{admin_api}/prompts/answer", admin)
    call("POST", f"{admin_api}/prompts/answer/versions/v2/activate", admin)
    call("GET", f"{admin_api}/prompts/answer", admin)
    call("GET", f"{admin_api}/audit", admin)
    call("GET", "/api/v1/analytics/dashboard", admin, params={"granularity": "hour"})
    call("GET", "/api/v1/analytics/unanswered", admin)
    call("GET", "/health", None)
    call("DELETE", f"{kb}/documents/{doc}", admin)

    bad = {where: value for where, value in call.seen.items() if not ONE_FORMAT.fullmatch(value)}
    assert not bad, bad
    keys = {where.rsplit(".", 1)[-1] for where in call.seen}
    expected = {"timestamp", "created_at", "updated_at", "started_at", "expires_at", "ended_at",
                "revoked_at", "start", "at"}  # fmt: skip
    assert expected <= keys, sorted(keys)
    assert len(call.seen) > 80, len(call.seen)
