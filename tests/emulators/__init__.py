"""In-process emulators of cloud APIs the tests cannot reach, each at the HTTP boundary.

This module holds the shared plumbing: JSON endpoints on free loopback ports, each served from a
daemon thread, and a log of every request so a test can assert what the real SDK sent.
A service module (``pinecone``...) subclasses ``JsonApiEmulator`` and implements ``answer``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Query = dict[str, list[str]]


class ApiError(Exception):
    """An error answer: HTTP status plus the JSON body the real service sends."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status, self.body = status, body


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it; ``listener`` names the port (None: the main one)."""

    method: str
    path: str
    listener: str | None
    body: Any
    query: Query
    headers: dict[str, str]
    size: int


class _Listener(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: JsonApiEmulator, name: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.emulator, self.name = emulator, name
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SDK connection pools expect
    server: _Listener

    def recorded(self) -> RecordedRequest:
        """The request as tests see it: JSON body when it parses, else text."""
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = raw.decode(errors="replace")
        return RecordedRequest(
            self.command, unquote(url.path), self.server.name, body,
            parse_qs(url.query, keep_blank_values=True), dict(self.headers.items()), len(raw),
        )  # fmt: skip

    def do_GET(self) -> None:
        status, payload = self.server.emulator.dispatch(self.recorded())
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``JsonApiEmulator.requests`` instead."""


class JsonApiEmulator:
    """Context manager serving ``answer`` on a main port (``url``) and on named extra ports.

    Requests are answered one at a time under a lock, so ``answer`` needs no locking of its own.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._listeners: dict[str | None, _Listener] = {}

    def __enter__(self) -> Any:
        self._listeners[None] = _Listener(self, None)
        return self

    def __exit__(self, *exc: object) -> None:
        for listener in self._listeners.values():
            listener.stop()
        self._listeners.clear()

    @property
    def url(self) -> str:
        assert None in self._listeners, "use the emulator as a context manager"
        return self._listeners[None].url

    def listen(self, name: str) -> str:
        """Open another port whose requests carry ``listener=name``; returns its URL."""
        self._listeners[name] = _Listener(self, name)
        return self._listeners[name].url

    def close(self, name: str) -> None:
        self._listeners.pop(name).stop()

    def listener_url(self, name: str) -> str:
        return self._listeners[name].url

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def dispatch(self, request: RecordedRequest) -> tuple[int, Any]:
        with self._lock:
            self._requests.append(request)
            try:
                return self.answer(request)
            except ApiError as exc:
                return exc.status, exc.body

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        """(HTTP status, JSON payload or None) for one request; raise ``ApiError`` to refuse."""
        raise NotImplementedError
