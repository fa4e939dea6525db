"""Chat providers through their real SDKs, and failover between them, end to end.

Azure OpenAI and OpenAI-compatible servers run through the ``openai`` SDK (via langchain-openai)
against the loopback emulator; Bedrock runs through ``ChatBedrockConverse`` with botocore's
``Stubber``. Timeouts and backoff are tiny so the whole file stays well under 20 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from chains.extractive import ExtractiveChatModel, Passage, passages_message
from chains.failover import failover, produced_by
from chains.providers import build_chat_runnable, load_chat_model
from loaders.errors import InvalidInput, ServiceUnavailable
from loaders.settings import Settings
from tests.emulators.openai_api import (
    OpenAIEmulator,
    answer,
    bad_request,
    rate_limited,
    server_error,
    slow,
)

KEY = "test-key"
QUESTION = "How long is the password reset link valid?"
PROMPT = "Answer from the passages only."
PASSAGE = "The reset link is valid for 30 minutes. Each link works only once."
BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
FAST: dict[str, Any] = {"timeout": 0.5, "backoff": 0.01, "max_wait": 1.0}


@pytest.fixture()
def emu() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(api_key=KEY) as emulator:
        yield emulator


def settings_for(emu: OpenAIEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "azure_openai_key": KEY,
        "azure_openai_endpoint": emu.url,
        "azure_openai_api_version": "2024-06-01",
        "openai_base_url": f"{emu.url}/v1",
        "openai_api_key": KEY,
    }
    return Settings(**{**values, **overrides})


def messages() -> list[BaseMessage]:
    passages = [Passage(n=1, title="Password reset", text=PASSAGE)]
    return [passages_message(PROMPT, passages), HumanMessage(QUESTION)]


def merged(chunks: list[Any]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total  # type: ignore[no-any-return]


# Providers: answers, request shapes, streaming


def test_azure_answers_with_usage_and_never_sends_the_passage_data(emu: OpenAIEmulator) -> None:
    model = load_chat_model("azure_openai/gpt-4o", settings_for(emu), max_tokens=64, timeout=1)
    out = model.invoke(messages())

    assert out.content == f"gpt-4o says: {QUESTION}"
    assert out.usage_metadata is not None and out.usage_metadata["output_tokens"] == 10
    req = emu.chat_requests("gpt-4o")[0]
    assert req.path == "/openai/deployments/gpt-4o/chat/completions"
    assert req.query["api-version"] == ["2024-06-01"]
    assert {k.lower(): v for k, v in req.headers.items()}["api-key"] == KEY
    assert req.body["messages"] == [
        {"role": "system", "content": PROMPT},
        {"role": "user", "content": QUESTION},
    ]  # the passages in additional_kwargs stay on our side
    assert req.body["temperature"] == 0.1
    assert 64 in (req.body.get("max_tokens"), req.body.get("max_completion_tokens"))


def test_azure_streams_tokens_as_they_arrive(emu: OpenAIEmulator) -> None:
    model = load_chat_model("azure_openai/gpt-4o", settings_for(emu), timeout=2)
    emu.script("gpt-4o", answer("one two three four five six", token_delay=0.08))
    start, arrivals, chunks = time.perf_counter(), [], []
    for chunk in model.stream(messages()):
        chunks.append(chunk)
        if chunk.content:
            arrivals.append(time.perf_counter() - start)

    assert "".join(str(c.content) for c in chunks) == "one two three four five six"
    assert len(arrivals) == 6  # one chunk per word
    assert arrivals[0] < arrivals[-1] - 0.2  # the first word came well before the last
    usage = merged(chunks).usage_metadata
    assert usage is not None and usage["output_tokens"] == 6
    assert emu.chat_requests()[0].body["stream_options"] == {"include_usage": True}


def test_openai_compatible_server_needs_only_a_base_url() -> None:
    with OpenAIEmulator(api_key=None) as local:  # like vLLM / Ollama: any key
        settings = Settings(openai_base_url=f"{local.url}/v1", openai_api_key=None)
        model = load_chat_model("openai/llama3.1:8b", settings, timeout=1)
        out = model.invoke(messages())
        streamed = "".join(str(c.content) for c in model.stream(messages()))

        assert out.content == streamed == f"llama3.1:8b says: {QUESTION}"
        req = local.chat_requests()[0]
        assert req.path == "/v1/chat/completions" and req.body["model"] == "llama3.1:8b"
        assert req.headers["Authorization"] == "Bearer not-needed"


def test_unknown_provider_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput) as unknown:
        load_chat_model("anthropic/claude", Settings())
    assert unknown.value.code == "UNKNOWN_CHAT_PROVIDER"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bare = Settings(azure_openai_key=None, openai_api_key=None, openai_base_url=None)
    for spec in ("azure_openai/gpt-4o", "openai/gpt-4o-mini", f"bedrock/{BEDROCK_MODEL}"):
        with pytest.raises(ServiceUnavailable) as missing:
            load_chat_model(spec, bare)
        assert missing.value.code == "PROVIDER_NOT_CONFIGURED", spec


# Failover over HTTP


def test_429_is_retried_after_the_servers_retry_after(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable("azure_openai/gpt-4o", settings_for(emu), **FAST)
    emu.script("gpt-4o", rate_limited(retry_after=0.3))
    start = time.perf_counter()
    out = chat.invoke(messages())

    assert time.perf_counter() - start >= 0.3  # waited as told, not the 0.01 s backoff
    assert out.content == f"gpt-4o says: {QUESTION}"
    assert produced_by(out) == "azure_openai/gpt-4o"
    assert len(emu.chat_requests("gpt-4o")) == 2


def test_a_long_retry_after_fails_over_at_once(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable(
        "azure_openai/gpt-4o", settings_for(emu), fallback_spec="openai/gpt-4o-mini", **FAST
    )
    emu.script("gpt-4o", rate_limited(retry_after=30))
    out = chat.invoke(messages())

    assert produced_by(out) == "openai/gpt-4o-mini"
    assert len(emu.chat_requests("gpt-4o")) == 1


def test_5xx_exhausts_retries_then_the_secondary_answers(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable(
        "azure_openai/gpt-4o", settings_for(emu), fallback_spec="azure_openai/gpt-35", retries=2,
        **FAST,
    )  # fmt: skip
    emu.script("gpt-4o", server_error(500), server_error(502), server_error(503))
    out = chat.invoke(messages())

    assert out.content == f"gpt-35 says: {QUESTION}"
    assert produced_by(out) == "azure_openai/gpt-35"
    assert len(emu.chat_requests("gpt-4o")) == 3  # 1 + 2 retries
    assert len(emu.chat_requests("gpt-35")) == 1


def test_every_provider_failing_gives_the_extractive_answer(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable(
        "azure_openai/gpt-4o", settings_for(emu), fallback_spec="openai/gpt-4o-mini", retries=1,
        **FAST,
    )  # fmt: skip
    emu.script("*", *[server_error(500)] * 4)
    out = chat.invoke(messages())

    assert out.content == "The reset link is valid for 30 minutes [1]."
    assert produced_by(out) == "extractive"
    assert len(emu.chat_requests()) == 4


def test_slow_response_times_out_then_fails_over(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable(
        "azure_openai/gpt-4o", settings_for(emu), fallback_spec="openai/gpt-4o-mini", retries=1,
        timeout=0.3, backoff=0.01,
    )  # fmt: skip
    emu.script("gpt-4o", slow(5), slow(5))
    start = time.perf_counter()
    out = chat.invoke(messages())

    assert time.perf_counter() - start < 3  # one 0.3 s timeout, not a 5 s wait
    assert produced_by(out) == "openai/gpt-4o-mini"
    assert len(emu.chat_requests("gpt-4o")) == 1  # a read timeout is never retried


@pytest.mark.parametrize("key", [KEY, "wrong-key"])
def test_client_errors_are_not_retried(emu: OpenAIEmulator, key: str) -> None:
    chat = build_chat_runnable(
        "azure_openai/gpt-4o", settings_for(emu, azure_openai_key=key), retries=3, **FAST
    )
    emu.script("gpt-4o", bad_request())  # a wrong key gets 401 before the script is read
    out = chat.invoke(messages())

    assert produced_by(out) == "extractive"
    assert len(emu.chat_requests("gpt-4o")) == 1


def test_streaming_retries_before_the_first_token_and_fails_over(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable(
        "azure_openai/gpt-4o", settings_for(emu), fallback_spec="openai/gpt-4o-mini", retries=1,
        **FAST,
    )  # fmt: skip
    emu.script("gpt-4o", rate_limited(0.01))
    first = list(chat.stream(messages()))
    emu.script("gpt-4o", server_error(), server_error())
    second = list(chat.stream(messages()))

    assert "".join(str(c.content) for c in first) == f"gpt-4o says: {QUESTION}"
    assert produced_by(merged(first)) == "azure_openai/gpt-4o"
    assert len(second) > 5 and produced_by(merged(second)) == "openai/gpt-4o-mini"
    assert merged(second).usage_metadata is not None


def test_async_invoke_and_events_go_through_failover(emu: OpenAIEmulator) -> None:
    chat = build_chat_runnable("azure_openai/gpt-4o", settings_for(emu), **FAST)

    async def run() -> tuple[BaseMessage, list[str]]:
        emu.script("gpt-4o", server_error())
        out = await chat.ainvoke(messages())
        tokens = [
            str(event["data"]["chunk"].content)
            async for event in chat.astream_events(messages(), version="v2")
            if event["event"] == "on_chat_model_stream"
        ]
        return out, tokens

    out, tokens = asyncio.run(run())
    assert produced_by(out) == "azure_openai/gpt-4o" and str(out.content).startswith("gpt-4o says")
    assert "".join(tokens) == f"gpt-4o says: {QUESTION}" and len(tokens) > 5


# Bedrock through botocore's Stubber


class EventStubber(Stubber):
    """A Stubber whose event-stream responses are lists of events.

    botocore validates a stream member as a single event; here each event is validated
    against the stream's real union shape instead, so shapes are still checked.
    """

    def _validate_operation_response(self, operation_name: str, service_response: Any) -> None:
        op = self.client.meta.service_model.operation_model(operation_name)
        stream = op.get_event_stream_output()
        if stream is None or not isinstance(service_response.get("stream"), list):
            super()._validate_operation_response(operation_name, service_response)
            return
        for event in service_response["stream"]:
            validate_parameters(event, stream)


def bedrock_model() -> Any:
    settings = Settings(aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
    return load_chat_model(f"bedrock/{BEDROCK_MODEL}", settings, max_tokens=64, timeout=1)


def converse_reply(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 5, "totalTokens": 17},
        "metrics": {"latencyMs": 7},
    }


def stream_events(words: list[str]) -> list[dict[str, Any]]:
    deltas = [{"contentBlockDelta": {"delta": {"text": w}, "contentBlockIndex": 0}} for w in words]
    return [
        {"messageStart": {"role": "assistant"}},
        *deltas,
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": {"inputTokens": 12, "outputTokens": len(words),
                                "totalTokens": 12 + len(words)}, "metrics": {"latencyMs": 7}}},
    ]  # fmt: skip


def test_bedrock_converse_request_and_answer() -> None:
    model = bedrock_model()
    expected = {
        "modelId": BEDROCK_MODEL,
        "messages": [{"role": "user", "content": [{"text": QUESTION}]}],
        "system": [{"text": PROMPT}],  # no passage data leaks into the request
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.1},
    }
    with EventStubber(model.client) as stub:
        stub.add_response("converse", converse_reply("Thirty minutes [1]."), expected)
        out = model.invoke(messages())
        stub.assert_no_pending_responses()

    assert out.content == "Thirty minutes [1]."
    assert out.usage_metadata is not None and out.usage_metadata["output_tokens"] == 5
    assert model.client.meta.config.retries["total_max_attempts"] == 1  # failover retries


def test_bedrock_converse_stream_yields_tokens() -> None:
    model = bedrock_model()
    with EventStubber(model.client) as stub:
        stub.add_response("converse_stream", {"stream": stream_events(["Thirty ", "minutes."])})
        chunks = list(model.stream(messages()))

    assert [c.text for c in chunks if c.text] == ["Thirty ", "minutes."]
    usage = merged(chunks).usage_metadata
    assert usage is not None and usage["output_tokens"] == 2


def test_bedrock_throttling_is_retried_then_falls_back() -> None:
    model = bedrock_model()
    chat = failover([(f"bedrock/{BEDROCK_MODEL}", model)], retries=2, backoff=0.01)
    with EventStubber(model.client) as stub:
        stub.add_client_error("converse", "ThrottlingException", http_status_code=429)
        stub.add_response("converse", converse_reply("Thirty minutes [1]."))
        recovered = chat.invoke(messages())
        for _ in range(3):
            stub.add_client_error("converse", "ThrottlingException", http_status_code=429)
        fallen_back = chat.invoke(messages())
        stub.add_client_error("converse", "ValidationException", http_status_code=400)
        rejected = chat.invoke(messages())
        stub.assert_no_pending_responses()  # 2 + 3 + 1 calls: retried, exhausted, not retried

    assert recovered.content == "Thirty minutes [1]."
    assert produced_by(recovered) == f"bedrock/{BEDROCK_MODEL}"
    assert produced_by(fallen_back) == produced_by(rejected) == "extractive"
    assert fallen_back.content == "The reset link is valid for 30 minutes [1]."


def test_extractive_spec_builds_a_single_link() -> None:
    chat = build_chat_runnable("extractive", Settings(), fallback_spec="extractive")
    out = chat.invoke(messages())
    assert produced_by(out) == "extractive"
    assert isinstance(getattr(chat, "bound", None), ExtractiveChatModel)  # no fallbacks to run


def test_tokens_stream_from_a_langgraph_node_through_failover(emu: OpenAIEmulator) -> None:
    """How the chat graph uses it: ``ainvoke`` in a node, tokens via ``stream_mode="messages"``."""
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict, total=False):
        answer: str
        model: str

    chat = build_chat_runnable("azure_openai/gpt-4o", settings_for(emu), retries=1, **FAST)

    async def generate(state: State, config: RunnableConfig) -> State:
        out = await chat.ainvoke(messages(), config)
        return {"answer": str(out.content), "model": produced_by(out)}

    builder = StateGraph(State)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", END)
    graph = builder.compile()

    async def turn() -> tuple[list[str], Any]:
        tokens: list[str] = []
        final: Any = {}
        item: Any
        async for mode, item in graph.astream({}, stream_mode=["messages", "values"]):
            if mode == "messages":
                tokens.append(str(item[0].content))
            else:
                final = item
        return [t for t in tokens if t], final

    tokens, final = asyncio.run(turn())
    assert "".join(tokens) == final["answer"] == f"gpt-4o says: {QUESTION}"
    assert len(tokens) > 5 and final["model"] == "azure_openai/gpt-4o"
    emu.script("gpt-4o", server_error(), server_error())
    tokens, final = asyncio.run(turn())
    assert "".join(tokens) == final["answer"] == "The reset link is valid for 30 minutes [1]."
    assert final["model"] == "extractive"


def test_built_chains_are_reused_per_arguments_and_credentials(emu: OpenAIEmulator) -> None:
    settings = settings_for(emu)
    first = build_chat_runnable("azure_openai/gpt-4o", settings, **FAST)
    assert build_chat_runnable("Azure-OpenAI/gpt-4o", settings, **FAST) is first
    assert build_chat_runnable("azure_openai/gpt-4o", settings, temperature=0.7) is not first
    rotated = settings_for(emu, azure_openai_key="rotated-key")
    assert build_chat_runnable("azure_openai/gpt-4o", rotated, **FAST) is not first
