"""Live handoff events over real HTTP (uvicorn on loopback): the customer's stream gets the
agent's reply, typing and state changes; agents get queue changes and customer messages;
``Last-Event-ID`` resumes without loss; with Redis, two API processes share one event flow."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from loaders.stack import Services
from tests.auth_fixtures import TestUser, make_user
from tests.kb_fixtures import make_services
from tests.live_server import EventReader, serve

pytestmark = pytest.mark.integration
SECRET = "handoff-events-" + "e" * 48


@pytest.fixture(scope="module")
def svc(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("events"), mongo.uri, jwt_secret_key=SECRET)
    services.worker.stop()
    yield services
    services.close()


def app_for(svc: Services) -> Any:
    app = create_app(svc.settings, svc)
    app.state.sse_heartbeat = 0.5
    return app


def start_handoff(base: str, customer: TestUser) -> str:
    r = httpx.post(f"{base}/api/v1/chat/sessions/initialize", json={}, headers=customer.headers)
    sid = str(r.json()["data"]["session_id"])
    r = httpx.post(f"{base}/api/v1/chat/sessions/{sid}/handoff", json={}, headers=customer.headers)
    assert r.status_code == 200, r.text
    return sid


def test_agent_reply_reaches_the_customer_live(svc: Services) -> None:
    customer, agent = make_user(svc), make_user(svc, "support_agent")
    with serve(app_for(svc)) as base:
        agents = EventReader(f"{base}/api/v1/agent/events", agent.headers)
        sid = start_handoff(base, customer)
        queued = agents.next("queue")
        assert queued["data"]["session_id"] == sid
        assert queued["data"]["handoff"]["state"] == "waiting"

        events = EventReader(f"{base}/api/v1/chat/sessions/{sid}/events", customer.headers)
        r = httpx.post(f"{base}/api/v1/agent/sessions/{sid}/claim", headers=agent.headers)
        assert r.status_code == 200
        claimed = events.next("handoff")
        assert claimed["data"]["handoff"]["state"] == "with_agent"
        assert claimed["data"]["handoff"]["assigned_agent"]["user_id"] == agent.user_id

        httpx.post(f"{base}/api/v1/agent/sessions/{sid}/typing", headers=agent.headers)
        assert events.next("typing")["data"]["who"] == "agent"
        r = httpx.post(
            f"{base}/api/v1/agent/sessions/{sid}/messages",
            json={"message": "Hello, I'm here to help."},
            headers=agent.headers,
        )
        assert r.status_code == 201
        message = events.next("message")
        assert message["data"]["content"] == "Hello, I'm here to help."
        assert message["data"]["role"] == "agent" and message["data"]["agent_name"]

        # The customer's message reaches the agents' stream; the bot does not answer it.
        assert agents.next("message")["data"]["role"] == "agent"  # the reply, seen by agents
        seen = len(agents.events)
        r = httpx.post(
            f"{base}/api/v1/chat/sessions/{sid}/messages",
            json={"message": "Thanks! My order is 1234."},
            headers=customer.headers,
        )
        assert r.json()["data"]["bot_response"] is None
        relayed = agents.next("message", start=seen)
        assert relayed["data"]["content"] == "Thanks! My order is 1234."
        assert relayed["data"]["role"] == "user"

        # Notes go to agents only: the customer's stream never carries them.
        httpx.post(
            f"{base}/api/v1/agent/sessions/{sid}/notes", json={"note": "x"}, headers=agent.headers
        )
        agents.next("note")
        assert all(e.get("event") != "note" for e in events.events)

        # Resume: what was sent while the customer was away arrives after reconnecting.
        last = message["id"]
        events.close()
        httpx.post(
            f"{base}/api/v1/agent/sessions/{sid}/messages",
            json={"message": "Are you still there?"},
            headers=agent.headers,
        )
        resumed = EventReader(
            f"{base}/api/v1/chat/sessions/{sid}/events",
            customer.headers | {"Last-Event-ID": last},
        )
        missed = resumed.next("message")
        assert missed["data"]["content"] == "Are you still there?"
        assert all(e["id"] != last for e in resumed.events)  # nothing twice
        resumed.close()
        agents.close()


def test_streams_are_owner_and_staff_only(svc: Services) -> None:
    customer, stranger = make_user(svc), make_user(svc)
    with serve(app_for(svc)) as base:
        sid = start_handoff(base, customer)
        r = httpx.get(f"{base}/api/v1/chat/sessions/{sid}/events", headers=stranger.headers)
        assert r.status_code == 404
        r = httpx.get(f"{base}/api/v1/agent/events", headers=customer.headers)
        assert r.status_code == 403
        r = httpx.get(f"{base}/api/v1/chat/sessions/{sid}/events")
        assert r.status_code == 401


def test_two_processes_share_events_through_redis(
    mongo: Any, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Agent on one API process, customer on another: the reply crosses through Redis."""
    shared = {"jwt_secret_key": SECRET, "redis_url": redis_url, "mongodb_name": "two_procs"}
    one = make_services(tmp_path_factory.mktemp("p1"), mongo.uri, **shared)
    two = make_services(tmp_path_factory.mktemp("p2"), mongo.uri, **shared)
    for s in (one, two):
        s.worker.stop()
    try:
        customer, agent = make_user(one), make_user(one, "support_agent")
        with serve(app_for(one)) as base_one, serve(app_for(two)) as base_two:
            sid = start_handoff(base_one, customer)
            events = EventReader(f"{base_two}/api/v1/chat/sessions/{sid}/events", customer.headers)
            httpx.post(f"{base_one}/api/v1/agent/sessions/{sid}/claim", headers=agent.headers)
            httpx.post(
                f"{base_one}/api/v1/agent/sessions/{sid}/messages",
                json={"message": "From process one"},
                headers=agent.headers,
            )
            assert events.next("message")["data"]["content"] == "From process one"
            # Presence is shared too: the agent reading the queue on one is online on two.
            httpx.get(f"{base_one}/api/v1/agent/queue", headers=agent.headers)
            r = httpx.get(f"{base_two}/api/v1/agent/agents", headers=agent.headers)
            mine = next(a for a in r.json()["data"]["agents"] if a["user_id"] == agent.user_id)
            assert mine["online"] is True
            events.close()
    finally:
        one.close()
        two.close()


def test_a_stream_started_from_the_handoff_cursor_misses_nothing(svc: Services) -> None:
    """A claim between the handoff response and the stream's first connection still arrives."""
    customer, agent = make_user(svc), make_user(svc, "support_agent")
    with serve(app_for(svc)) as base:
        r = httpx.post(f"{base}/api/v1/chat/sessions/initialize", json={}, headers=customer.headers)
        sid = r.json()["data"]["session_id"]
        r = httpx.post(
            f"{base}/api/v1/chat/sessions/{sid}/handoff", json={}, headers=customer.headers
        )
        cursor = r.json()["data"]["last_event_id"]
        httpx.post(f"{base}/api/v1/agent/sessions/{sid}/claim", headers=agent.headers)
        events = EventReader(
            f"{base}/api/v1/chat/sessions/{sid}/events",
            customer.headers | {"Last-Event-ID": cursor},
        )
        states = [events.next("handoff")["data"]["handoff"]["state"]]
        if states[0] == "waiting":  # the request's own event may repeat first
            states.append(events.next("handoff", start=1)["data"]["handoff"]["state"])
        assert states[-1] == "with_agent"
        events.close()


def test_a_stream_dropped_while_waiting_for_its_turn_frees_the_session(svc: Services) -> None:
    """A client that goes away mid-stream must not leave the session lock taken."""
    customer = make_user(svc)
    app = app_for(svc)
    with serve(app) as base:
        r = httpx.post(f"{base}/api/v1/chat/sessions/initialize", json={}, headers=customer.headers)
        sid = r.json()["data"]["session_id"]
        chat = app.state.chat
        chat.locks.acquire(sid)  # another turn of this session is running

        def dropped_stream() -> None:
            with contextlib.suppress(httpx.HTTPError), httpx.stream(
                "POST", f"{base}/api/v1/chat/sessions/{sid}/messages",
                json={"message": "hello"},
                headers=customer.headers | {"Accept": "text/event-stream"}, timeout=1.0,
            ) as response:  # fmt: skip
                for _ in response.iter_bytes():
                    pass

        dropped_stream()  # times out and closes while its turn waits for the lock
        time.sleep(0.5)
        chat.locks.release(sid)
        deadline = time.monotonic() + 30
        while len(chat.locks) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(chat.locks) == 0  # the dropped stream released what it took
        r = httpx.post(
            f"{base}/api/v1/chat/sessions/{sid}/messages",
            json={"message": "still there?"}, headers=customer.headers, timeout=30,
        )  # fmt: skip
        assert r.status_code == 200 and r.json()["data"]["bot_response"] is not None


def test_a_langserve_message_on_a_held_session_reaches_the_agents(svc: Services) -> None:
    customer, agent = make_user(svc), make_user(svc, "support_agent")
    with serve(app_for(svc)) as base:
        sid = start_handoff(base, customer)
        httpx.post(f"{base}/api/v1/agent/sessions/{sid}/claim", headers=agent.headers)
        agents = EventReader(f"{base}/api/v1/agent/events", agent.headers)
        r = httpx.post(
            f"{base}/chat/invoke",
            json={"input": {"question": "Hello from the playground"},
                  "config": {"configurable": {"session_id": sid}}},
            headers=customer.headers, timeout=60,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        relayed = agents.next("message")
        assert relayed["data"]["content"] == "Hello from the playground"
        assert relayed["data"]["session_id"] == sid and relayed["data"]["role"] == "user"
        agents.close()
