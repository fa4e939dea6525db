"""Read timeouts against the OpenAI-compatible emulator through the real openai SDK.

A slow first token fails over at once, with no second request stacked on a server that is
still computing; a slow but steady stream is never cut, however long it lasts in total; the
turn's (admin or per-request) ``read_timeout`` reaches the model built inside a graph node.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from chains.failover import produced_by
from chains.providers import build_chat_runnable
from chains.runtime_config import RUNTIME_KEY
from loaders.settings import Settings
from tests.emulators.openai_api import OpenAIEmulator, answer, slow, slow_first_token

KEY = "k"
QUESTION = "How long is the password reset link valid?"
STEADY = "The reset link is valid for thirty minutes and works only once per request."
FAST: dict[str, Any] = {"backoff": 0.01, "max_wait": 0.5, "retries": 2}


@pytest.fixture()
def emu() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(api_key=KEY) as emulator:
        yield emulator


def settings_for(emu: OpenAIEmulator, **values: Any) -> Settings:
    return Settings(openai_base_url=f"{emu.url}/v1", openai_api_key=KEY, **values)


def messages() -> list[BaseMessage]:
    return [HumanMessage(QUESTION)]


def text(chunks: list[Any]) -> str:
    return "".join(str(c.content) for c in chunks)


def test_a_slow_first_token_fails_over_without_a_second_request(emu: OpenAIEmulator) -> None:
    settings = settings_for(emu, llm_timeouts={"openai": {"read": 0.4}})
    chat = build_chat_runnable("openai/slow", settings, fallback_spec="openai/backup", **FAST)
    emu.script("slow", slow_first_token(3.0), slow_first_token(3.0), slow_first_token(3.0))
    start = time.perf_counter()
    chunks = list(chat.stream(messages()))
    elapsed = time.perf_counter() - start

    assert text(chunks) == f"backup says: {QUESTION}"
    assert produced_by(chunks[0]) == "openai/backup"
    assert len(emu.chat_requests("slow")) == 1  # retries=2, yet no request stacked on it
    assert len(emu.chat_requests("backup")) == 1
    assert elapsed < 2.0  # one 0.4 s wait for the first token, not the 3 s it would take


def test_a_slow_reply_is_not_retried_either(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable("openai/slow", settings_for(emu, llm_read_timeout=0.3), **FAST)
    emu.script("slow", slow(3.0), slow(3.0), slow(3.0))
    out = chat.invoke(messages())

    assert produced_by(out) == "extractive"
    assert len(emu.chat_requests("slow")) == 1


def test_a_steady_stream_longer_than_the_limit_in_total_succeeds(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable("openai/steady", settings_for(emu, llm_read_timeout=0.5), **FAST)
    emu.script("steady", answer(STEADY, token_delay=0.15), answer(STEADY, token_delay=0.15))
    start = time.perf_counter()
    chunks = list(chat.stream(messages()))
    streamed = time.perf_counter() - start
    reply = chat.invoke(messages())  # the graph's path: invoke, streamed when a handler asks

    assert text(chunks) == STEADY and produced_by(chunks[0]) == "openai/steady"
    assert streamed > 1.5  # 14 words at 0.15 s: three times the read timeout in total
    assert reply.content == STEADY and produced_by(reply) == "openai/steady"
    assert len(emu.chat_requests("steady")) == 2


def test_the_turns_read_timeout_reaches_a_model_built_in_a_node(emu: OpenAIEmulator) -> None:
    """As ``chains.nodes`` builds models: inside the run, without passing timeouts along."""
    settings = settings_for(emu)  # deployment default: 30 s

    def node(_: Any, config: RunnableConfig) -> BaseMessage:
        chat = build_chat_runnable("openai/slow", settings, **FAST)
        return chat.invoke(messages(), config)

    run = RunnableLambda(node)
    emu.script("slow", slow(2.0), slow(2.0), slow(2.0))
    admin = {"configurable": {RUNTIME_KEY: {"read_timeout": 0.3}}}
    start = time.perf_counter()
    out = run.invoke(0, admin)

    assert produced_by(out) == "extractive" and time.perf_counter() - start < 1.5
    assert len(emu.chat_requests("slow")) == 1
    emu.clear_requests()
    emu.script("slow", slow(0.5))
    patient = {"configurable": {RUNTIME_KEY: {"read_timeout": 0.3}, "read_timeout": 5}}
    assert produced_by(run.invoke(0, patient)) == "openai/slow"  # per request beats the admin


def test_self_hosted_servers_get_the_classic_max_tokens_too(emu: OpenAIEmulator) -> None:
    """llama.cpp's server ignores ``max_completion_tokens`` and would generate until its context
    is full: minutes per turn on a CPU, which is what a read timeout then cuts."""
    build_chat_runnable("openai/m", settings_for(emu), max_tokens=40).invoke(messages())
    body = emu.chat_requests("m")[0].body
    assert body["max_tokens"] == body["max_completion_tokens"] == 40
