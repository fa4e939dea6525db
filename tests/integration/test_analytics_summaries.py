"""The dashboard from hourly summaries equals the dashboard from raw events (real nx-27017):
random periods with partial edge hours, a rebuild of events written before summaries existed,
and flushes that fail half-way or crash (the journal keeps the figures exact and repairable).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import AutoReconnect

from app import cli
from chains.analytics import writer as writer_module
from chains.analytics.dashboard import dashboard
from chains.analytics.events import COLLECTION, make_event, rt_bin
from chains.analytics.periods import Period
from chains.analytics.raw_dashboard import dashboard as raw_dashboard
from chains.analytics.rollup import HOUR_MS, Rollup
from chains.analytics.summaries import (
    HOURLY,
    PENDING,
    apply_hours,
    is_built,
    journal,
    rebuild_all,
    rebuild_hour,
    repair_stale,
)
from chains.analytics.writer import AnalyticsWriter
from loaders.mongo import ensure_indexes
from loaders.settings import get_settings

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 3, tzinfo=UTC)
Db = Database[dict[str, Any]]


def random_events(rng: random.Random, sessions: int) -> list[dict[str, Any]]:
    """Sessions over 3 days with turns minutes to hours apart (many cross hours and days),
    feedback before, after or far from the turns, and some inconsistent elapsed times."""
    docs = []

    def ev(kind: Any, sid: str | None, at: datetime, **data: Any) -> None:
        docs.append(make_event(kind, session_id=sid, user_id="u", data=data, metadata={}, at=at))

    for s in range(sessions):
        sid = f"s{s}"
        at = start = T0 + timedelta(seconds=rng.uniform(0, 3 * 86400))
        ev("session_start", sid, at)
        for _ in range(rng.randint(0, 6)):
            at += timedelta(seconds=rng.choice([30, 300, 1800, 5000, 20000]))
            rt = float(int(rng.lognormvariate(5, 1)))  # whole ms: float sums are exact
            data: dict[str, Any] = {"response_time_ms": rt, "rt_bin": rt_bin(rt)}
            data["unanswered"] = rng.randint(0, 1)
            if rng.random() < 0.9:
                consistent = rng.random() < 0.8
                elapsed = (at - start).total_seconds() if consistent else rng.uniform(0, 9000)
                data["session_elapsed_s"] = elapsed
            ev("message", sid, at, **data)
            if rng.random() < 0.8:
                ev("retrieval", sid, at, relevant=rng.randint(0, 1))
            if rng.random() < 0.1:
                ev("escalation", sid, at, reason="low_confidence")
        if rng.random() < 0.4:
            fb: dict[str, Any] = {}
            if rng.random() < 0.7:
                fb["rating"] = float(rng.randint(1, 5))
            if rng.random() < 0.7:
                fb["resolved"] = rng.random() < 0.6
            ev("feedback", sid, at + timedelta(seconds=rng.choice([5, 4000, -90000])), **fb)
        if rng.random() < 0.05:
            ev("error", None, at, status=500)
    rng.shuffle(docs)
    return docs


def random_periods(rng: random.Random, n: int) -> list[Period]:
    out: list[Period] = []
    while len(out) < n:
        start = T0 + timedelta(seconds=rng.uniform(-3600, 3 * 86400))
        if rng.random() < 0.3:
            start = start.replace(minute=0, second=0, microsecond=0)
        span = rng.choice([rng.uniform(1, 7200), rng.uniform(3600, 4 * 86400)])
        out.append(Period(start, start + timedelta(seconds=span), rng.choice(GRAINS)))
    return out


GRAINS: list[Any] = ["hour", "day", "week", "month"]
WHOLE = Period(T0 - timedelta(days=2), T0 + timedelta(days=5), "day")


def write(db: Db, docs: list[dict[str, Any]], batch: int = 150) -> AnalyticsWriter:
    w = AnalyticsWriter(db[COLLECTION], retries=1, backoff_seconds=0)
    for i in range(0, len(docs), batch):
        assert w.write_batch(docs[i : i + batch])
    return w


def hour_docs(db: Db) -> dict[int, dict[str, Any]]:
    """Summary documents without their bookkeeping (revision, writer marks)."""
    return {
        d["_id"]: {k: v for k, v in d.items() if k != "rev" and not k.startswith("w_")}
        for d in db[HOURLY].find()
    }


def assert_same(db: Db, periods: list[Period]) -> None:
    for p in periods:
        assert dashboard(db, p) == raw_dashboard(db, p), p


@pytest.fixture()
def db(mongo_db: Db) -> Db:
    ensure_indexes(mongo_db)
    return mongo_db


def test_summaries_equal_raw_events_on_random_periods(db: Db) -> None:
    rng = random.Random(11)
    write(db, random_events(rng, 500))
    rebuild_all(db)  # nothing to change: marks the summaries built
    assert is_built(db) and db[PENDING].count_documents({}) == 0
    periods = random_periods(rng, 60)
    edge = T0 + timedelta(hours=5, minutes=17, seconds=3)
    periods += [Period(edge, edge + timedelta(days=1, minutes=5), g) for g in GRAINS]
    periods += [WHOLE, Period(edge, edge + timedelta(minutes=20), "hour")]
    assert_same(db, periods)
    whole = dashboard(db, WHOLE)
    assert whole["metrics"]["total_messages"] > 500 and whole["metrics"]["resolution_rate"] < 1


def test_rebuild_covers_events_written_before_summaries(db: Db) -> None:
    rng = random.Random(5)
    docs = random_events(rng, 200)
    db[COLLECTION].insert_many(docs)  # an upgrade: events without summaries
    assert not is_built(db)
    before = dashboard(db, WHOLE)  # the raw computation answers until the rebuild
    assert before == raw_dashboard(db, WHOLE) and before["metrics"]["total_messages"] > 0
    assert db[HOURLY].count_documents({}) == 0
    done = rebuild_all(db)
    assert done["events"] == len(docs) and is_built(db)
    assert db[HOURLY].count_documents({}) > 24
    built = hour_docs(db)
    write(db, random_events(random.Random(6), 100))  # live writes on top of the rebuild
    assert_same(db, [WHOLE, *random_periods(rng, 15)])
    rebuild_all(db)
    again = hour_docs(db)
    assert all(again[h]["messages"] >= built[h]["messages"] for h in built)
    assert_same(db, [WHOLE])


def test_a_failed_summary_update_is_repaired_at_once(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(8)
    write(db, random_events(rng, 100))
    rebuild_all(db)
    calls = {"n": 0}
    real = writer_module.apply_sessions

    def flaky(target: Db, rollup: Rollup) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # hours were already incremented: the failure is half-way
            raise AutoReconnect("connection lost")
        real(target, rollup)

    monkeypatch.setattr(writer_module, "apply_sessions", flaky)
    w = write(db, random_events(random.Random(9), 60), batch=10_000)
    assert calls["n"] == 1 and w.written > 0 and w.failed == 0  # repaired, not retried
    assert db[PENDING].count_documents({}) == 0
    assert_same(db, [WHOLE, *random_periods(rng, 15)])
    summaries = hour_docs(db)
    rebuild_all(db)
    assert hour_docs(db) == summaries  # nothing counted twice, nothing missing


def test_a_crashed_flush_stays_exact_and_is_repaired(db: Db) -> None:
    """Journal written, events inserted, hours half applied, then the process died."""
    rng = random.Random(21)
    write(db, random_events(rng, 100))
    rebuild_all(db)
    docs = [dict(d, batch="crashed") for d in random_events(random.Random(22), 80)]
    rollup = Rollup.of(docs)
    journal(db, "crashed", "w_dead", 1, rollup)
    db[COLLECTION].insert_many(docs)
    half = Rollup(hours=dict(list(rollup.hours.items())[: len(rollup.hours) // 2]))
    half.bins = {h: rollup.bins_of(h) for h in half.hours}
    apply_hours(db, "w_dead", 1, half)
    apply_hours(db, "w_dead", 1, half)  # a retry of the same batch does not count twice
    periods = [WHOLE, *random_periods(rng, 20)]
    assert_same(db, periods)  # journalled hours are read raw meanwhile
    assert repair_stale(db, older_than_s=3600) == 0  # too recent: maybe still in flight
    assert repair_stale(db, older_than_s=0) == 1
    assert db[PENDING].count_documents({}) == 0
    assert_same(db, periods)
    summaries = hour_docs(db)
    rebuild_all(db)
    assert hour_docs(db) == summaries


def test_rebuilding_an_hour_during_a_flush_never_counts_twice(db: Db) -> None:
    hour = int(T0.timestamp() * 1000) + 5 * HOUR_MS
    at = T0 + timedelta(hours=5, minutes=1)

    def batch(bid: str, n: int) -> list[dict[str, Any]]:
        data = {"response_time_ms": 100.0, "rt_bin": rt_bin(100.0)}
        evs = [make_event("message", session_id=bid, user_id=None, data=data, metadata={}, at=at)]
        return [dict(e, batch=bid) for e in evs * n]

    def messages() -> int:
        return int((db[HOURLY].find_one({"_id": hour}) or {}).get("messages", 0))

    for bid, seq in (("b1", 1), ("b2", 2)):
        docs = [dict(d, event_id=f"{bid}-{i}") for i, d in enumerate(batch(bid, 3))]
        rollup = Rollup.of(docs)
        journal(db, bid, "w_live", seq, rollup)
        db[COLLECTION].insert_many(docs)
        if bid == "b1":
            apply_hours(db, "w_live", seq, rollup)  # applied, not yet settled
        rebuild_hour(db, hour)  # b1 counted (its mark is there), b2 not yet applied: left out
        assert messages() == 3
        if bid == "b2":
            apply_hours(db, "w_live", seq, rollup)
    assert messages() == 6


def test_rebuild_command(
    db: Db, mongo: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = random_events(random.Random(3), 40)
    db[COLLECTION].insert_many(docs)
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    monkeypatch.setenv("MONGODB_NAME", db.name)
    get_settings.cache_clear()
    try:
        assert cli.main(["analytics", "rebuild"]) == 0
    finally:
        get_settings.cache_clear()
    assert f"from {len(docs)} events" in capsys.readouterr().out
    assert is_built(db)
    assert_same(db, [WHOLE])
