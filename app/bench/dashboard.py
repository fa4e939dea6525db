"""Analytics dashboard query time with 1M events on embedded nx-27017 (issue 4, section 9).

``python -m app.bench.dashboard [--events 1000000]``: fills ``analytics_events`` on an on-disk
nx-27017 with a realistic mix (sessions of 1-7 turns over 90 days: message + retrieval per turn,
some feedback, escalations, violations and errors) with ``insert_many`` batches and the
service's indexes, then times the dashboard (30 days by day, 7 days by hour, 90 days by week)
and the unanswered report in process (the route adds only the envelope). Baselines from the same
run: the same queries at 100k events, and at full size without the dashboard's ``ts`` indexes.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chains.analytics.dashboard import dashboard
from chains.analytics.events import COLLECTION, make_event, normalize_question, rt_bin
from chains.analytics.periods import Period
from chains.analytics.unanswered import unanswered_questions
from loaders.bench.common import percentiles
from loaders.mongo import INDEXES, EmbeddedMongo, connect, ensure_indexes

SPAN_DAYS = 90
END = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000


def events(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``n`` events of plausible sessions, in no particular time order."""
    rng = random.Random(seed)
    questions = [f"how do i configure feature {i}" for i in range(300)]
    made = s = 0
    while made < n:
        s += 1
        sid, uid = f"s{s}", f"u{rng.randrange(20_000)}"
        at = END - timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        batch: list[tuple[str, datetime, dict[str, Any]]] = [("session_start", at, {})]
        for turn in range(1, rng.randint(1, 7) + 1):
            at += timedelta(seconds=rng.uniform(20, 120))
            rt = rng.lognormvariate(4.5, 0.6)
            outcome = rng.choices(["answered", "no_answer", "refused"], [0.82, 0.15, 0.03])[0]
            q = questions[min(int(rng.paretovariate(1.2)) - 1, len(questions) - 1)]
            data: dict[str, Any] = {
                "response_time_ms": round(rt, 2),
                "rt_bin": rt_bin(rt),
                "outcome": outcome,
                "escalated": 0,
                "unanswered": int(outcome == "no_answer"),
                "question": q,
                "question_key": normalize_question(q),
                "turn": turn,
                "session_elapsed_s": (at - batch[0][1]).total_seconds(),
            }
            batch.append(("message", at, data))
            if outcome != "refused":
                batch.append(("retrieval", at, {"relevant": int(outcome == "answered")}))
        for kind, p, data in (
            ("feedback", 0.5, {"rating": rng.randint(1, 5), "resolved": rng.random() < 0.85}),
            ("escalation", 0.1, {"reason": "low_confidence"}),
            ("guardrail_violation", 0.05, {"code": "PII_EMAIL"}),
            ("error", 0.02, {"status": 500, "source": "http"}),
        ):
            if rng.random() < p:
                batch.append((kind, at + timedelta(seconds=5), data))
        for kind, when, data in batch[: n - made]:
            yield make_event(kind, session_id=sid, user_id=uid, data=data, metadata={}, at=when)  # type: ignore[arg-type]
        made += min(len(batch), n - made)


def fill(col: Any, docs: Iterator[dict[str, Any]], n: int) -> float:
    """Insert ``n`` events from ``docs``; returns seconds."""
    start = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for _ in range(n):
        batch.append(next(docs))
        if len(batch) == BATCH:
            col.insert_many(batch, ordered=False)
            batch = []
    if batch:
        col.insert_many(batch, ordered=False)
    return time.perf_counter() - start


def queries(db: Any) -> dict[str, Callable[[], Any]]:
    def period(days: int, grain: str) -> Period:
        return Period(END - timedelta(days=days), END, grain)  # type: ignore[arg-type]

    return {
        "dashboard 30 d by day": lambda: dashboard(db, period(30, "day")),
        "dashboard 7 d by hour": lambda: dashboard(db, period(7, "hour")),
        "dashboard 90 d by week": lambda: dashboard(db, period(90, "week")),
        "unanswered 30 d, top 20": lambda: unanswered_questions(db, period(30, "day"), 20),
    }


def time_queries(db: Any, repeats: int, only: set[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, fn in queries(db).items():
        if only and name not in only:
            continue
        fn()  # warm the server's caches, as a dashboard that is open would
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        out[name] = percentiles(samples)
    return out


def drop_ts_indexes(col: Any) -> list[str]:
    """Drop the dashboard's own indexes (the seed's stay) for the no-index baseline."""
    dropped = []
    for info in col.list_indexes():
        if "ts" in dict(info["key"]):
            col.drop_index(info["name"])
            dropped.append(info["name"])
    return dropped


def run(
    n: int = 1_000_000, baseline_n: int = 100_000, repeats: int = 5, storage: str = "disk"
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp:
        server = EmbeddedMongo("memory" if storage == "memory" else Path(tmp) / "m.db").start()
        try:
            client = connect(server.uri, timeout_ms=60_000)
            db = client["bench"]
            ensure_indexes(db)
            col = db[COLLECTION]
            docs = events(n)
            first = fill(col, docs, baseline_n)
            small = time_queries(db, repeats)
            rest = fill(col, docs, n - baseline_n)
            full = time_queries(db, repeats)
            dropped = drop_ts_indexes(col)
            bare = time_queries(db, max(2, repeats // 2), {"dashboard 30 d by day"})
            month = dashboard(db, Period(END - timedelta(days=30), END, "day"))
            client.close()
        finally:
            server.stop()
    return {
        "events": n,
        "baseline_events": baseline_n,
        "span_days": SPAN_DAYS,
        "indexes": len(INDEXES[COLLECTION]),
        "insert_seconds": round(first + rest, 1),
        "insert_per_s": round(n / (first + rest)),
        "at_baseline": small,
        "at_full": full,
        "without_ts_indexes": bare,
        "dropped_indexes": dropped,
        "month_metrics": month["metrics"] | month["performance"],
        "repeats": repeats,
        "storage": "SQLite file" if storage != "memory" else "in memory",
    }


def to_markdown(r: dict[str, Any]) -> str:
    rows = []
    for name, full in r["at_full"].items():
        small = r["at_baseline"][name]
        bare = r["without_ts_indexes"].get(name)
        bare_cell = f"{bare['p50']} / {bare['p95']}" if bare else "-"
        rows.append(
            f"| {name} | {small['p50']} / {small['p95']} | **{full['p50']} / {full['p95']}** | "
            f"{bare_cell} |"
        )
    m = r["month_metrics"]
    return f"""## Analytics dashboard with {r["events"]:,} events (nx-27017)

`analytics_events` on embedded nx-27017 ({r["storage"]}), {r["span_days"]} days of sessions
(1-7 turns each: message + retrieval events, feedback, escalations, violations, errors) and the
{r["indexes"]} indexes of `loaders/mongo.py`. Insert with `insert_many` batches of {BATCH:,}:
{r["insert_seconds"]} s ({r["insert_per_s"]:,} events/s). Queries in process, p50 / p95 (ms) of
{r["repeats"]} runs after one warm-up; baselines from the same run: the same
queries at {r["baseline_events"]:,} events, and at full size without the dashboard's `ts`
indexes. Seed target for API calls: p95 < 200 ms.

| query | {r["baseline_events"]:,} events | {r["events"]:,} events | \
{r["events"]:,}, no `ts` indexes |
|---|---|---|---|
{chr(10).join(rows)}

The 30-day dashboard covered {m["total_sessions"]:,} sessions and {m["total_messages"]:,} turns
(p95 response time {m["p95_response_time_ms"]} ms, error rate {m["error_rate"]}).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--storage", choices=["disk", "memory"], default="disk")
    parser.add_argument("--json")
    args = parser.parse_args()
    result = run(args.events, args.baseline, args.repeats, args.storage)
    print(to_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
