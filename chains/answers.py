"""Pure helpers of the chat graph: passages, citations, sources, confidence, hand-over notes.

Follow-up rewriting without a model lives in ``chains.followups``.

Confidence (0..1) of a grounded answer from a generative model:
    confidence = 0.6 * top retrieval relevance + 0.4 * grounded support
where *top retrieval relevance* is the fused 0..1 score of the best passage and *grounded
support* is the share of the answer's factual sentences that the output guardrail found in the
passages. An extractive answer quotes passages, so support says nothing about it: its
confidence is the calibrated chance that it is correct, from its best unit's score
(``extractive_confidence``). Refusals, handoffs and "I don't know" answers have confidence 0.
Below ``LOW_CONFIDENCE`` a turn counts as low; two low turns in a row escalate the session.
"""

from __future__ import annotations

import math
import re
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage

from chains.state import Source
from loaders.code_text import mask_code

LOW_CONFIDENCE = 0.5
_CITATION = re.compile(r"\[(\d{1,2})\]")
_HUMAN = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put)\b.{0,30}\b(human|person|agent|someone|"
    r"representative|rep|operator|staff|support team)\b|\b(human|live|real) (agent|person)\b"
    r"|\bescalate\b",
    re.IGNORECASE,
)


def wants_human(text: str) -> bool:
    """The customer asks for a person (not merely mentions one)."""
    return bool(_HUMAN.search(text))


def passages(documents: list[Document]) -> list[dict[str, Any]]:
    """Numbered passages as the prompt and the extractive model see them ([1] is the best)."""
    return [
        {
            "n": i,
            "title": d.metadata.get("document_title") or d.metadata.get("title") or "",
            "text": d.page_content,
            "source": d.metadata.get("source", ""),
            "relevance": float(d.metadata.get("relevance_score", 0.0)),
            "navigation": bool(d.metadata.get("navigation", False)),
        }
        for i, d in enumerate(documents, start=1)
    ]


def cited_numbers(answer: str, limit: int) -> list[int]:
    """Passage numbers cited in the answer, in first-cited order, within 1..limit."""
    seen: list[int] = []
    for m in _CITATION.finditer(mask_code(answer)):
        n = int(m.group(1))
        if 1 <= n <= limit and n not in seen:
            seen.append(n)
    return seen


def sources_for(answer: str, documents: list[Document]) -> list[Source]:
    """The passages the answer cites; all passages used when it cites none."""
    numbers = cited_numbers(answer, len(documents)) or list(range(1, len(documents) + 1))
    out: list[Source] = []
    for n in numbers:
        d = documents[n - 1]
        out.append(
            {
                "document_id": str(d.metadata.get("document_id", "")),
                "chunk_id": str(d.id or ""),
                "title": str(d.metadata.get("document_title") or d.metadata.get("title") or ""),
                "relevance_score": round(float(d.metadata.get("relevance_score", 0.0)), 4),
                "snippet": snippet(d.page_content),
            }
        )
    return out


def snippet(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def confidence(retrieval: float, support: float) -> float:
    return round(max(0.0, min(1.0, 0.6 * retrieval + 0.4 * support)), 4)


EXTRACTIVE_CALIBRATION = (4.74, 0.813)
"""Logistic fit (slope, centre) of "the extractive answer is correct" on its best unit's
score, chosen on the dev split of the held-out Python-FAQ set (the score already holds the
passage's retrieval relevance)."""


def extractive_confidence(answer_score: float) -> float:
    """Calibrated confidence of an extractive answer: the share of such answers found correct."""
    slope, centre = EXTRACTIVE_CALIBRATION
    return round(1.0 / (1.0 + math.exp(-slope * (answer_score - centre))), 4)


def previous_confidence(history: list[BaseMessage]) -> float | None:
    """Confidence of the last bot answer, carried in its ``additional_kwargs``."""
    for message in reversed(history):
        if message.type == "ai":
            value = message.additional_kwargs.get("confidence_score")
            return float(value) if value is not None else None
    return None


_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def strip_planted_instructions(text: str, detect: Any) -> tuple[str, int]:
    """Drop sentences of a retrieved passage that carry instructions to the bot (indirect
    prompt injection planted in a document); returns the clean text and how many were dropped.
    """
    if detect(text) is None:
        return text, 0
    kept, dropped = [], 0
    for sentence in _SENTENCES.split(text):
        if sentence.strip() and detect(sentence) is not None:
            dropped += 1
        else:
            kept.append(sentence)
    return " ".join(s for s in kept if s.strip()), max(dropped, 1)


def summary_for_agent(question: str, history: list[BaseMessage], reason: str) -> str:
    """A short hand-over note: why, what the customer asked, and the last exchange."""
    asked = [*[str(m.content) for m in history if m.type == "human"][-3:], question]
    lines = [f"Escalated: {reason.replace('_', ' ')}.", "Customer asked:"]
    lines += [f"- {snippet(q, 160)}" for q in asked]
    return "\n".join(lines)
