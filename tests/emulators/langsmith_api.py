"""A local stand-in for LangSmith's ingest API: records what the real langsmith client sends.

LangSmith cannot be reached from here, so tracing is tested at its HTTP boundary: the real
``langsmith.Client`` batches and posts runs, this server keeps the raw bodies.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)  # method, path, body
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> str:
        """Everything posted so far, decoded as text for assertions."""
        with self.lock:
            return "\n".join(body.decode("utf-8", "replace") for _, _, body in self.requests)


@contextmanager
def langsmith_server() -> Iterator[tuple[str, Recorded]]:
    """Serve on a free loopback port; yields the base URL and what was recorded."""
    recorded = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def _body(self) -> bytes:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            encoding = self.headers.get("content-encoding", "")
            if encoding == "gzip":
                return gzip.decompress(raw)
            return raw

        def _reply(self, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with recorded.lock:
                recorded.requests.append(("GET", self.path, b""))
            self._reply(
                {"version": "stub", "batch_ingest_config": {}} if "info" in self.path else {}
            )

        def do_POST(self) -> None:
            body = self._body()
            with recorded.lock:
                recorded.requests.append(("POST", self.path, body))
            self._reply({})

        do_PATCH = do_POST

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorded
    finally:
        server.shutdown()
        server.server_close()
