"""The shape of an analytics event (seed: ``analytics_events``) and the events of one chat turn.

Besides the seed's fields (event_id, event_type, session_id, user_id, timestamp, data, metadata)
each event carries what the queries need and nx-27017 cannot derive at query time, written once
here: ``ts`` (epoch milliseconds: nx-27017's aggregation mis-compares dates, never numbers) and
``bucket`` keys per granularity (it has no ``$dateTrunc``). Flags the queries add up are 0/1
integers, since ``$sum`` ignores booleans on MongoDB.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from langchain_core.messages import BaseMessage

COLLECTION = "analytics_events"
EventType = Literal[
    "session_start",
    "message",
    "retrieval",
    "guardrail_violation",
    "escalation",
    "handoff",
    "feedback",
    "error",
]
Outcome = Literal["answered", "no_answer", "refused", "handoff"]
QUESTION_CHARS = 500
_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def bucket_keys(at: datetime) -> dict[str, str]:
    """Bucket labels (UTC) for every granularity; a week is labelled by its Monday."""
    at = at.astimezone(UTC)
    monday = (at - timedelta(days=at.weekday())).date()
    return {
        "hour": at.strftime("%Y-%m-%dT%H:00"),
        "day": at.strftime("%Y-%m-%d"),
        "week": monday.isoformat(),
        "month": at.strftime("%Y-%m"),
    }


def make_event(
    event_type: EventType,
    *,
    session_id: str | None,
    user_id: str | None,
    data: dict[str, Any],
    metadata: dict[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """One ``analytics_events`` document."""
    at = at or datetime.now(UTC)
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "session_id": session_id,
        "user_id": user_id,
        "timestamp": at,
        "ts": epoch_ms(at),
        "bucket": bucket_keys(at),
        "data": data,
        "metadata": metadata,
    }


RT_BIN_SCALE = 16


def rt_bin(response_time_ms: float) -> int:
    """Histogram bin of a response time (~4% wide, monotonic): p95 is found by counting bins,
    then read exactly inside one bin (see ``chains.analytics.dashboard``)."""
    return int(math.log2(max(float(response_time_ms), 0.0) + 1.0) * RT_BIN_SCALE)


def normalize_question(text: str) -> str:
    """Grouping key of a question: case, punctuation and spacing do not make a new question."""
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", text.lower())).strip()[:200]


def outcome_of(kwargs: dict[str, Any]) -> Outcome:
    """How the turn ended, from the bot message's ``additional_kwargs`` (see ``nodes.finalize``):
    a handoff asked for, a refused input, no grounded passage, or an answer with sources."""
    if (kwargs.get("escalation") or {}).get("reason") == "customer_request":
        return "handoff"
    if (kwargs.get("guardrails") or {}).get("input_safe") is False:
        return "refused"
    return "answered" if kwargs.get("sources") else "no_answer"


def turn_events(
    message: BaseMessage, question: str, session: dict[str, Any] | None, at: datetime
) -> list[tuple[EventType, dict[str, Any]]]:
    """The events of one finished turn: message, retrieval (when it ran), each guardrail
    violation, and the escalation if any. ``question`` is already PII-masked; ``session`` is
    the session document after the turn was recorded on it."""
    kw = message.additional_kwargs or {}
    meta = kw.get("ai_metadata") or {}
    context = kw.get("context_used") or {}
    escalation = kw.get("escalation") or None
    outcome = outcome_of(kw)
    retrieved = int(context.get("retrieved_count") or 0)
    top = max((float(s.get("relevance_score") or 0.0) for s in kw.get("sources") or []), default=0)
    response_ms = float(meta.get("response_time_ms") or 0.0)
    key = normalize_question(question)
    message_data: dict[str, Any] = {
        "response_time_ms": response_ms,
        "rt_bin": rt_bin(response_ms),
        "tokens": int(meta.get("total_tokens") or 0),
        "prompt_tokens": int(meta.get("prompt_tokens") or 0),
        "completion_tokens": int(meta.get("completion_tokens") or 0),
        "documents_retrieved": retrieved,
        "confidence_score": float(kw.get("confidence_score") or 0.0),
        "top_relevance": round(top, 4),
        "outcome": outcome,
        "escalated": int(escalation is not None),
        "unanswered": int(outcome == "no_answer" or escalation is not None),
        "question": question[:QUESTION_CHARS],
        "question_key": key,
        "model": meta.get("provider") or meta.get("model_used"),
        **_session_position(session, at),
    }
    events: list[tuple[EventType, dict[str, Any]]] = [("message", message_data)]
    if outcome in ("answered", "no_answer"):
        events.append(
            (
                "retrieval",
                {
                    "documents_retrieved": retrieved,
                    "top_relevance": round(top, 4),
                    "relevant": int(retrieved > 0),
                },
            )
        )
    for v in (kw.get("guardrails") or {}).get("violations") or []:
        events.append(("guardrail_violation", {"code": v.get("code"), "stage": v.get("stage")}))
    if escalation is not None:
        reason = escalation.get("reason")
        events.append(("escalation", {"reason": reason, "question": question[:QUESTION_CHARS]}))
    return events


def _session_position(session: dict[str, Any] | None, at: datetime) -> dict[str, Any]:
    """The turn's number in its session and seconds since the session started."""
    if not session:
        return {}
    out: dict[str, Any] = {"turn": int((session.get("context") or {}).get("conversation_count", 0))}
    started = session.get("started_at")
    if isinstance(started, str):  # nx-27017 returns some datetimes as ISO strings
        started = datetime.fromisoformat(started)
    if isinstance(started, datetime):
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        out["session_elapsed_s"] = round(max((at - started).total_seconds(), 0.0), 3)
    return out


def feedback_data(
    *, rating: float | None, resolved: bool | None, source: str, key: str | None = None
) -> dict[str, Any]:
    """A feedback event's data; absent values stay absent so averages skip them."""
    data: dict[str, Any] = {"source": source}
    if rating is not None:
        data["rating"] = float(rating)
    if resolved is not None:
        data["resolved"] = bool(resolved)
    if key:
        data["key"] = key
    return data
