"""Handoff state of a chat session: the states, the allowed moves and the loop guard, as pure
functions (no I/O), so every rule can be read and unit-tested here.

A session moves ``bot`` -> ``waiting`` -> ``with_agent`` -> (``bot`` | ``resolved``). Only a
structured action moves it: the customer's request, the bot's escalation rule or an agent;
never a phrase found in the bot's reply. While ``waiting`` or ``with_agent`` the bot is silent:
the customer asked for a person, so a bot answer interleaved with a person's would confuse both.
(A session the bot's own low-confidence rule queued keeps its bot until an agent claims it.)
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chains.session_docs import aware

HandoffState = Literal["bot", "waiting", "with_agent", "resolved"]
Outcome = Literal["resolved", "back_to_bot"]
STATES: tuple[str, ...] = ("bot", "waiting", "with_agent", "resolved")
HELD = frozenset({"waiting", "with_agent"})
# After a person released a conversation, the bot's own low-confidence rule does not send it
# back to the queue for this long: only the customer's explicit request does.
LOOP_GUARD = timedelta(minutes=30)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def current(session: dict[str, Any]) -> dict[str, Any]:
    """The stored handoff record (``metadata.handoff``), ``{"state": "bot"}`` when none."""
    record = (session.get("metadata") or {}).get("handoff") or {}
    return {"state": "bot", **record}


def state_of(session: dict[str, Any]) -> str:
    return str(current(session)["state"])


def is_held(session: dict[str, Any]) -> bool:
    """The bot must not answer: a person has the conversation, or the customer asked for one.

    A session the bot's own rule queued keeps its bot while it waits: the customer did not
    ask to stop talking to it, and with nobody online they would otherwise be left unanswered.
    """
    record = current(session)
    if record["state"] == "with_agent":
        return True
    return record["state"] == "waiting" and bool(record.get("explicit", True))


def may_request(record: dict[str, Any]) -> bool:
    """A new handoff request is accepted from ``bot`` and ``resolved`` (not twice)."""
    return record["state"] in ("bot", "resolved")


def may_escalate(record: dict[str, Any], *, explicit: bool, at: datetime) -> bool:
    """Whether an escalation moves the session to the queue.

    ``explicit`` is the customer's own request, always honoured from ``bot`` or ``resolved``.
    The bot's rule (two low-confidence turns) is not, within ``LOOP_GUARD`` of a release:
    a conversation a person has just closed would otherwise bounce straight back.
    """
    if not may_request(record):
        return False
    if explicit:
        return True
    released = record.get("released_at")
    return released is None or at - aware(released) >= LOOP_GUARD


def view(session: dict[str, Any]) -> dict[str, Any]:
    """The contract's ``HandoffView``: what clients may see (never the stored email)."""
    record = current(session)
    agent = (session.get("metadata") or {}).get("assigned_agent")
    return {
        "state": record["state"],
        "reason": record.get("reason"),
        "summary": record.get("summary"),
        "requested_at": record.get("requested_at"),
        "claimed_at": record.get("claimed_at"),
        "released_at": record.get("released_at"),
        "outcome": record.get("outcome"),
        "assigned_agent": {"user_id": agent["user_id"], "name": agent.get("name") or "Agent"}
        if agent and record["state"] == "with_agent"
        else None,
        "offline": bool(record.get("offline")),
        "email_collected": bool(record.get("email")),
    }


def within_hours(hours: dict[str, Any] | None, at: datetime) -> bool:
    """Whether ``at`` falls in the support hours (``None``: always staffed).

    ``hours`` is ``{"timezone": "Europe/Berlin", "days": ["mon", ...], "start": "09:00",
    "end": "17:00"}``; an ``end`` before ``start`` spans midnight.
    """
    if not hours:
        return True
    local = aware(at).astimezone(ZoneInfo(str(hours.get("timezone") or "UTC")))
    days = [str(d).lower()[:3] for d in hours.get("days") or DAYS]
    start, end = (
        parse_clock(str(hours.get("start", "00:00"))),
        parse_clock(str(hours.get("end", "23:59"))),
    )
    now, today = local.time(), DAYS[local.weekday()]
    if start <= end:
        return today in days and start <= now < end
    yesterday = DAYS[(local.weekday() - 1) % 7]
    return (today in days and now >= start) or (yesterday in days and now < end)


def parse_clock(value: str) -> time:
    """``"HH:MM"`` -> ``time``; ``ValueError`` for anything else."""
    hh, sep, mm = value.partition(":")
    if not sep or not (hh.isdigit() and mm.isdigit()) or len(mm) != 2:
        raise ValueError(f"{value!r} is not a time of day as HH:MM.")
    return time(int(hh), int(mm))


def check_hours(hours: dict[str, Any] | None) -> dict[str, Any] | None:
    """Support hours normalised, or ``ValueError`` with a message a person understands."""
    if hours is None:
        return None
    tz = str(hours.get("timezone") or "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {tz!r}; use an IANA name like Europe/Berlin.") from exc
    days = [str(d).lower()[:3] for d in hours.get("days") or DAYS]
    unknown = [d for d in days if d not in DAYS]
    if unknown:
        raise ValueError(f"Unknown days {unknown}; use mon, tue, wed, thu, fri, sat, sun.")
    start, end = str(hours.get("start", "09:00")), str(hours.get("end", "17:00"))
    parse_clock(start), parse_clock(end)
    if start == end:
        raise ValueError("Support hours must not start and end at the same time.")
    return {"timezone": tz, "days": days, "start": start, "end": end}
