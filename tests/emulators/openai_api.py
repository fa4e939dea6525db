"""Azure OpenAI / OpenAI HTTP emulator on loopback: the embeddings route, deterministic vectors.

The real ``openai`` SDK (and langchain-openai on top of it) talks to this over HTTP. Routes are
a table of (method, path pattern, handler), so chat completions can be added as one more entry:
``POST /openai/deployments/{deployment}/embeddings?api-version=...`` (Azure, ``api-key``
header) and ``POST /v1/embeddings`` (OpenAI, ``Authorization: Bearer``). Vectors are derived
from a hash of each input and are deliberately *not* unit length, so tests can see that our
code normalises them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from tests.emulators import ApiError, JsonApiEmulator, RecordedRequest

DIMENSIONS = {"text-embedding-ada-002": 1536, "text-embedding-3-small": 1536,
              "text-embedding-3-large": 3072}  # fmt: skip
MAX_INPUTS = 2048
RouteHandler = Callable[[dict[str, Any], dict[str, str]], Any]


def openai_error(status: int, code: str, message: str) -> ApiError:
    """An error body shaped like the service's: ``{"error": {"code", "message", ...}}``."""
    return ApiError(status, {"error": {"code": code, "message": message, "type": code}})


def fake_vector(item: Any, dimension: int) -> np.ndarray:
    """Deterministic, not normalised: same input, same vector; different input, unrelated."""
    seed = int.from_bytes(hashlib.sha256(repr(item).encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).standard_normal(dimension) * 3.0).astype(np.float32)


def _inputs(body: dict[str, Any]) -> list[Any]:
    raw = body.get("input")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        raw = [raw]  # one string, or one list of token ids
    if not isinstance(raw, list) or not raw:
        raise openai_error(400, "invalid_request_error", "'input' must be a non-empty array.")
    if len(raw) > MAX_INPUTS:
        raise openai_error(400, "invalid_request_error", f"At most {MAX_INPUTS} inputs.")
    return raw


class OpenAIEmulator(JsonApiEmulator):
    """``with OpenAIEmulator(api_key="k") as emu: AzureOpenAIEmbeddings(azure_endpoint=emu.url)``.

    ``requests`` (from ``JsonApiEmulator``) records every call for assertions.
    """

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key  # None accepts any non-empty key
        self.routes: list[tuple[str, re.Pattern[str], RouteHandler]] = [
            ("POST", re.compile(r"/openai/deployments/(?P<model>[^/]+)/embeddings"), self.embed),
            ("POST", re.compile(r"/v1/embeddings"), self.embed),
        ]

    def __enter__(self) -> OpenAIEmulator:
        return super().__enter__()  # type: ignore[no-any-return]

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        azure = request.path.startswith("/openai/")
        self._authenticate(request, azure)
        if azure and not request.query.get("api-version"):
            raise openai_error(404, "404", "Resource not found")  # what Azure answers
        for method, pattern, handler in self.routes:
            if request.method == method and (match := pattern.fullmatch(request.path)):
                if not isinstance(request.body, dict):
                    raise openai_error(400, "invalid_request_error", "Body must be JSON.")
                return 200, handler(request.body, match.groupdict())
        raise openai_error(404, "404", f"emulator: no route {request.method} {request.path}")

    def _authenticate(self, request: RecordedRequest, azure: bool) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = headers.get("api-key") if azure else None
        key = key or headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not key or (self.api_key and key != self.api_key):
            raise openai_error(401, "invalid_api_key", "Access denied due to invalid API key.")

    def embed(self, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        model = params.get("model") or str(body.get("model") or "text-embedding-ada-002")
        dimension = int(body.get("dimensions") or DIMENSIONS.get(model, 1536))
        inputs = _inputs(body)
        base64_out = body.get("encoding_format") == "base64"  # the SDK's default
        data = []
        for i, item in enumerate(inputs):
            vec = fake_vector(item, dimension)
            out: Any = base64.b64encode(vec.tobytes()).decode() if base64_out else vec.tolist()
            data.append({"object": "embedding", "index": i, "embedding": out})
        tokens = sum(len(str(x).split()) for x in inputs)
        return {"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}  # fmt: skip
