"""The analytics summaries in MongoDB: applying a batch's roll-up, its journal, and rebuilds.

Collections: ``analytics_hourly`` (one document per UTC hour, ``_id`` = hour start in epoch ms:
counters, the ``rt`` histogram, ``rev``, and one ``w_<writer>`` mark per writer),
``analytics_sessions`` and ``analytics_session_hours`` (see ``chains.analytics.rollup``),
``analytics_pending`` (the journal) and ``analytics_meta`` (whether the summaries were built).

How summaries stay equal to the events, whatever fails:

1. A batch is journalled in ``analytics_pending`` (its hours and sessions) before its events
   are inserted; every event carries the batch id (``batch``). The journal entry is removed
   only once the summaries were updated. The dashboard reads journalled hours from raw events,
   so it is exact even while a flush is in flight or after one failed half-way.
2. Hour documents take ``$inc`` (not idempotent) guarded by the writer's mark: a writer numbers
   its batches and applies them in order, and an update only matches while
   ``w_<writer> < seq`` - a retried update cannot count twice.
3. Session summaries only take ``$min``/``$max``: re-applying them is harmless.
4. A batch whose update failed is repaired by rebuilding its hours from raw events (a
   compare-and-swap on ``rev``, so live writers are never overwritten) and re-applying its
   session summaries. Stale journal entries (a crashed process) are repaired the same way.

nx-27017 notes: ``$ne`` never matches a missing field and an upsert with dotted paths stores
literal dotted keys, hence the two steps per hour (create with flat fields, then ``$inc``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chains.analytics.events import COLLECTION as EVENTS
from chains.analytics.rollup import HOUR_MS, Rollup, empty_counters, hour_doc, stored

HOURLY = "analytics_hourly"
SESSIONS = "analytics_sessions"
SESSION_HOURS = "analytics_session_hours"
PENDING = "analytics_pending"
META = "analytics_meta"
BUILT = "rollup"
STALE_SECONDS = 120.0  # a journal entry this old belongs to a crashed or given-up flush
CAS_ATTEMPTS = 8
RAW_FIELDS = {"_id": 0, "event_type": 1, "session_id": 1, "ts": 1, "data": 1, "batch": 1}
Db = Database[dict[str, Any]]


class RollupConflict(RuntimeError):
    """An hour kept changing while it was rebuilt (retried later from the journal)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def journal(db: Db, batch_id: str, mark: str, seq: int, rollup: Rollup) -> None:
    """Record a batch before its events are written (its hours and sessions)."""
    sessions = sorted({sid for sid, _ in rollup.rows})
    entry = {"writer": mark, "seq": seq, "hours": sorted(rollup.hours), "sessions": sessions}
    with contextlib.suppress(DuplicateKeyError):  # a retry after a lost acknowledgement
        db[PENDING].insert_one({"_id": batch_id, **entry, "at": now_ms()})


def settle(db: Db, batch_id: str) -> None:
    db[PENDING].delete_one({"_id": batch_id})


def apply_hours(db: Db, mark: str, seq: int, rollup: Rollup) -> None:
    """``$inc`` the batch's hours once: the mark makes a retry of the same ``seq`` a no-op."""
    if not rollup.hours:
        return
    create = [
        UpdateOne({"_id": h}, {"$inc": {"rev": 1}, "$max": {mark: 0}}, upsert=True)
        for h in rollup.hours
    ]
    db[HOURLY].bulk_write(create, ordered=False)
    updates = []
    for h, counters in rollup.hours.items():
        inc: dict[str, Any] = {k: v for k, v in stored(counters).items() if v}
        inc.update({f"rt.{b}": n for b, n in rollup.bins_of(h).items()})
        inc["rev"] = 1
        updates.append(
            UpdateOne({"_id": h, mark: {"$lt": seq}}, {"$inc": inc, "$set": {mark: seq}})
        )
    db[HOURLY].bulk_write(updates, ordered=False)


def apply_sessions(db: Db, rollup: Rollup) -> None:
    """Session summaries (``$min``/``$max`` only, so applying twice changes nothing)."""
    ops = []
    for sid, s in rollup.sessions.items():
        low = {k: s[k] for k in ("first", "bf") if k in s}
        high = {k: s[k] for k in ("last", "e", "ec", "bl") if k in s}
        update = {op: v for op, v in (("$min", low), ("$max", high)) if v}
        ops.append(UpdateOne({"_id": sid}, update, upsert=True))
    if ops:
        db[SESSIONS].bulk_write(ops, ordered=False)
    rows = []
    for (sid, h), row in rollup.rows.items():
        top: dict[str, float] = {"t": row.t, "b": row.b}
        if row.e is not None:
            top["e"] = row.e
        rows.append(
            UpdateOne(
                {"_id": f"{sid}|{h}"},
                {"$setOnInsert": {"s": sid, "h": h}, "$max": top},
                upsert=True,
            )
        )
    if rows:
        db[SESSION_HOURS].bulk_write(rows, ordered=False)


def raw_events(db: Db, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The events in ``[start_ms, end_ms)``, with the fields a roll-up reads."""
    return list(db[EVENTS].find({"ts": {"$gte": start_ms, "$lt": end_ms}}, RAW_FIELDS))


def rebuild_hour(db: Db, hour: int, repairing: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Recompute one hour's document from raw events; returns the events read.

    Batches still in the journal are counted only if their update already reached this hour
    (their writer's mark) or if they are being repaired; the others will ``$inc`` later. The
    write is a compare-and-swap on ``rev``: a concurrent update makes it start over.
    """
    repair = set(repairing)
    for _ in range(CAS_ATTEMPTS):
        doc = db[HOURLY].find_one({"_id": hour})
        events = raw_events(db, hour, hour + HOUR_MS)  # after reading the doc, before the journal
        pending = {p["_id"]: p for p in db[PENDING].find({}, {"writer": 1, "seq": 1})}
        marks = {k: v for k, v in (doc or {}).items() if k.startswith("w_")}
        counted = []
        for event in events:
            p = pending.get(event.get("batch"))
            if p is None or p["_id"] in repair or marks.get(p["writer"], 0) >= p["seq"]:
                counted.append(event)
        for batch_id in repair & set(pending):
            p = pending[batch_id]
            marks[p["writer"]] = max(marks.get(p["writer"], 0), p["seq"])
        rollup = Rollup.of(counted)
        new = hour_doc(hour, rollup.hours.get(hour, empty_counters()), rollup.bins_of(hour))
        new |= marks
        if doc is None:
            if not counted:
                return events
            new["rev"] = 1
            try:
                db[HOURLY].insert_one(new)
                return events
            except DuplicateKeyError:
                continue
        new["rev"] = int(doc.get("rev", 0)) + 1
        if db[HOURLY].replace_one({"_id": hour, "rev": doc.get("rev", 0)}, new).matched_count:
            return events
    raise RollupConflict(f"hour {hour} kept changing while it was rebuilt")


def repair(db: Db, batch_id: str) -> bool:
    """Make the summaries of a journalled batch exact from its raw events; False if unknown."""
    entry = db[PENDING].find_one({"_id": batch_id})
    if entry is None:
        return False
    mine: list[dict[str, Any]] = []
    for hour in entry.get("hours") or []:
        mine += [e for e in rebuild_hour(db, hour, {batch_id}) if e.get("batch") == batch_id]
    apply_sessions(db, Rollup.of(mine))
    settle(db, batch_id)
    return True


def repair_stale(db: Db, older_than_s: float = STALE_SECONDS) -> int:
    """Repair journal entries older than ``older_than_s`` (crashed or given-up flushes)."""
    cutoff = now_ms() - int(older_than_s * 1000)
    done = 0
    for entry in list(db[PENDING].find({"at": {"$lt": cutoff}}, {"_id": 1})):
        done += repair(db, entry["_id"])
    return done


def is_built(db: Db) -> bool:
    """Whether the summaries cover every event (else the dashboard reads raw events)."""
    return db[META].find_one({"_id": BUILT}) is not None


def rebuild_all(db: Db) -> dict[str, int]:
    """Rebuild every hour and session summary from raw events (upgrades, or after drift).

    Safe while writers run (see ``rebuild_hour``); marks the summaries as built at the end.
    """
    hours = {int(d["_id"]) for d in db[HOURLY].find({}, {"_id": 1})}
    for row in db[EVENTS].aggregate([{"$group": {"_id": "$bucket.hour"}}]):
        if row["_id"]:  # an hour's label (UTC), e.g. 2025-03-03T09:00
            at = datetime.strptime(row["_id"], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
            hours.add(int(at.timestamp() * 1000))
    events = 0
    day: list[dict[str, Any]] = []
    for n, hour in enumerate(sorted(hours)):
        day += rebuild_hour(db, hour)
        if n % 24 == 23:
            events += len(day)
            apply_sessions(db, Rollup.of(day))
            day = []
    events += len(day)
    apply_sessions(db, Rollup.of(day))
    db[META].update_one({"_id": BUILT}, {"$set": {"built_at": now_ms()}}, upsert=True)
    return {"hours": len(hours), "events": events}
