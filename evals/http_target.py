"""``--target http://host:port``: turns through a running server's REST chat API.

Sends ``Authorization: Bearer <token>`` (``--token`` / ``SUPPORTBOT_TOKEN``) or ``X-API-Key``
(``--api-key`` / ``SUPPORTBOT_API_KEY``); per-request ``config`` overrides need an admin token.
The API returns only the cited sources (with 240-character snippets), so passage texts for
groundedness and citation checks are looked up by chunk id through the search API, falling
back to the snippet; retrieval metrics see the cited sources, not every retrieved passage.
The server answers from whatever it has ingested: this target cannot choose a corpus, so run a
dataset against a server that holds its documents (the sample KB for ``kb_qa``).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from chains.answers import cited_numbers
from evals.turns import Passage, Turn
from loaders.errors import SupportbotError

CHAT = "/api/v1/chat/sessions"
SEARCH = "/api/v1/knowledge-base/search"
RETRIES_ON_429 = 5


class EvalTargetError(SupportbotError):
    code = "EVAL_TARGET_FAILED"
    status = 502


class HttpTarget:
    name = "http"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        client: Any = None,
    ) -> None:
        """``client``: an ``httpx.Client`` with the base URL set, or a Starlette ``TestClient``
        (same calls, no socket) in tests; by default one is made for ``base_url``."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if api_key:
            headers["X-API-Key"] = api_key
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(base_url=self.base_url, timeout=timeout)
        self.client.headers.update(headers)
        self._titles: dict[str, str] | None = None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(RETRIES_ON_429 + 1):
            try:
                r = self.client.post(path, json=body)
            except httpx.HTTPError as exc:
                raise EvalTargetError(f"{self.base_url}{path} unreachable: {exc}") from exc
            if r.status_code == 429 and attempt < RETRIES_ON_429:
                time.sleep(min(float(r.headers.get("retry-after") or 1), 30.0))
                continue
            if r.status_code >= 400:
                raise EvalTargetError(_error_message(r, path))
            data: dict[str, Any] = r.json().get("data") or {}
            return data
        raise EvalTargetError(f"{path}: still rate limited after {RETRIES_ON_429} retries.")

    def for_dataset(self, dataset: str) -> HttpTarget:
        return self

    def new_session(self) -> str:
        data = self._post(f"{CHAT}/initialize", {"channel": "api", "metadata": {"source": "eval"}})
        return str(data["session_id"])

    def ask(self, session_id: str, question: str, config: dict[str, Any]) -> Turn:
        body = {"message": question, "config": config}
        start = time.perf_counter()
        data = self._post(f"{CHAT}/{session_id}/messages", body)
        latency = (time.perf_counter() - start) * 1000
        bot = data.get("bot_response") or {}
        answer = str(bot.get("content") or "")
        sources = list(bot.get("sources") or [])
        confidence = bot.get("confidence_score")
        return Turn(
            answer=answer,
            passages=self._passages(answer, sources, question),
            sources=sources,
            guardrails=dict(data.get("guardrails") or {}),
            usage=dict(data.get("usage") or {}),
            timings=dict(data.get("timings") or {}),
            latency_ms=round(latency, 2),
            escalated=data.get("escalation") is not None,
            confidence=None if confidence is None else float(confidence),
        )

    def _passages(self, answer: str, sources: list[dict[str, Any]], query: str) -> list[Passage]:
        """Sources numbered as the answer cites them (the API lists them in first-cited order;
        an answer citing nothing lists every passage in prompt order)."""
        numbers = cited_numbers(answer, 99)
        if len(numbers) != len(sources):
            numbers = list(range(1, len(sources) + 1))
        found = self._lookup(query, {str(s.get("chunk_id")) for s in sources}) if sources else {}
        out = []
        for n, s in zip(numbers, sources, strict=True):
            hit = found.get(str(s.get("chunk_id")), {})
            metadata = hit.get("metadata") or {}
            out.append(
                Passage(
                    n=n,
                    chunk_id=str(s.get("chunk_id") or ""),
                    source=str(metadata.get("source") or self._file_of(s)),
                    title=str(s.get("title") or ""),
                    text=str(hit.get("content") or s.get("snippet") or ""),
                    relevance_score=float(s.get("relevance_score") or 0.0),
                    heading_path=str(metadata.get("heading_path") or ""),
                )
            )
        return out

    def _lookup(self, query: str, chunk_ids: set[str]) -> dict[str, dict[str, Any]]:
        data = self._post(SEARCH, {"query": query[:1000], "top_k": 20})
        return {
            str(r["chunk_id"]): r for r in data.get("results", []) if r["chunk_id"] in chunk_ids
        }

    def _file_of(self, source: dict[str, Any]) -> str:
        """The sample KB's file name for a source's title (the datasets label files)."""
        if self._titles is None:
            from loaders.sample import SAMPLE_KB_DIR, read_manifest

            self._titles = {e["title"]: f for f, e in read_manifest(SAMPLE_KB_DIR).items()}
        return self._titles.get(str(source.get("title")), "")

    def describe(self) -> dict[str, Any]:
        return {"target": self.base_url}

    def close(self) -> None:
        self.client.close()


def _error_message(r: httpx.Response, path: str) -> str:
    try:
        error = r.json().get("error") or {}
    except ValueError:
        error = {}
    detail = f"{error.get('code', 'HTTP_' + str(r.status_code))}: {error.get('message', r.text)}"
    hint = ""
    if r.status_code == 401:
        hint = " Pass --token (or SUPPORTBOT_TOKEN) or --api-key (SUPPORTBOT_API_KEY)."
    elif r.status_code == 403:
        hint = " Per-request --set overrides need an admin token."
    return f"{path} answered {r.status_code} {detail}{hint}"
