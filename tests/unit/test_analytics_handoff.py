"""Handoff analytics rules on session documents as nx-27017 returns them (dotted ``$set``
dates come back as naive ISO strings), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chains.analytics.handoff import (
    first_reply_seconds,
    is_closed,
    is_deflected,
    nearest_rank,
    outcome_of,
    summarize,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def session(sid: str, status: str = "ended", **handoff: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"handoff": {"state": "bot", **handoff}} if handoff else {}
    return {"session_id": sid, "status": status, "metadata": meta, "expires_at": None}


def test_an_active_session_past_expiry_is_closed() -> None:
    expired = session("a", "active") | {"expires_at": "2026-03-02 11:59:00.000000"}  # a string
    live = session("b", "active") | {"expires_at": NOW + timedelta(minutes=5)}
    assert is_closed(expired, NOW) and not is_closed(live, NOW)
    assert is_closed(session("c", "abandoned"), NOW)


def test_first_reply_reads_string_dates_and_never_goes_negative() -> None:
    asked = NOW
    doc = session("a", requested_at=asked, first_reply_at="2026-03-02 12:00:42.500000")
    assert first_reply_seconds(doc) == 42.5
    skewed = session("b", requested_at=asked, first_reply_at="2026-03-02 11:59:59.000000")
    assert first_reply_seconds(skewed) == 0.0
    assert first_reply_seconds(session("c", requested_at=asked)) is None


def test_outcomes_and_deflection() -> None:
    left = session("w", state="waiting", requested_at=NOW)
    cancelled = session("c", requested_at=NOW, outcome="cancelled")
    helped = session("h", requested_at=NOW, claimed_at=NOW, outcome="back_to_bot")
    assert [outcome_of(d) for d in (session("b"), left, cancelled, helped)] == [
        "bot_only", "waiting", "cancelled", "back_to_bot",
    ]  # fmt: skip
    assert is_deflected(cancelled, set()) and is_deflected(session("b"), set())
    assert not is_deflected(left, set()) and not is_deflected(helped, set())
    assert not is_deflected(session("b"), {"b"})  # a thumbs-down on one answer
    low = session("r") | {"feedback": {"rating": 2}}
    assert not is_deflected(low, set())


def test_nearest_rank_and_empty_summary() -> None:
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0
    assert nearest_rank([], 0.5) is None
    empty = summarize([], set(), NOW)
    assert empty["handoff_rate"] is None and empty["bot_resolution"]["rate"] is None
    assert empty["csat_by_outcome"]["bot_only"] == {"sessions": 0, "rated": 0, "csat_avg": None}
