"""Failover for chat models: retry transient errors, then a secondary provider, then extractive.

``failover`` chains ``primary (retried) -> secondary (retried) -> extractive``, so a customer
always gets an answer (``chains.providers.build_chat_runnable`` builds it from specs). Only
transient failures are retried (connect timeouts, connection errors, 408, 429, 5xx, Bedrock
throttling): exponential backoff with jitter, or the server's ``Retry-After`` when that is no
longer than ``max_wait`` (a longer one means "go elsewhere", so it falls over at once).
Anything else (400, 401, 404...) falls over without retrying, and so does a read timeout: the
server may still be computing the request, and a retry would stack a second one on it.

Every answer says which link produced it: ``response_metadata["model_spec"]`` (read it with
``produced_by``). Streaming is retried too, as long as no chunk has been yielded yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.retry import RunnableRetry
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from chains.extractive import ExtractiveChatModel

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput

log = logging.getLogger(__name__)

SPEC_KEY = "model_spec"
_AWS_TRANSIENT = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceUnavailableException",
    "InternalServerException", "ModelNotReadyException", "ModelTimeoutException", "RequestTimeout",
})  # fmt: skip


@lru_cache(maxsize=1)
def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection and timeout errors of the SDKs we use (imported on first failure only)."""
    found: list[type[BaseException]] = [TimeoutError, ConnectionError]
    try:
        import openai

        found.append(openai.APIConnectionError)  # includes APITimeoutError
    except ImportError:
        pass
    try:
        import httpx

        found.append(httpx.TransportError)
    except ImportError:
        pass
    try:
        from botocore import exceptions as boto

        found += [boto.ConnectionError, boto.HTTPClientError]
    except ImportError:
        pass
    return tuple(found)


@lru_cache(maxsize=1)
def _read_timeouts() -> tuple[type[BaseException], ...]:
    """Timeouts waiting for a reply (not for a connection) in the SDKs we use."""
    found: list[type[BaseException]] = []
    try:
        import httpx

        found.append(httpx.ReadTimeout)  # openai's APITimeoutError keeps it as __cause__
    except ImportError:
        pass
    try:
        from botocore.exceptions import ReadTimeoutError

        found.append(ReadTimeoutError)
    except ImportError:
        pass
    return tuple(found)


def is_read_timeout(exc: BaseException | None) -> bool:
    """The request reached the server, which did not answer in time (it may still be working)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, _read_timeouts()):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _aws_error(exc: BaseException) -> dict[str, Any]:
    response = getattr(exc, "response", None)
    return response if isinstance(response, dict) else {}


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK error (openai ``status_code``, botocore metadata)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    status = _aws_error(exc).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: timeouts, dropped connections, 408, 429, 5xx, Bedrock throttling."""
    if isinstance(exc, _transport_errors()):
        return True
    if _aws_error(exc).get("Error", {}).get("Code") in _AWS_TRANSIENT:
        return True
    status = status_of(exc)
    return status is not None and (status in (408, 429) or status >= 500)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers: Any = getattr(response, "headers", None)
    if headers is None:
        headers = _aws_error(exc).get("ResponseMetadata", {}).get("HTTPHeaders") or {}
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        if (value := headers.get("retry-after")) is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None


def produced_by(message: BaseMessage) -> str:
    """The ``provider/model`` spec of the link that produced ``message``."""
    meta = message.response_metadata
    return str(meta.get(SPEC_KEY) or meta.get("model_name") or "unknown")


def _stamp(message: Any, spec: str) -> Any:
    if isinstance(message, BaseMessage):
        message.response_metadata[SPEC_KEY] = spec
    return message


class ResilientModel(RunnableRetry):  # type: ignore[type-arg]
    """A chat model retried on transient errors, its answers stamped with ``spec``."""

    spec: str
    backoff: float = 0.5
    max_wait: float = 8.0

    def _should_retry(self, exc: BaseException) -> bool:
        if is_read_timeout(exc):
            log.warning("chat model %s: no reply in time (%r); not retried", self.spec, exc)
            return False
        wait = retry_after(exc)
        return is_transient(exc) and (wait is None or wait <= self.max_wait)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None and (wait := retry_after(exc)) is not None:
            return min(wait, self.max_wait)
        jitter = wait_exponential_jitter(
            initial=self.backoff, max=self.max_wait, jitter=self.backoff
        )
        return float(jitter(state))

    @property
    def _kwargs_retrying(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(max(1, self.max_attempt_number)),
            "wait": self._wait,
            "retry": retry_if_exception(self._should_retry),
            "before_sleep": self._log_retry,
        }

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("chat model %s failed (%r); retry %d", self.spec, exc, state.attempt_number)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return _stamp(super().invoke(input, config, **kwargs), self.spec)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return _stamp(await super().ainvoke(input, config, **kwargs), self.spec)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Retries (or fails over) until the first token arrives; then a failure propagates.

        Leading empty chunks (the role chunk servers send before computing) are held back, so
        a stall before the first token still leaves the stream to the next link.
        """
        for attempt in self._sync_retrying(reraise=True):
            with attempt:
                chunks = super().stream(input, config, **kwargs)
                head = []
                for chunk in chunks:
                    head.append(chunk)
                    if _has_token(chunk):
                        break
        if not head:
            return
        yield _stamp(head[0], self.spec)
        yield from head[1:]
        yield from chunks

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        async for attempt in self._async_retrying(reraise=True):
            with attempt:
                chunks = super().astream(input, config, **kwargs)
                head = []
                async for chunk in chunks:
                    head.append(chunk)
                    if _has_token(chunk):
                        break
        if not head:
            return
        yield _stamp(head[0], self.spec)
        for chunk in head[1:]:
            yield chunk
        async for chunk in chunks:
            yield chunk


def _has_token(chunk: Any) -> bool:
    """Text or a tool call: the server has started answering, not just opened the stream."""
    return bool(getattr(chunk, "content", None) or getattr(chunk, "tool_call_chunks", None))


def resilient(
    model: Runnable[Any, Any], spec: str, *, retries: int = 2, backoff: float = 0.5,
    max_wait: float = 8.0,
) -> ResilientModel:  # fmt: skip
    """``model`` with ``retries`` extra attempts on transient errors, answers stamped."""
    return ResilientModel(
        bound=model, kwargs={}, config={}, spec=spec, max_attempt_number=retries + 1,
        backoff=backoff, max_wait=max_wait,
    )  # fmt: skip


def failover(
    links: Sequence[tuple[str, BaseChatModel]],
    *,
    retries: int = 2,
    backoff: float = 0.5,
    max_wait: float = 8.0,
    embed: Any | None = None,
) -> Runnable[LanguageModelInput, BaseMessage]:
    """Try each ``(spec, model)`` in turn (each retried), then the extractive answerer."""
    chain = [resilient(m, s, retries=retries, backoff=backoff, max_wait=max_wait) for s, m in links]
    if not any(isinstance(m, ExtractiveChatModel) for _, m in links):
        chain.append(resilient(ExtractiveChatModel(embed=embed), "extractive", retries=0))
    head, *rest = chain
    return head.with_fallbacks(rest) if rest else head
