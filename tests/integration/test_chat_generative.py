"""The graph with a generative model (OpenAI-compatible emulator through the real openai SDK):
per-request prompt versions, regeneration with the strict prompt, extractive fallback, failover.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bench.retrieval_quality import ingest_sample
from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import make_user
from tests.emulators.openai_api import OpenAIEmulator, answer, server_error
from tests.integration.test_chat_api import new_session, say
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration
MODEL = "openai/gpt-test"
V2_MARK = "Strict rules:"
QUESTION = "How long is the password reset link valid?"


@pytest.fixture(scope="module")
def emu() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(api_key="k") as e:
        yield e


@pytest.fixture(scope="module")
def client(
    mongo: Any, emu: OpenAIEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    svc: Services = make_services(
        tmp_path_factory.mktemp("gen"),
        mongo.uri,
        openai_base_url=f"{emu.url}/v1",
        openai_api_key="k",
    )
    svc.worker.stop()
    ingest_sample(svc)
    # An admin: these tests pick the model and prompt version per request (admin-only).
    headers = make_user(svc, "admin").headers
    with TestClient(create_app(svc.settings, svc), headers=headers) as c:
        yield c
    svc.close()


def system_of(request: Any) -> str:
    return str(request.body["messages"][0]["content"])


def test_grounded_generative_answer_and_prompt_version_override(
    client: TestClient, emu: OpenAIEmulator
) -> None:
    emu.clear_requests()
    emu.script(
        "gpt-test",
        answer("The reset link is valid for 30 minutes [1]."),
        answer("The reset link is valid for 30 minutes [1]."),
    )
    turn = say(client, new_session(client), QUESTION, model=MODEL)
    assert turn["bot_response"]["content"] == "The reset link is valid for 30 minutes [1]."
    assert turn["bot_response"]["sources"] and turn["guardrails"]["output_safe"]
    assert V2_MARK not in system_of(emu.chat_requests("gpt-test")[-1])
    say(client, new_session(client), QUESTION, model=MODEL, prompt_version="v2")
    assert V2_MARK in system_of(emu.chat_requests("gpt-test")[-1])


def test_ungrounded_answer_regenerates_strictly_then_falls_back(
    client: TestClient, emu: OpenAIEmulator
) -> None:
    emu.clear_requests()
    wrong = "The reset link stays valid for 7 days [1]."
    emu.script("gpt-test", answer(wrong), answer(wrong))
    turn = say(client, new_session(client), QUESTION, model=MODEL)
    calls = emu.chat_requests("gpt-test")
    assert len(calls) == 2
    assert V2_MARK not in system_of(calls[0]) and V2_MARK in system_of(calls[1])
    bot = turn["bot_response"]
    assert "7 days" not in bot["content"] and "30 minutes" in bot["content"]
    assert "UNGROUNDED" in [v["code"] for v in turn["guardrails"]["violations"]]
    r = client.get(f"/api/v1/chat/sessions/{turn['session_id']}/messages")
    meta = r.json()["data"]["messages"][0]["metadata"]["ai_metadata"]
    assert meta["provider"] == "extractive"


def test_provider_failing_falls_back_to_extractive(client: TestClient, emu: OpenAIEmulator) -> None:
    emu.clear_requests()
    emu.script("gpt-test", *[server_error(500)] * 3)
    turn = say(client, new_session(client), QUESTION, model=MODEL)
    assert len(emu.chat_requests("gpt-test")) == 3  # first try + 2 retries
    assert "30 minutes" in turn["bot_response"]["content"]
    assert turn["bot_response"]["sources"]
