"""Citations enforced on a generative answer through the graph (OpenAI-compatible emulator):
an uncited supported sentence gets its citation, a wrong citation is corrected, and a meaning
swap in the passages' own words is not shown (regenerated, then the extractive fallback)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bench.retrieval_quality import ingest_sample
from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import make_user
from tests.emulators.openai_api import OpenAIEmulator, answer
from tests.integration.test_chat_api import new_session, say
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration
MODEL = "openai/gpt-cite"
QUESTION = "How long is the password reset link valid?"
FACT = "The reset link is valid for 30 minutes"


@pytest.fixture(scope="module")
def emu() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(api_key="k") as e:
        yield e


@pytest.fixture(scope="module")
def client(
    mongo: Any, emu: OpenAIEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    svc: Services = make_services(
        tmp_path_factory.mktemp("cite"),
        mongo.uri,
        openai_base_url=f"{emu.url}/v1",
        openai_api_key="k",
    )
    svc.worker.stop()
    ingest_sample(svc)
    with TestClient(create_app(svc.settings, svc), headers=make_user(svc, "admin").headers) as c:
        yield c
    svc.close()


def passages_of(emu: OpenAIEmulator) -> dict[int, str]:
    """The numbered passages of the last prompt sent to the model."""
    system = str(emu.chat_requests("gpt-cite")[-1].body["messages"][0]["content"])
    found = re.findall(r'<passage id="(\d+)">(.*?)</passage>', system, re.S)
    return {int(n): text for n, text in found}


def test_uncited_sentence_is_shown_with_the_supporting_passage(
    client: TestClient, emu: OpenAIEmulator
) -> None:
    emu.clear_requests()
    emu.script("gpt-cite", answer(f"{FACT}."))
    bot = say(client, new_session(client), QUESTION, model=MODEL)["bot_response"]
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", bot["content"])]
    assert bot["content"].startswith(FACT) and len(cited) == 1
    assert "30 minutes" in passages_of(emu)[cited[0]]
    assert len(emu.chat_requests("gpt-cite")) == 1  # shown as repaired, not regenerated


def test_wrong_citation_is_corrected(client: TestClient, emu: OpenAIEmulator) -> None:
    emu.clear_requests()
    emu.script("gpt-cite", answer(f"{FACT}."))
    say(client, new_session(client), QUESTION, model=MODEL)
    passages = passages_of(emu)
    wrong = next(n for n, text in passages.items() if "30 minutes" not in text)
    emu.script("gpt-cite", answer(f"{FACT} [{wrong}]."))
    turn = say(client, new_session(client), QUESTION, model=MODEL)
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", turn["bot_response"]["content"])]
    assert cited and wrong not in cited and "30 minutes" in passages[cited[0]]
    assert turn["guardrails"]["output_safe"]


def test_meaning_swap_is_not_shown(client: TestClient, emu: OpenAIEmulator) -> None:
    emu.clear_requests()
    swap = "You can request at most 30 reset emails per hour, and the reset link is valid for " \
        "3 minutes [1]."  # fmt: skip
    emu.script("gpt-cite", answer(swap), answer(swap))
    turn = say(client, new_session(client), QUESTION, model=MODEL)
    assert len(emu.chat_requests("gpt-cite")) == 2  # regenerated strictly once
    content = turn["bot_response"]["content"]
    assert "30 reset emails" not in content and "3 minutes" not in content
    assert "30 minutes" in content  # the extractive fallback quotes the passage
    assert "UNGROUNDED" in [v["code"] for v in turn["guardrails"]["violations"]]
