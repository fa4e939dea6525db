"""Typed state of the chat graph: what each node reads and the partial updates it returns.

``typing_extensions.TypedDict`` (not ``typing``) because LangServe builds pydantic schemas from
it, and pydantic refuses ``typing.TypedDict`` on Python < 3.12.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from typing_extensions import TypedDict

Route = Literal["retrieve", "refuse", "handoff", "held"]
Verdict = Literal["pass", "retry", "fallback", "dont_know"]


class Source(TypedDict):
    """One cited passage, as returned to clients."""

    document_id: str
    chunk_id: str
    title: str
    relevance_score: float
    snippet: str


class Violation(TypedDict):
    """A guardrail finding; ``code`` is stable (e.g. PII_EMAIL, PROMPT_INJECTION, UNGROUNDED)."""

    code: str
    message: str
    stage: Literal["input", "output"]


class Guardrails(TypedDict):
    input_safe: bool
    output_safe: bool
    pii_detected: bool
    violations: list[Violation]


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int


class ChatInput(TypedDict):
    """What a client sends: the customer's message (history comes from the session)."""

    question: str
    history: NotRequired[list[BaseMessage]]


class ChatOutput(TypedDict):
    """What a turn returns."""

    answer: str
    sources: list[Source]
    confidence_score: float
    guardrails: Guardrails
    usage: Usage
    timings: dict[str, float]
    escalation: NotRequired[dict[str, Any] | None]
    message: NotRequired[BaseMessage]


class ChatState(TypedDict, total=False):
    """Everything a turn accumulates; nodes return partial updates of it."""

    question: str
    history: list[BaseMessage]
    safe_question: str
    standalone_question: str
    route: Route
    documents: list[Document]
    retrieval_confidence: float
    answer: str
    answer_score: float | None  # the extractive model's best unit score (None for an LLM)
    draft_model: str
    message: BaseMessage
    attempts: int
    verdict: Verdict
    sources: list[Source]
    confidence_score: float
    guardrails: Guardrails
    usage: Usage
    timings: dict[str, float]
    escalation: dict[str, Any] | None
