"""Handoff analytics end to end: conversations built through the real REST routes (request,
claim, reply, transfer, release, cancel, end with feedback, thumbs), then the exact figures
from ``GET /api/v1/analytics/handoff``, the dashboard's ``handoff`` section and ``/metrics``.
Real nx-27017, the real app.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from chains.analytics.dashboard import dashboard
from chains.analytics.periods import Period
from chains.analytics.raw_dashboard import dashboard as raw_dashboard
from chains.analytics.summaries import is_built, rebuild_all
from chains.handoff.state import aware
from chains.sessions import SESSIONS
from loaders.stack import Services
from tests.auth_fixtures import TestUser, make_user
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration
SECRET = "handoff-analytics-" + "k" * 48


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("ha"), mongo.uri, jwt_secret_key=SECRET)
    services.worker.stop()
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc.settings, svc)) as c:
        yield c


class World:
    """The people and the sessions the module's conversations were built with."""

    def __init__(self, client: TestClient, svc: Services) -> None:
        self.c = client
        self.since = datetime.now(UTC) - timedelta(seconds=1)
        self.customer = make_user(svc, "user")
        self.a, self.b = make_user(svc, "support_agent"), make_user(svc, "support_agent")
        self.admin = make_user(svc, "admin")
        self.sids: dict[str, str] = {}

    def post(self, path: str, who: TestUser, body: Any = None, code: int = 200) -> Any:
        r = self.c.post(path, json=body, headers=who.headers)
        assert r.status_code == code, r.text
        return r.json()["data"]

    def start(self, name: str) -> str:
        sid = self.post("/api/v1/chat/sessions/initialize", self.customer, {})["session_id"]
        self.sids[name] = sid
        return str(sid)

    def ask(self, sid: str) -> None:
        for agent in (self.a, self.b):  # both have the inbox open: nobody is offline
            assert self.c.get("/api/v1/agent/queue", headers=agent.headers).status_code == 200
        data = self.post(f"/api/v1/chat/sessions/{sid}/handoff", self.customer, {"reason": "x"})
        assert data["handoff"]["state"] == "waiting" and not data["handoff"]["offline"]

    def agent(self, sid: str, who: TestUser, move: str, body: Any = None, code: int = 200) -> Any:
        return self.post(f"/api/v1/agent/sessions/{sid}/{move}", who, body, code)

    def end(self, sid: str, rating: int | None = None, resolved: bool | None = None) -> None:
        fb = {k: v for k, v in (("rating", rating), ("resolved", resolved)) if v is not None}
        self.post(f"/api/v1/chat/sessions/{sid}/end", self.customer, {"feedback": fb or None})


@pytest.fixture(scope="module")
def world(client: TestClient, svc: Services) -> World:
    w = World(client, svc)
    # Bot only.
    w.end(w.start("bot_good"), rating=5, resolved=True)  # deflected
    sid = w.start("bot_thumbs_down")
    w.post("/chat/feedback", w.customer, {"session_id": sid, "score": 1}, code=201)
    w.end(sid, rating=4)  # a good rating, but an answer was rated down: not deflected
    w.start("bot_open")  # still active: not closed
    w.end(w.start("bot_unresolved"), rating=3, resolved=False)  # "not resolved": negative
    # With a person.
    sid = w.start("resolved_a")
    w.ask(sid)
    w.agent(sid, w.a, "claim")
    w.agent(sid, w.a, "messages", {"message": "Hi, looking now."}, code=201)
    w.agent(sid, w.a, "release", {"outcome": "resolved"})
    w.end(sid, rating=5)
    sid = w.start("back_a")
    w.ask(sid)
    w.agent(sid, w.a, "claim")
    w.agent(sid, w.a, "messages", {"message": "The bot can take this."}, code=201)
    w.agent(sid, w.a, "release", {"outcome": "back_to_bot"})
    w.end(sid, rating=2)
    sid = w.start("transfer_b")
    w.ask(sid)
    w.agent(sid, w.a, "claim")
    w.agent(sid, w.a, "transfer", {"agent_id": w.b.user_id})
    w.agent(sid, w.b, "messages", {"message": "Billing here."}, code=201)
    w.agent(sid, w.b, "release", {"outcome": "resolved"})
    w.end(sid, rating=3)
    sid = w.start("held_b")
    w.ask(sid)
    w.agent(sid, w.b, "claim")  # held, no reply yet, still active
    # Nobody came.
    sid = w.start("cancelled")
    w.ask(sid)
    w.post(f"/api/v1/chat/sessions/{sid}/handoff/cancel", w.customer)
    w.end(sid, rating=4)  # the bot took over again: deflected
    sid = w.start("left_waiting")
    w.ask(sid)
    w.end(sid)  # left the queue unanswered: closed, not deflected
    w.ask(w.start("waiting"))  # still queued
    assert client.app.state.analytics.flush(10)  # type: ignore[attr-defined]
    return w


def report(w: World, who: TestUser | None = None, **params: str) -> Any:
    params.setdefault("start_date", w.since.isoformat())
    r = w.c.get("/api/v1/analytics/handoff", params=params, headers=(who or w.admin).headers)
    return r


def test_handoff_report_exact_figures(svc: Services, world: World) -> None:
    r = report(world)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["truncated"] is False
    assert (d["sessions"], d["handoff_sessions"]) == (11, 7)
    assert d["handoff_rate"] == round(7 / 11, 4)
    # Closed: every ended session (8); deflected: bot_good and cancelled.
    assert d["bot_resolution"] == {"closed_sessions": 8, "deflected": 2, "rate": 0.25}

    replied = [world.sids[n] for n in ("resolved_a", "back_a", "transfer_b")]
    waits = sorted(_wait(svc, sid) for sid in replied)
    first = d["first_human_reply"]
    assert first["count"] == 3 and all(w >= 0 for w in waits)
    assert (first["p50_seconds"], first["p95_seconds"]) == (waits[1], waits[2])
    assert first["mean_seconds"] == round(sum(waits) / 3, 3)

    a, b = world.a.user_id, world.b.user_id
    rows = {row.pop("agent_id"): row for row in d["by_agent"]}
    assert list(rows) == sorted([a, b])  # equally busy: by id
    assert {k: v for k, v in rows[a].items() if k != "name"} == {
        "handled": 2, "resolved": 1, "back_to_bot": 1, "open": 0,
        "resolution_rate": 0.5, "rated": 2, "csat_avg": 3.5,
    }  # fmt: skip
    assert {k: v for k, v in rows[b].items() if k != "name"} == {
        "handled": 2, "resolved": 1, "back_to_bot": 0, "open": 1,  # the transfer counts for B
        "resolution_rate": 0.5, "rated": 1, "csat_avg": 3.0,
    }  # fmt: skip
    assert rows[a]["name"] and rows[b]["name"]

    assert d["csat_by_outcome"] == {
        "bot_only": {"sessions": 4, "rated": 3, "csat_avg": 4.0},
        "resolved": {"sessions": 2, "rated": 2, "csat_avg": 4.0},
        "back_to_bot": {"sessions": 1, "rated": 1, "csat_avg": 2.0},
        "cancelled": {"sessions": 1, "rated": 1, "csat_avg": 4.0},
        "waiting": {"sessions": 2, "rated": 0, "csat_avg": None},
        "with_agent": {"sessions": 1, "rated": 0, "csat_avg": None},
    }


def _wait(svc: Services, sid: str) -> float:
    """Request to first reply as stored on the session (nx-27017 keeps a ``$set`` date as text)."""
    doc = svc.db[SESSIONS].find_one({"session_id": sid}) or {}
    record = doc["metadata"]["handoff"]
    return round(
        (aware(record["first_reply_at"]) - aware(record["requested_at"])).total_seconds(), 3
    )


def test_period_excludes_other_sessions_and_validates(world: World) -> None:
    empty = report(world, start_date="2020-01-01", end_date="2020-01-02").json()["data"]
    assert empty["sessions"] == 0 and empty["handoff_rate"] is None
    assert empty["bot_resolution"]["rate"] is None and empty["by_agent"] == []
    assert empty["first_human_reply"]["p95_seconds"] is None
    for params, code in (
        ({"start_date": "yesterday"}, "INVALID_DATE"),
        ({"start_date": "2025-03-05", "end_date": "2025-03-01"}, "INVALID_RANGE"),
        ({"start_date": "2020-01-01", "end_date": "2025-03-01"}, "RANGE_TOO_LARGE"),
    ):
        r = report(world, None, **params)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text


def test_roles(world: World) -> None:
    assert report(world, world.a).status_code == 200  # support agents see it too
    assert report(world, world.customer).status_code == 403
    assert world.c.get("/api/v1/analytics/handoff").status_code == 401


def test_dashboard_handoff_section(svc: Services, world: World) -> None:
    r = world.c.get(
        "/api/v1/analytics/dashboard",
        params={"start_date": world.since.isoformat(), "granularity": "hour"},
        headers=world.admin.headers,
    )
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["metrics"]["total_sessions"] == 11  # the existing fields are still there
    mean = report(world).json()["data"]["first_human_reply"]["mean_seconds"]
    h = d["handoff"]
    assert (h["requests"], h["handoff_rate"], h["first_replies"]) == (7, round(7 / 11, 4), 3)
    assert h["avg_first_reply_seconds"] == pytest.approx(mean, abs=0.06)
    # From the hourly summaries (whole hours) and from raw events: the same section.
    rebuild_all(svc.db)
    assert is_built(svc.db)
    hour = world.since.replace(minute=0, second=0, microsecond=0)
    for period in (
        Period(hour - timedelta(hours=1), hour + timedelta(hours=3)),
        Period(world.since, datetime.now(UTC)),
    ):
        assert dashboard(svc.db, period)["handoff"] == raw_dashboard(svc.db, period)["handoff"]
        assert dashboard(svc.db, period)["handoff"]["requests"] == 7


def metric(text: str, name: str, **labels: str) -> float:
    """The one sample ``name{labels}`` (labels matched exactly)."""
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")) if m else None
        if m and m.group(1) == name and got == labels:
            return float(m.group(3))
    raise AssertionError(f"no sample {name}{labels}")


def test_metrics(world: World) -> None:
    r = world.c.get("/metrics", headers=world.admin.headers)
    assert r.status_code == 200
    t = r.text
    assert metric(t, "supportbot_handoff_requests_total", offline="false") == 7
    assert metric(t, "supportbot_handoff_requests_total", offline="true") == 0
    assert metric(t, "supportbot_handoff_claims_total") == 4
    assert metric(t, "supportbot_handoff_transfers_total") == 1
    assert metric(t, "supportbot_handoff_releases_total", outcome="resolved") == 2
    assert metric(t, "supportbot_handoff_releases_total", outcome="back_to_bot") == 1
    assert metric(t, "supportbot_handoff_first_reply_seconds_count") == 3
    mean = report(world).json()["data"]["first_human_reply"]["mean_seconds"]
    total = metric(t, "supportbot_handoff_first_reply_seconds_sum")
    assert total == pytest.approx(3 * mean, abs=0.01)
    assert metric(t, "supportbot_handoffs_waiting") == 1  # "left_waiting" ended: not queued
    assert metric(t, "supportbot_handoffs_with_agent") == 1
    assert metric(t, "supportbot_agents_online") == 2
