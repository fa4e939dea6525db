"""An app served by uvicorn on a free loopback port, in a thread: for SSE clients and browsers
(``TestClient`` buffers a response, so it cannot follow an endless event stream)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from app.bench.common import serve_in_thread

serve = serve_in_thread  # one helper for benchmarks and tests


class EventReader:
    """Reads one SSE stream in a thread; ``next(type)`` waits for the next event of a type."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()
        assert self.connected.wait(30), "the event stream did not open"

    def _run(self, url: str, headers: dict[str, str]) -> None:
        import json

        with httpx.stream("GET", url, headers=headers, timeout=None) as response:
            assert response.status_code == 200, response.read()
            self.status = response.status_code
            current: dict[str, Any] = {}
            for line in response.iter_lines():
                if self._stop:
                    return
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("id: "):
                    current["id"] = line[4:]
                elif line.startswith("event: "):
                    current["event"] = line[7:]
                elif line.startswith("data: "):
                    current["data"] = json.loads(line[6:])
                elif line == "" and current:
                    with self._cond:
                        self.events.append(current | {"at": time.monotonic()})
                        self._cond.notify_all()
                    current = {}

    def next(self, event: str, timeout: float = 30.0, start: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self.events[start:]:
                    if item.get("event") == event:
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {event!r} event within {timeout} s: {self.events}")
                self._cond.wait(left)

    def close(self) -> None:
        self._stop = True
