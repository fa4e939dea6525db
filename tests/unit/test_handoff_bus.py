"""The in-process event bus: ordered delivery across threads, resume after an id, heartbeats."""

from __future__ import annotations

import asyncio
import threading

from chains.handoff.bus import LocalBus


async def take(bus: LocalBus, channel: str, after: str | None, n: int) -> list[str]:
    seen: list[str] = []
    async for event in bus.follow(channel, after, heartbeat=0.05):
        if event is not None:
            seen.append(str(event.data["n"]))
        if len(seen) == n:
            return seen
    return seen


def test_events_published_from_another_thread_arrive_in_order() -> None:
    bus = LocalBus()

    async def run() -> list[str]:
        task = asyncio.create_task(take(bus, "session:1", None, 3))
        await asyncio.sleep(0.05)
        worker = threading.Thread(
            target=lambda: [bus.publish("session:1", "message", {"n": i}) for i in range(3)]
        )
        worker.start()
        worker.join()
        return await asyncio.wait_for(task, 2)

    assert asyncio.run(run()) == ["0", "1", "2"]


def test_resume_after_an_id_skips_what_was_seen() -> None:
    bus = LocalBus()
    ids = [bus.publish("c", "message", {"n": i}) for i in range(4)]
    bus.publish("other", "message", {"n": 99})  # channels are separate
    assert asyncio.run(asyncio.wait_for(take(bus, "c", ids[1], 2), 2)) == ["2", "3"]
    assert len(set(ids)) == 4 and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))


def test_idle_streams_get_heartbeats() -> None:
    bus = LocalBus()

    async def beats() -> int:
        count = 0
        async for event in bus.follow("quiet", None, heartbeat=0.02):
            assert event is None
            count += 1
            if count == 3:
                return count
        return count

    assert asyncio.run(asyncio.wait_for(beats(), 2)) == 3


def test_presence_expires() -> None:
    bus = LocalBus()
    bus.touch("agent-1")
    assert bus.online() == {"agent-1"}
    bus._presence["agent-1"] -= 3600  # long ago
    assert bus.online() == set()


def test_a_cursor_read_before_an_event_sees_it() -> None:
    """The cursor a client gets with a payload, then the event, then the stream: not lost."""
    bus = LocalBus()
    empty = bus.cursor("fresh")
    bus.publish("fresh", "message", {"n": 1})
    assert asyncio.run(asyncio.wait_for(take(bus, "fresh", empty, 1), 2)) == ["1"]
    later = bus.cursor("fresh")
    bus.publish("fresh", "message", {"n": 2})
    assert asyncio.run(asyncio.wait_for(take(bus, "fresh", later, 1), 2)) == ["2"]


def test_last_event_id_is_checked_whole() -> None:
    from starlette.requests import Request

    from app.routers.live import last_event_id

    def req(value: str) -> Request:
        return Request({"type": "http", "headers": [(b"last-event-id", value.encode())],
                        "query_string": b""})  # fmt: skip

    assert last_event_id(req("12-3")) == "12-3"
    assert last_event_id(req(" 12-3 ")) == "12-3"  # stripped before it reaches Redis
    assert last_event_id(req("12-3\n")) == "12-3"
    assert last_event_id(req("12-3 x")) is None
    assert last_event_id(req("$")) is None
