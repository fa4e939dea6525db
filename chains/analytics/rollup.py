"""What a set of analytics events adds to the hourly summaries: one pure function of the events.

The writer (each flushed batch), the rebuild (the raw events of an hour) and the dashboard (the
raw events of a period's partial edge hours) all go through ``Rollup.add``, so they cannot
disagree. Every figure mirrors a raw-event definition in ``chains.analytics.raw_dashboard``:
``$sum``/``$avg`` skip non-numbers (and booleans), so ``_num`` does too.

Three kinds of summary come out of it:

- per hour (``hours``, ``bins``): additive counters and the response-time histogram;
- per session (``sessions``): hours of its first and last turn, its longest elapsed time, and the
  first and last hour with an escalation or a "not resolved" feedback (``bf``/``bl``);
- per session and hour (``rows``): a turn (``t``), the longest elapsed time (``e``), a bad
  event (``b``) - what the dashboard needs for the few sessions that cross a period's edge.

The session summaries only grow through ``$min``/``$max``, so applying them twice is harmless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HOUR_MS = 3_600_000
COUNTERS = (
    "sessions",  # session_start events
    "messages",
    "rt_sum",
    "unanswered",
    "errors",
    "escalations",
    "rated",
    "rating_sum",
    "retrievals",  # retrieval events with a numeric ``relevant``
    "relevant",
    "handoffs",  # handoff events: ``requested``
    "handoff_replies",  # ... and ``first_reply``, with their ``seconds`` summed
    "handoff_reply_s",
)
FLOAT_COUNTERS = frozenset({"rt_sum", "rating_sum", "relevant", "handoff_reply_s"})
Counters = dict[str, float]


def hour_of(ts: int) -> int:
    """Start (epoch ms) of the UTC hour holding ``ts``."""
    return int(ts) - int(ts) % HOUR_MS


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def empty_counters() -> Counters:
    return dict.fromkeys(COUNTERS, 0.0)


@dataclass
class SessionRow:
    """A session within one hour: a turn there, its longest elapsed time, a bad event."""

    t: int = 0
    e: float | None = None
    b: int = 0

    def merge(self, other: SessionRow) -> None:
        self.t = max(self.t, other.t)
        self.b = max(self.b, other.b)
        if other.e is not None:
            self.e = other.e if self.e is None else max(self.e, other.e)


@dataclass
class Rollup:
    """Summaries of a set of events (see the module docstring)."""

    hours: dict[int, Counters] = field(default_factory=dict)
    bins: dict[int, Counter[int]] = field(default_factory=dict)
    sessions: dict[str, dict[str, float]] = field(default_factory=dict)
    rows: dict[tuple[str, int], SessionRow] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Iterable[dict[str, Any]]) -> Rollup:
        rollup = cls()
        for event in events:
            rollup.add(event)
        return rollup

    def add(self, event: dict[str, Any]) -> None:
        hour = hour_of(event["ts"])
        c = self.hours.get(hour)
        if c is None:
            c = self.hours[hour] = empty_counters()
        kind, data = event.get("event_type"), event.get("data") or {}
        sid = event.get("session_id")
        if kind == "session_start":
            c["sessions"] += 1
        elif kind == "message":
            c["messages"] += 1
            c["rt_sum"] += _num(data.get("response_time_ms")) or 0.0
            c["unanswered"] += _num(data.get("unanswered")) or 0.0
            rt_bin = _num(data.get("rt_bin"))
            if rt_bin is not None:
                self.bins.setdefault(hour, Counter())[int(rt_bin)] += 1
            if sid is not None:
                self._turn(str(sid), hour, _num(data.get("session_elapsed_s")))
        elif kind == "error":
            c["errors"] += 1
        elif kind == "escalation":
            c["escalations"] += 1
            if sid is not None:
                self._bad(str(sid), hour)
        elif kind == "retrieval":
            relevant = _num(data.get("relevant"))
            if relevant is not None:
                c["retrievals"] += 1
                c["relevant"] += relevant
        elif kind == "handoff":
            if data.get("action") == "requested":
                c["handoffs"] += 1
            elif data.get("action") == "first_reply":
                c["handoff_replies"] += 1
                c["handoff_reply_s"] += _num(data.get("seconds")) or 0.0
        elif kind == "feedback":
            rating = _num(data.get("rating"))
            if rating is not None and rating >= 0:
                c["rated"] += 1
                c["rating_sum"] += rating
            if data.get("resolved") is False and sid is not None:
                self._bad(str(sid), hour)

    def _row(self, sid: str, hour: int) -> SessionRow:
        row = self.rows.get((sid, hour))
        if row is None:
            row = self.rows[(sid, hour)] = SessionRow()
        return row

    def _turn(self, sid: str, hour: int, elapsed: float | None) -> None:
        s = self.sessions.setdefault(sid, {})
        s["first"] = min(s.get("first", hour), hour)
        s["last"] = max(s.get("last", hour), hour)
        self._row(sid, hour).merge(SessionRow(t=1, e=elapsed))
        if elapsed is not None:
            s["e"] = max(s.get("e", elapsed), elapsed)
            s["ec"] = 1

    def _bad(self, sid: str, hour: int) -> None:
        s = self.sessions.setdefault(sid, {})
        s["bf"] = min(s.get("bf", hour), hour)
        s["bl"] = max(s.get("bl", hour), hour)
        self._row(sid, hour).b = 1

    def bins_of(self, hour: int) -> Counter[int]:
        return self.bins.get(hour, Counter())


def hour_doc(hour: int, counters: Counters, bins: Counter[int]) -> dict[str, Any]:
    """The ``analytics_hourly`` document of one hour (without ``rev`` and writer marks)."""
    doc: dict[str, Any] = {"_id": hour, **stored(counters)}
    doc["rt"] = {str(b): n for b, n in sorted(bins.items()) if n}
    return doc


def stored(counters: Counters) -> dict[str, int | float]:
    """Counters as stored: event counts as integers, sums as floats."""
    return {
        k: float(counters.get(k, 0.0)) if k in FLOAT_COUNTERS else int(counters.get(k, 0))
        for k in COUNTERS
    }
