"""Optional LangSmith tracing and LangServe turn metrics, end to end.

The real langsmith client posts to a local stand-in of LangSmith's API (LangSmith itself cannot
be reached here); the chat graph, MongoDB (nx-27017) and the app are real.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import make_user
from tests.emulators.langsmith_api import langsmith_server
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration

EMAIL = "jane.customer@example.org"
QUESTION = f"Can annual plans be refunded? My email is {EMAIL}"


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("trace"), mongo.uri)
    yield services
    services.close()


def node_count(text: str) -> float:
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^chat_node_duration_seconds_count\{.*\} (\S+)$", line)
        if m:
            total += float(m.group(1))
    return total


def langserve_turn(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    r = client.post(
        "/chat/invoke",
        json={"input": {"question": QUESTION}, "config": {"configurable": {"session_id": ""}}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return r.json()["output"]  # type: ignore[no-any-return]


def test_langserve_turns_are_counted_in_chat_metrics(svc: Services) -> None:
    admin = make_user(svc, "admin")
    with TestClient(create_app(svc.settings, svc)) as client:
        before = node_count(client.get("/metrics", headers=admin.headers).text)
        out = langserve_turn(client, admin.headers)
        after = node_count(client.get("/metrics", headers=admin.headers).text)
    assert out["answer"]
    assert after - before == len(out["timings"]) > 0


def test_tracing_sends_runs_with_pii_masked(svc: Services) -> None:
    admin = make_user(svc, "admin")
    with langsmith_server() as (url, recorded):
        settings = svc.settings.model_copy(
            update={
                "langsmith_tracing": True,
                "langsmith_api_key": "lsv2-test-key",
                "langsmith_endpoint": url,
            }
        )
        app = create_app(settings, dataclasses.replace(svc, settings=settings))
        with TestClient(app) as client:
            out = langserve_turn(client, admin.headers)
        # leaving the app flushed the tracer: every run has reached the stand-in
        sent = recorded.bodies()
    assert out["answer"]
    for run in ("SupportChatTurn", "guard", "retrieve", "finalize"):  # the graph's own nodes
        assert f'"name":"{run}"' in sent
    assert EMAIL not in sent
    assert "[EMAIL]" in sent


def test_tracing_is_off_by_default(svc: Services) -> None:
    admin = make_user(svc, "admin")
    with langsmith_server() as (url, recorded):
        settings = svc.settings.model_copy(update={"langsmith_endpoint": url})
        app = create_app(settings, dataclasses.replace(svc, settings=settings))
        with TestClient(app) as client:
            langserve_turn(client, admin.headers)
        assert recorded.requests == []
