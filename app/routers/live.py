"""Server-sent events from the live-event bus: framing, heartbeats and ``Last-Event-ID``.

Each frame carries the bus's event id, so a client that reconnects (EventSource does by
itself, resending ``Last-Event-ID``) gets what it missed and nothing twice. A ``: ping``
comment every ``heartbeat`` seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from app.envelope import jsonable
from chains.handoff.bus import Event, EventBus

HEARTBEAT_SECONDS = 15.0
_EVENT_ID = re.compile(r"^\d{1,16}-\d{1,10}$")
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def last_event_id(request: Request) -> str | None:
    """The id to resume after (header first, then ``?last_event_id=``); junk is ignored."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    value = (raw or "").strip()
    return value if _EVENT_ID.fullmatch(value) else None


def frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(jsonable(event.data))}\n\n"


def event_stream(
    request: Request,
    bus: EventBus,
    channel: str,
    *,
    keep: Callable[[Event], bool] = lambda _: True,
    on_beat: Callable[[], None] | None = None,
) -> StreamingResponse:
    """A streaming response that follows ``channel`` until the client goes away."""
    heartbeat = float(getattr(request.app.state, "sse_heartbeat", HEARTBEAT_SECONDS))
    after = last_event_id(request)

    async def frames() -> AsyncIterator[str]:
        yield ": connected\n\n"  # headers and a first byte now: the client knows it is live
        beat = time.monotonic()
        async for event in bus.follow(channel, after, heartbeat):
            if await request.is_disconnected():
                return
            if on_beat is not None and time.monotonic() - beat >= heartbeat:
                on_beat()  # on a clock, not only when idle: a busy stream's agent is online too
                beat = time.monotonic()
            if event is None:
                yield ": ping\n\n"
            elif keep(event):
                yield frame(event)

    return StreamingResponse(frames(), media_type="text/event-stream", headers=HEADERS)
