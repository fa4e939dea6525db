"""Analytics dashboard query time with 1M events on embedded nx-27017 (issue 4, section 9).

``python -m app.bench.dashboard [--events 1000000]``: writes ``analytics_events`` and their
hourly summaries on an on-disk nx-27017 through the writer's production path, with a realistic
mix (sessions of 1-7 turns over 90 days: message + retrieval per turn, some feedback,
escalations, violations and errors), then times the dashboard from the summaries (30 days by
day, 7 days by hour, 90 days by week, and 30 days from an instant that is not on the hour) and
the unanswered report in process (the route adds only the envelope). Baseline from the same run:
the raw-event computation the dashboard used before, which must give the same payload.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from chains.analytics.dashboard import dashboard
from chains.analytics.events import COLLECTION, make_event, normalize_question, rt_bin
from chains.analytics.periods import Period
from chains.analytics.raw_dashboard import dashboard as raw_dashboard
from chains.analytics.summaries import HOURLY, SESSION_HOURS, SESSIONS, rebuild_all
from chains.analytics.unanswered import unanswered_questions
from chains.analytics.writer import AnalyticsWriter
from loaders.bench.common import percentiles
from loaders.mongo import INDEXES, EmbeddedMongo, connect, ensure_indexes

SPAN_DAYS = 90
END = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000
SUMMARY_COLLECTIONS = (HOURLY, SESSIONS, SESSION_HOURS)


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


def fill(writer: AnalyticsWriter, docs: Iterator[dict[str, Any]], n: int) -> float:
    """Write ``n`` events from ``docs`` with their summaries, through the production path
    (``AnalyticsWriter.write_batch``: journal, insert, summaries); returns seconds."""
    start = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for _ in range(n):
        batch.append(next(docs))
        if len(batch) == BATCH:
            if not writer.write_batch(batch):
                raise RuntimeError("the benchmark could not write a batch")
            batch = []
    if batch and not writer.write_batch(batch):
        raise RuntimeError("the benchmark could not write a batch")
    return time.perf_counter() - start


def periods() -> dict[str, Period]:
    def last(days: int, grain: str, end: datetime = END) -> Period:
        return Period(end - timedelta(days=days), end, grain)  # type: ignore[arg-type]

    return {
        "dashboard 30 d by day": last(30, "day"),
        "dashboard 7 d by hour": last(7, "hour"),
        "dashboard 90 d by week": last(90, "week"),
        # "the last 30 days" asked at 10:27:12: partial hours at both edges are read raw
        "dashboard 30 d by day, unaligned": last(30, "day", END - timedelta(seconds=48_768)),
    }


def time_fn(fn: Callable[[], Any], repeats: int, warm: bool = True) -> dict[str, float]:
    if warm:
        fn()  # warm the server's caches, as a dashboard that is open would
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def run(n: int = 1_000_000, repeats: int = 20, baseline_repeats: int = 2) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp:
        server = EmbeddedMongo(Path(tmp) / "m.db").start()
        try:
            client = connect(server.uri, timeout_ms=60_000)
            db = client["bench"]
            ensure_indexes(db)
            writer = AnalyticsWriter(db[COLLECTION])
            seconds = fill(writer, events(n), n)
            start = time.perf_counter()
            rebuilt = rebuild_all(db)  # what an upgrade does; also marks the summaries built
            rebuild_s = time.perf_counter() - start
            new, old, equal = {}, {}, {}
            for name, period in periods().items():
                new[name] = time_fn(partial(dashboard, db, period), repeats)
                old[name] = time_fn(partial(raw_dashboard, db, period), baseline_repeats, False)
                equal[name] = dashboard(db, period) == raw_dashboard(db, period)
            month = periods()["dashboard 30 d by day"]
            unanswered = time_fn(lambda: unanswered_questions(db, month, 20), repeats)
            figures = dashboard(db, month)
            sizes = {c: db[c].estimated_document_count() for c in SUMMARY_COLLECTIONS}
            client.close()
        finally:
            server.stop()
    return {
        "events": n,
        "span_days": SPAN_DAYS,
        "indexes": len(INDEXES[COLLECTION]),
        "insert_seconds": round(seconds, 1),
        "insert_per_s": round(n / seconds),
        "rebuild_seconds": round(rebuild_s, 1),
        "rebuilt_hours": rebuilt["hours"],
        "summary_docs": sizes,
        "summaries": new,
        "raw_baseline": old,
        "equal": equal,
        "unanswered": unanswered,
        "month_metrics": figures["metrics"] | figures["performance"],
        "repeats": repeats,
        "baseline_repeats": baseline_repeats,
    }


def to_markdown(r: dict[str, Any]) -> str:
    if "summaries" not in r:  # a report saved before the summaries existed
        return ""
    rows = []
    for name, new in r["summaries"].items():
        old = r["raw_baseline"][name]
        same = "yes" if r["equal"][name] else "**no**"
        rows.append(
            f"| {name} | **{new['p50']} / {new['p95']}** | {old['p50']} / {old['p95']} | "
            f"{round(old['p50'] / max(new['p50'], 0.001))}x | {same} |"
        )
    u, m = r["unanswered"], r["month_metrics"]
    sizes = ", ".join(f"`{k}` {v:,}" for k, v in r["summary_docs"].items())
    return f"""## Analytics dashboard with {r["events"]:,} events (nx-27017)

`analytics_events` on embedded nx-27017 (SQLite file), {r["span_days"]} days of sessions (1-7
turns each: message + retrieval events, feedback, escalations, violations, errors) and the
{r["indexes"]} indexes of `loaders/mongo.py`, written with their hourly summaries through the
writer's production path (`write_batch`, batches of {BATCH:,}): {r["insert_seconds"]} s
({r["insert_per_s"]:,} events/s). Summary documents: {sizes}. Rebuilding every summary from raw
events (`supportbot analytics rebuild`, {r["rebuilt_hours"]:,} hours) took
{r["rebuild_seconds"]} s. Queries in process, p50 / p95 (ms): from the summaries over
{r["repeats"]} runs after one warm-up; baseline from the same run: the raw-event queries
(`chains/analytics/raw_dashboard.py`, what the dashboard ran before) over
{r["baseline_repeats"]} runs. "equal": both payloads compared whole. Seed target for API calls:
p95 < 200 ms.

| query | summaries | raw events (baseline) | speed-up | equal |
|---|---|---|---|---|
{chr(10).join(rows)}

Unanswered report (raw events, 30 d, top 20): {u["p50"]} / {u["p95"]} ms. The 30-day dashboard
covered {m["total_sessions"]:,} sessions and {m["total_messages"]:,} turns (p95 response time
{m["p95_response_time_ms"]} ms, error rate {m["error_rate"]}).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--baseline-repeats", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    result = run(args.events, args.repeats, args.baseline_repeats)
    print(to_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
