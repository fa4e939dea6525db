"""The real local model (Qwen2.5-Coder-0.5B on llama.cpp, 2 CPU cores): ``make test-llm``.

Skipped when ``make local-llm`` has not run. The server answers through our ``local`` provider
(plain and streamed), stops with its context, and ``LLM=local`` makes the app start it and
answer graph turns over a tiny KB, with sources or by falling back cleanly. Timings (turn p50 /
p95, time to first token) are printed: run with ``-s`` to see them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import HumanMessage, SystemMessage

from app.main import create_app
from chains.failover import produced_by
from chains.local_llm.model import LocalModelError, model_path, require_prepared
from chains.local_llm.server import current_url, local_model_server
from chains.providers import build_chat_runnable
from loaders.sample import SAMPLE_KB_DIR, options_for, read_manifest
from loaders.settings import Settings
from loaders.stack import Services
from tests.auth_fixtures import make_user
from tests.integration.test_chat_api import new_session, say
from tests.integration.test_local_llm_process import refused
from tests.kb_fixtures import make_services

pytestmark = [pytest.mark.llm, pytest.mark.integration, pytest.mark.timeout(900)]
KB = ("password-reset.txt", "two-factor-authentication.md", "vat-and-sales-tax.txt")
QUESTIONS = (
    "How long is the password reset link valid?",
    "Can I use a password reset link twice?",
    "How do I turn on two-factor authentication?",
    "What can I do if I lose my two-factor authentication device?",
    "Do you charge VAT on invoices?",
    "How do I reset my password?",
)


@pytest.fixture(scope="module")
def prepared() -> Settings:
    """The repository's prepared model (``var/models``, ``.venv/llm``), else a clean skip."""
    settings = Settings()
    try:
        require_prepared(settings)
    except LocalModelError as exc:
        pytest.skip(f"the local model is not prepared ({exc.message})")
    return settings


def test_the_server_answers_through_our_provider_plain_and_streamed(prepared: Settings) -> None:
    question = [SystemMessage("Answer in one short sentence."),
                HumanMessage("What is the capital of France?")]  # fmt: skip
    with local_model_server(prepared) as server:
        chat = build_chat_runnable("local", prepared, temperature=0.0, max_tokens=32)
        start = time.perf_counter()
        reply = chat.invoke(question)
        plain = time.perf_counter() - start
        start, first, tokens = time.perf_counter(), None, []
        for chunk in chat.stream(question):
            if chunk.content and first is None:
                first = time.perf_counter() - start
            tokens.append(str(chunk.content))
        streamed = time.perf_counter() - start
        passage = (SAMPLE_KB_DIR / "two-factor-authentication.md").read_text()[:2500]
        long = [SystemMessage(f"Answer from this passage only, citing [1].\n[1] {passage}"),
                HumanMessage("How do I turn on two-factor authentication?")]  # fmt: skip
        start = time.perf_counter()
        long_first = next(time.perf_counter() - start for c in chat.stream(long) if c.content)
    assert produced_by(reply) == "local" and "paris" in str(reply.content).lower()
    assert (reply.usage_metadata or {}).get("output_tokens", 0) > 0
    assert first is not None and len([t for t in tokens if t]) >= 3
    assert "paris" in "".join(tokens).lower()
    assert server.process.poll() is not None and refused(server.url)  # stopped with the block
    print(f"\nlocal model: plain reply {plain:.2f} s; stream: first token {first:.2f} s, "
          f"{len(tokens)} chunks in {streamed:.2f} s; first token after a ~600-token prompt "
          f"{long_first:.2f} s")  # fmt: skip
    assert long_first < 120  # within the local read timeout, which bounds exactly this wait


@pytest.fixture(scope="module")
def svc(
    prepared: Settings, mongo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    services = make_services(
        tmp_path_factory.mktemp("local-llm"),
        mongo.uri,
        llm="local",  # LLM=local: the deployment's default model, so the app starts the server
        local_llm_model=model_path(prepared).absolute(),
        local_llm_python=prepared.local_llm_python.absolute(),  # not resolve(): a venv symlink
    )
    services.worker.stop()
    for name in KB:
        path = SAMPLE_KB_DIR / name
        opts = options_for(path, read_manifest(SAMPLE_KB_DIR)[name])
        services.kb.ingest(path.read_bytes(), opts.validated(max_tokens=services.kb.max_tokens))
    yield services
    services.close()


def _streamed_turn(client: TestClient, question: str) -> float:
    """One turn over SSE: seconds until the first ``token`` event (then a ``final`` one)."""
    start, first, events = time.perf_counter(), None, []
    with client.stream(
        "POST",
        f"/api/v1/chat/sessions/{new_session(client)}/messages",
        json={"message": question},
        headers={"accept": "text/event-stream"},
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
                if events[-1] == "token" and first is None:
                    first = time.perf_counter() - start
    assert first is not None and events.count("token") >= 1 and events[-1] == "final", events
    return first


def _requests_served(log: Path) -> int:
    text = log.read_text(errors="replace") if log.is_file() else ""
    return text.count('"POST /v1/chat/completions HTTP/1.1" 200')


def test_llm_local_app_turns_answer_with_sources_or_fall_back(svc: Services) -> None:
    log = svc.settings.data_dir / "local-llm.log"
    headers = make_user(svc, "admin").headers
    seconds, produced = [], []
    with TestClient(create_app(svc.settings, svc), headers=headers) as client:
        url = current_url(svc.settings)
        assert url is not None  # started by the app because LLM=local
        for i, question in enumerate(QUESTIONS):
            served = _requests_served(log)
            start = time.perf_counter()
            config = {"model": "local"} if i % 2 else {}  # per request, or the default
            turn = say(client, new_session(client), question, **config)
            seconds.append(time.perf_counter() - start)
            bot = turn["bot_response"]
            meta = client.get(f"/api/v1/chat/sessions/{turn['session_id']}/messages").json()
            produced.append(meta["data"]["messages"][0]["metadata"]["ai_metadata"]["provider"])
            asked = _requests_served(log) - served
            print(f"\n{seconds[-1]:.1f} s, {asked} model calls, {produced[-1]}: {question} -> "
                  f"{bot['content'][:160]!r}")  # fmt: skip
            assert bot["content"].strip() and bot["sources"], turn  # answered, or fell back
            assert produced[-1] != "local" or asked >= 1  # a local answer came from the server
        firsts = [_streamed_turn(client, q) for q in QUESTIONS[:3:2]]
    p95 = statistics.quantiles(seconds, n=20, method="inclusive")[-1]
    print(f"\nlocal model turns: p50 {statistics.median(seconds):.1f} s, p95 {p95:.1f} s over "
          f"{len(seconds)} turns; answered by {produced}; streamed: first token after "
          f"{', '.join(f'{f:.1f}' for f in firsts)} s")  # fmt: skip
    assert set(produced) <= {"local", "extractive"} and "local" in produced, produced
    assert current_url(svc.settings) is None and refused(url)  # stopped with the app
