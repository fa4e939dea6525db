"""Azure OpenAI / OpenAI HTTP emulator on loopback: embeddings and chat completions.

The real ``openai`` SDK (and langchain-openai on top of it) talks to this over HTTP. Routes are
a table of (method, path pattern, handler): ``POST /openai/deployments/{deployment}/...``
(Azure, ``api-key`` header, ``api-version`` required) and ``POST /v1/...`` (OpenAI,
``Authorization: Bearer``), each for ``embeddings`` and ``chat/completions``.

Embedding vectors are derived from a hash of each input and are deliberately *not* unit
length, so tests can see that our code normalises them. Chat answers are deterministic
(``"<model> says: <last user message>"``), plain or streamed as SSE (with a usage chunk when
``stream_options.include_usage``); ``script(model, ...)`` queues behaviours per deployment or
model (429 with Retry-After, 5xx, 400, a slow answer past the client's timeout, a stream whose
first token or every next one is slow, a chosen text) that are used up one request at a time,
before the default answer resumes. Slow answers wait outside the emulator's lock, so other
requests are served meanwhile.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.emulators import ApiError, JsonApiEmulator, RecordedRequest, _Handler, _Listener

DIMENSIONS = {"text-embedding-ada-002": 1536, "text-embedding-3-small": 1536,
              "text-embedding-3-large": 3072}  # fmt: skip
MAX_INPUTS = 2048
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
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


@dataclass(frozen=True)
class Behaviour:
    """What the next chat request for a model gets; build with the helpers below."""

    status: int = 200
    text: str | None = None  # None: the deterministic echo
    delay: float = 0.0  # seconds before the response starts
    token_delay: float = 0.0  # seconds between streamed chunks
    retry_after: float | None = None
    first_token_delay: float = 0.0  # streams: headers and role chunk at once, then this wait


def answer(text: str | None = None, *, token_delay: float = 0.0) -> Behaviour:
    return Behaviour(text=text, token_delay=token_delay)


def slow_first_token(delay: float, text: str | None = None) -> Behaviour:
    """A stream that starts at once (headers, role chunk) but computes ``delay`` s before its
    first token, as llama.cpp does while it reads a long prompt on a CPU."""
    return Behaviour(text=text, first_token_delay=delay)


def rate_limited(retry_after: float | None = 0.05) -> Behaviour:
    """429 with ``Retry-After`` (whole seconds, rounded up) and ``retry-after-ms``."""
    return Behaviour(status=429, retry_after=retry_after)


def server_error(status: int = 500) -> Behaviour:
    return Behaviour(status=status)


def bad_request() -> Behaviour:
    return Behaviour(status=400)


def slow(delay: float, text: str | None = None) -> Behaviour:
    """A normal answer that starts only after ``delay`` seconds (past a short client timeout)."""
    return Behaviour(text=text, delay=delay)


@dataclass
class Reply:
    """A response the handler writes itself: JSON or SSE events, extra headers, delays."""

    status: int
    body: Any = None
    events: list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    token_delay: float = 0.0
    first_token_delay: float = 0.0  # after the first event (the role chunk)

    def payload(self) -> list[bytes]:
        if self.events is None:
            return [json.dumps(self.body).encode()]
        return [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode()
                for e in [*self.events, "[DONE]"]]  # fmt: skip


class _ChatHandler(_Handler):
    """The shared handler, plus ``Reply`` answers (SSE, headers, delays outside the lock)."""

    def do_GET(self) -> None:
        status, payload = self.server.emulator.dispatch(self.recorded())
        reply = payload if isinstance(payload, Reply) else Reply(status, payload)
        try:
            self._write(reply)
        except OSError:  # the client gave up (its timeout): nothing left to do
            self.close_connection = True

    do_POST = do_GET

    def _write(self, reply: Reply) -> None:
        emulator = self.server.emulator
        assert isinstance(emulator, OpenAIEmulator)
        closing = emulator.closing
        if reply.delay and closing.wait(reply.delay):
            self.close_connection = True
            return
        parts = reply.payload()
        self.send_response(reply.status)
        stream = reply.events is not None
        self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        self.send_header("Content-Length", str(sum(len(p) for p in parts)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for i, part in enumerate(parts):
            wait = reply.token_delay + (reply.first_token_delay if i == 1 else 0.0)
            if i and wait and closing.wait(wait):
                return
            self.wfile.write(part)
            self.wfile.flush()


class _ChatListener(_Listener):
    def __init__(self, emulator: JsonApiEmulator, name: str | None) -> None:
        super().__init__(emulator, name)
        self.RequestHandlerClass = _ChatHandler  # nobody knows the port yet


class OpenAIEmulator(JsonApiEmulator):
    """``with OpenAIEmulator(api_key="k") as emu: AzureChatOpenAI(azure_endpoint=emu.url)``.

    ``requests`` (from ``JsonApiEmulator``) records every call for assertions.
    """

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key  # None accepts any non-empty key
        self.closing = threading.Event()
        self.scripts: dict[str, deque[Behaviour]] = {}
        deployment = r"/openai/deployments/(?P<model>[^/]+)"
        self.routes: list[tuple[str, re.Pattern[str], RouteHandler]] = [
            ("POST", re.compile(deployment + "/embeddings"), self.embed),
            ("POST", re.compile(r"/v1/embeddings"), self.embed),
            ("POST", re.compile(deployment + "/chat/completions"), self.chat),
            ("POST", re.compile(r"/v1/chat/completions"), self.chat),
        ]

    def __enter__(self) -> OpenAIEmulator:
        self.closing.clear()
        self._listeners[None] = _ChatListener(self, None)
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()  # wakes slow answers so their threads end with us
        super().__exit__(*exc)

    def listen(self, name: str) -> str:
        self._listeners[name] = _ChatListener(self, name)
        return self._listeners[name].url

    def script(self, model: str, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next chat requests to ``model`` (deployment or model name)."""
        with self._lock:
            self.scripts.setdefault(model, deque()).extend(behaviours)

    def chat_requests(self, model: str | None = None) -> list[RecordedRequest]:
        """Chat completion requests, optionally only those for ``model``."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")
                and model in (None, _model_of(r))]  # fmt: skip

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

    def chat(self, body: dict[str, Any], params: dict[str, str]) -> Reply:
        model = params.get("model") or str(body.get("model") or "")
        queue = self.scripts.get(model) or self.scripts.get("*")
        step = queue.popleft() if queue else Behaviour()
        if step.status >= 400:
            return _error_reply(step)
        messages = _messages(body)
        text = step.text if step.text is not None else f"{model} says: {_last_user(messages)}"
        prompt = sum(len(str(m.get("content") or "").split()) for m in messages)
        usage = {"prompt_tokens": prompt, "completion_tokens": len(text.split()),
                 "total_tokens": prompt + len(text.split())}  # fmt: skip
        head = {"id": f"chatcmpl-emu{len(self._requests)}", "created": 1700000000, "model": model}
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text},
                      "finish_reason": "stop", "logprobs": None}  # fmt: skip
            body_out = {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
            return Reply(200, body_out, delay=step.delay)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = _stream_events(head, text, usage if include_usage else None)
        return Reply(200, events=events, delay=step.delay, token_delay=step.token_delay,
                     first_token_delay=step.first_token_delay)  # fmt: skip


def _model_of(request: RecordedRequest) -> str:
    match = re.fullmatch(r"/openai/deployments/([^/]+)/.*", request.path)
    body = request.body if isinstance(request.body, dict) else {}
    return match.group(1) if match else str(body.get("model") or "")


def _error_reply(step: Behaviour) -> Reply:
    codes = {400: "invalid_request_error", 429: "rate_limit_exceeded"}
    code = codes.get(step.status, "server_error")
    headers = {}
    if step.retry_after is not None:
        headers = {"Retry-After": str(math.ceil(step.retry_after)),
                   "retry-after-ms": str(int(step.retry_after * 1000))}  # fmt: skip
    body = {"error": {"code": code, "type": code, "message": f"emulated {step.status}"}}
    return Reply(step.status, body, headers=headers, delay=step.delay)


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise openai_error(400, "invalid_request_error", "'messages' must be a non-empty array.")
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise openai_error(400, "invalid_request_error", f"Invalid message: {m!r}")
    return messages


def _last_user(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user":
            content = m.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _stream_events(head: dict[str, Any], text: str, usage: dict[str, int] | None) -> list[Any]:
    """Role chunk, one chunk per word, a finish chunk, then the usage chunk when asked for."""
    chunk = {**head, "object": "chat.completion.chunk"}

    def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**chunk, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}

    events = [delta({"role": "assistant", "content": ""})]
    events += [delta({"content": word}) for word in re.findall(r"\S+\s*", text)]
    events.append(delta({}, "stop"))
    if usage is not None:
        events.append({**chunk, "choices": [], "usage": usage})
    return events
