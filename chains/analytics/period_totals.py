"""A period's figures from the hourly summaries, exact to the millisecond.

The period ``[start, end)`` splits into whole interior hours ``[A, Z)``, read from
``analytics_hourly``, and raw parts read from events through the same ``Rollup``: the partial
hours at both edges and any hour with a batch still in the journal (a flush in flight or one
that failed; see ``chains.analytics.summaries``).

Session figures count sessions with a turn in the period, each once. Most sessions lie wholly
inside ``[A, Z)``: their whole-session summaries are added up in one grouped query on the hour
of their first turn. The few "special" sessions - crossing ``A`` or ``Z``, seen in a raw part,
or with bad events on both sides of the period - are taken out of that sum and recomputed from
their per-hour rows and the raw parts.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chains.analytics.periods import Period
from chains.analytics.rollup import COUNTERS, HOUR_MS, Counters, Rollup, SessionRow
from chains.analytics.summaries import HOURLY, PENDING, SESSION_HOURS, SESSIONS, Db, raw_events

IN_BATCH = 1000
HourSummary = tuple[Counters, Counter[int]]


class HourCache:
    """Hour summaries already read, by (server, database, hour), checked against ``rev`` on
    every read: a past hour rarely changes, and its full document costs ~0.1 ms on nx-27017
    where its ``rev`` alone is ~0.01 ms. Any update or rebuild bumps ``rev``, so it is exact."""

    def __init__(self, max_hours: int = 100_000) -> None:
        self.max_hours = max_hours
        self._docs: dict[tuple[Any, str, int], tuple[int, HourSummary]] = {}
        self._lock = threading.Lock()

    def read(self, db: Db, a: int, z: int) -> dict[int, HourSummary]:
        space = (db.client.address, db.name)
        match = {"$match": {"_id": {"$gte": a, "$lt": z}}}
        revs = {int(d["_id"]): d.get("rev", 0) for d in db[HOURLY].aggregate([match, REV])}
        with self._lock:
            cached = {h: self._docs.get((*space, h)) for h in revs}
        out = {h: c[1] for h, c in cached.items() if c is not None and c[0] == revs[h]}
        stale = sorted(set(revs) - set(out))
        for i in range(0, len(stale), IN_BATCH):
            for doc in db[HOURLY].find({"_id": {"$in": stale[i : i + IN_BATCH]}}):
                hour = int(doc["_id"])
                summary = (
                    {k: doc.get(k, 0) for k in COUNTERS},
                    Counter({int(b): int(n) for b, n in (doc.get("rt") or {}).items()}),
                )
                out[hour] = summary
                with self._lock:
                    if len(self._docs) >= self.max_hours:
                        self._docs.clear()  # simple bound; refilled on the next reads
                    self._docs[(*space, hour)] = (doc.get("rev", 0), summary)
        return out


REV = {"$project": {"rev": 1}}
HOUR_CACHE = HourCache()


@dataclass
class SessionTotals:
    """Sessions with a turn; the sum and count of their longest elapsed times; unresolved."""

    sessions: int = 0
    elapsed_sum: float = 0.0
    elapsed_n: int = 0
    unresolved: int = 0

    def add(self, sign: int, elapsed: float | None, bad: bool) -> None:
        self.sessions += sign
        if elapsed is not None:
            self.elapsed_sum += sign * elapsed
            self.elapsed_n += sign
        self.unresolved += sign * int(bad)


@dataclass
class PeriodTotals:
    hours: dict[int, Counters] = field(default_factory=dict)  # hour start -> counters
    bins: Counter[int] = field(default_factory=Counter)
    sessions: SessionTotals = field(default_factory=SessionTotals)


@dataclass(frozen=True)
class Plan:
    start: int
    end: int
    a: int  # first whole interior hour
    z: int  # end of the whole interior hours (a >= z: none)
    raw: tuple[tuple[int, int], ...]  # parts read from raw events
    raw_hours: frozenset[int]  # interior hours read raw (journalled batches)
    pending_sessions: frozenset[str]

    @property
    def interior(self) -> bool:
        return self.a < self.z

    def in_interior(self, hour: int) -> bool:
        return self.a <= hour < self.z and hour not in self.raw_hours


def plan(db: Db, period: Period) -> Plan:
    start, end = period.ts_range["$gte"], period.ts_range["$lt"]
    a, z = -(-start // HOUR_MS) * HOUR_MS, end - end % HOUR_MS
    pending = list(db[PENDING].find({}, {"hours": 1, "sessions": 1}))
    journalled = {int(h) for p in pending for h in p.get("hours") or [] if a <= h < z}
    if a >= z:
        raw: list[tuple[int, int]] = [(start, end)]
    else:
        raw = [(start, a)] if start < a else []
        raw += [(h, h + HOUR_MS) for h in sorted(journalled)]
        raw += [(z, end)] if z < end else []
    sessions = frozenset(s for p in pending for s in p.get("sessions") or [])
    return Plan(start, end, a, z, tuple(raw), frozenset(journalled), sessions)


def period_totals(db: Db, period: Period) -> PeriodTotals:
    """Counters per hour, the response-time histogram, and session totals of the period."""
    p = plan(db, period)
    raw = Rollup()
    for lo, hi in p.raw:
        for event in raw_events(db, lo, hi):
            raw.add(event)
    out = PeriodTotals(hours=dict(raw.hours))
    for bins in raw.bins.values():
        out.bins.update(bins)
    if p.interior:
        for hour, (counters, bins) in HOUR_CACHE.read(db, p.a, p.z).items():
            if hour not in p.raw_hours:
                out.hours[hour] = dict(counters)
                out.bins.update(bins)
    out.sessions = session_totals(db, p, raw)
    return out


def session_totals(db: Db, p: Plan, raw: Rollup) -> SessionTotals:
    special = {sid for sid, _ in raw.rows} | set(p.pending_sessions)
    totals = SessionTotals()
    docs: dict[str, dict[str, Any]] = {}
    if p.interior:
        inside = {"$gte": p.a, "$lt": p.z}
        q1 = _one(
            db, {"first": inside}, {"n": {"$sum": 1}, "e": {"$sum": "$e"}, "ec": {"$sum": "$ec"}}
        )
        totals.sessions, totals.elapsed_sum = int(q1.get("n", 0)), float(q1.get("e") or 0.0)
        totals.elapsed_n = int(q1.get("ec") or 0)
        totals.unresolved = int(
            _one(db, {"first": inside, "bf": inside}, {"n": {"$sum": 1}}).get("n", 0)
        )
        early_bad = {"bl": {"$gte": p.a}, "bf": {"$lt": p.a}}  # (bl, bf) index; few rows
        for doc in db[SESSIONS].find(early_bad):
            if not p.a <= doc.get("first", p.z) < p.z:
                continue
            if doc["bl"] < p.z:
                totals.unresolved += 1  # a bad event inside, after one before the period
            else:
                special.add(doc["_id"])  # bad events on both sides: look at its rows
                docs[doc["_id"]] = doc
        for edge in (p.a, p.z):  # sessions with turns on both sides of an edge
            for doc in db[SESSIONS].find({"last": {"$gte": edge}, "first": {"$lt": edge}}):
                special.add(doc["_id"])
                docs[doc["_id"]] = doc
        docs |= _by_ids(db, SESSIONS, "_id", special - set(docs))
        for doc in docs.values():  # take specials out of the grouped sums
            first = doc.get("first")
            if first is not None and p.a <= first < p.z:
                bf, bl = doc.get("bf"), doc.get("bl")
                bad = _bad_inside(bf, bl, p)
                totals.add(-1, doc.get("e") if doc.get("ec") else None, bad)
    merged: dict[str, SessionRow] = {}
    if p.interior and special:
        for doc in _rows(db, {sid: docs[sid] for sid in special if sid in docs}, p):
            found = SessionRow(t=int(doc.get("t", 0)), e=doc.get("e"), b=int(doc.get("b", 0)))
            _merge(merged, doc["s"], found)
    for (sid, _hour), row in raw.rows.items():
        _merge(merged, sid, row)
    for row in merged.values():
        if row.t:
            totals.add(1, row.e, bool(row.b))
    return totals


def _bad_inside(bf: int | None, bl: int | None, p: Plan) -> bool:
    """What the grouped sums counted as unresolved: a first or last bad hour in ``[A, Z)``."""
    if bf is None or bl is None:
        return False
    return p.a <= bf < p.z or (bf < p.a and p.a <= bl < p.z)


def _merge(rows: dict[str, SessionRow], sid: str, row: SessionRow) -> None:
    if sid in rows:
        rows[sid].merge(row)
    else:
        rows[sid] = SessionRow(t=row.t, e=row.e, b=row.b)


def _rows(db: Db, docs: dict[str, dict[str, Any]], p: Plan) -> list[dict[str, Any]]:
    """The per-hour rows of the special sessions inside ``[A, Z)``. Fetched by ``_id`` (the
    hours between a session's first and last turn or bad event): nx-27017 answers ``$in`` on
    ``_id`` from its key but scans the collection for ``$in`` on another field."""
    ids: list[str] = []
    for sid, doc in docs.items():
        hours: set[int] = set()
        for lo, hi in ((doc.get("first"), doc.get("last")), (doc.get("bf"), doc.get("bl"))):
            if lo is not None and hi is not None:
                hours.update(range(max(int(lo), p.a), min(int(hi), p.z - 1) + 1, HOUR_MS))
        ids += [f"{sid}|{h}" for h in sorted(hours) if p.in_interior(h)]
    out = []
    for i in range(0, len(ids), IN_BATCH):
        out += list(db[SESSION_HOURS].find({"_id": {"$in": ids[i : i + IN_BATCH]}}))
    return out


def _by_ids(db: Db, name: str, key: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    values = sorted(ids)
    for i in range(0, len(values), IN_BATCH):
        for doc in db[name].find({key: {"$in": values[i : i + IN_BATCH]}}):
            found[doc[key]] = doc
    return found


def _one(db: Db, match: dict[str, Any], acc: dict[str, Any]) -> dict[str, Any]:
    rows = list(db[SESSIONS].aggregate([{"$match": match}, {"$group": {"_id": None, **acc}}]))
    return rows[0] if rows else {}
