"""Remote embedding providers through their real SDKs: Azure OpenAI over HTTP, Bedrock stubbed."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from loaders.embeddings import embedding_dimension, make_embeddings, model_name
from loaders.errors import ServiceUnavailable
from loaders.settings import Settings
from tests.emulators.openai_api import OpenAIEmulator, fake_vector

KEY = "test-key"


@pytest.fixture()
def openai_emu() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(api_key=KEY) as emu:
        yield emu


def azure_settings(url: str, key: str = KEY) -> Settings:
    return Settings(
        azure_openai_key=key, azure_openai_endpoint=url, azure_openai_api_version="2024-02-01"
    )


def test_azure_embeddings_are_normalised_and_hit_the_deployment_route(
    openai_emu: OpenAIEmulator,
) -> None:
    emb = make_embeddings("azure_openai/text-embedding-ada-002", azure_settings(openai_emu.url))
    docs = emb.embed_documents(["reset my password", "refund policy"])
    query = emb.embed_query("reset my password")

    assert [len(v) for v in docs] == [1536, 1536]
    assert np.allclose(np.linalg.norm([*docs, query], axis=1), 1.0, atol=1e-6)
    raw = fake_vector("reset my password", 1536)
    assert np.allclose(query, raw / np.linalg.norm(raw), atol=1e-6)  # same vector, normalised
    assert np.allclose(docs[0], query, atol=1e-6)
    req = openai_emu.requests[0]
    assert req.path == "/openai/deployments/text-embedding-ada-002/embeddings"
    assert req.query["api-version"] == ["2024-02-01"]
    assert {k.lower(): v for k, v in req.headers.items()}["api-key"] == KEY
    assert req.body["input"] == ["reset my password", "refund policy"]  # strings, no tiktoken
    assert embedding_dimension(emb) == 1536 and model_name(emb) == "text-embedding-ada-002"


def test_azure_batches_by_configured_size(openai_emu: OpenAIEmulator) -> None:
    settings = azure_settings(openai_emu.url).model_copy(update={"embedding_batch_size": 2})
    emb = make_embeddings("azure_openai/text-embedding-3-small", settings)
    assert len(emb.embed_documents([f"text {i}" for i in range(5)])) == 5
    assert [len(r.body["input"]) for r in openai_emu.requests] == [2, 2, 1]


def test_azure_wrong_key_surfaces_as_an_error(openai_emu: OpenAIEmulator) -> None:
    emb = make_embeddings(
        "azure_openai/text-embedding-ada-002", azure_settings(openai_emu.url, "wrong")
    )
    with pytest.raises(Exception, match=r"(?i)invalid api key|401"):
        emb.embed_query("hello")


def test_azure_needs_key_and_endpoint() -> None:
    with pytest.raises(ServiceUnavailable) as err:
        make_embeddings("azure_openai/text-embedding-ada-002", Settings(azure_openai_key=None))
    assert err.value.code == "PROVIDER_NOT_CONFIGURED"


def test_openai_v1_route_with_the_plain_sdk(openai_emu: OpenAIEmulator) -> None:
    from openai import OpenAI

    client = OpenAI(api_key=KEY, base_url=f"{openai_emu.url}/v1", max_retries=0)
    out = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=8)
    assert [len(d.embedding) for d in out.data] == [8, 8]
    assert np.allclose(out.data[0].embedding, fake_vector("a", 8), atol=1e-6)
    assert openai_emu.requests[-1].path == "/v1/embeddings"


def _titan_response(vector: list[float]) -> dict[str, object]:
    data = json.dumps({"embedding": vector, "inputTextTokenCount": 3}).encode()
    return {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "application/json"}


def test_bedrock_titan_request_and_normalised_response() -> None:
    settings = Settings(aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
    emb = make_embeddings("bedrock/amazon.titan-embed-text-v2:0", settings)
    client = emb.inner.client  # type: ignore[attr-defined]
    raw = [3.0, 4.0] + [0.0] * 1022
    with Stubber(client) as stub:
        for text in ("where is my order", "refunds"):
            expected = {
                "modelId": "amazon.titan-embed-text-v2:0",
                "body": json.dumps({"inputText": text}),
                "accept": "application/json",
                "contentType": "application/json",
            }
            stub.add_response("invoke_model", _titan_response(raw), expected)
        vectors = emb.embed_documents(["where is my order", "refunds"])
        stub.assert_no_pending_responses()

    assert [len(v) for v in vectors] == [1024, 1024]
    assert vectors[0][:2] == pytest.approx([0.6, 0.8])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert client.meta.region_name == "us-east-1"
    assert embedding_dimension(emb) == 1024


def test_bedrock_error_propagates() -> None:
    settings = Settings(aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
    emb = make_embeddings("bedrock/amazon.titan-embed-text-v2:0", settings)
    with Stubber(emb.inner.client) as stub:  # type: ignore[attr-defined]
        stub.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
        with pytest.raises(Exception, match="ThrottlingException"):
            emb.embed_query("hi")
