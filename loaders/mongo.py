"""MongoDB access: one pymongo client per process, the embedded nx-27017 server, and indexes.

When ``MONGODB_URI`` is unset the service starts ``nx-27017`` (MongoDB wire protocol on SQLite)
on a free loopback port with its data under ``data_dir``. Production points ``MONGODB_URI`` at a
real MongoDB; the code talks to both through pymongo only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from loaders.errors import ServiceUnavailable


def free_port() -> int:
    """A free TCP port on loopback (racy by nature; callers retry on bind failure)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedMongo:
    """An ``nx-27017`` child process on loopback; ``db_path`` of ``"memory"`` keeps nothing."""

    def __init__(self, db_path: Path | str, *, port: int | None = None) -> None:
        self.db_path = str(db_path)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def _command(self) -> list[str]:
        exe = shutil.which("nx-27017") or str(Path(sys.executable).with_name("nx-27017"))
        if not Path(exe).exists():
            # Fall back to the module: works inside any venv that has the package.
            return [sys.executable, "-m", "nx_27017.nx_27017"]
        return [exe]

    def start(self, timeout: float = 20.0) -> EmbeddedMongo:
        if self.db_path != "memory":
            Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"nx-27017-{self.port}.log"
        pid = Path(os.environ.get("TMPDIR", "/tmp")) / f"nx-27017-{self.port}.pid"
        cmd = [*self._command(), "--db", self.db_path, "-p", str(self.port)]
        cmd += ["--host", "127.0.0.1", "--log-file", str(log), "--pid-file", str(pid)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceUnavailable(
                    f"Embedded MongoDB (nx-27017) exited with code {self.proc.returncode}; "
                    f"see {log}."
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        raise ServiceUnavailable("Embedded MongoDB (nx-27017) did not start in time.")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


def connect(uri: str, *, timeout_ms: int = 3000) -> MongoClient[dict[str, Any]]:
    """A client that fails fast (3 s) so an outage becomes a 503, not a hung request."""
    return MongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        tz_aware=True,
    )


# Collections and their indexes, from the seed plan.
INDEXES: dict[str, list[tuple[list[tuple[str, str | int]], dict[str, Any]]]] = {
    "knowledge_base_documents": [
        ([("document_id", ASCENDING)], {"unique": True}),
        ([("document_type", ASCENDING), ("category", ASCENDING)], {}),
        ([("tags", ASCENDING)], {}),
        ([("metadata.status", ASCENDING), ("updated_at", DESCENDING)], {}),
        ([("source.content_hash", ASCENDING)], {}),
    ],
    "knowledge_base_chunks": [
        ([("chunk_id", ASCENDING)], {"unique": True}),
        ([("document_id", ASCENDING), ("chunk_index", ASCENDING)], {}),
        ([("embedding.vector_id", ASCENDING)], {}),
    ],
    "ingestion_jobs": [
        ([("job_id", ASCENDING)], {"unique": True}),
        ([("status", ASCENDING), ("created_at", ASCENDING)], {}),
        ([("document_id", ASCENDING)], {}),
    ],
    "analytics_events": [
        ([("event_id", ASCENDING)], {"unique": True}),
        ([("event_type", ASCENDING), ("timestamp", DESCENDING)], {}),
        ([("session_id", ASCENDING), ("timestamp", ASCENDING)], {}),
        ([("user_id", ASCENDING), ("timestamp", DESCENDING)], {}),
        ([("timestamp", DESCENDING)], {}),
        # The dashboard's: periods are matched on ``ts`` (epoch ms), see chains/analytics.
        ([("event_type", ASCENDING), ("ts", ASCENDING)], {}),
        ([("event_type", ASCENDING), ("data.rt_bin", ASCENDING), ("ts", ASCENDING)], {}),
        ([("event_type", ASCENDING), ("data.unanswered", ASCENDING), ("ts", ASCENDING)], {}),
        ([("ts", ASCENDING)], {}),  # raw reads of an hour (edges of a period, rebuilds)
    ],
    # The dashboard's summaries of those events (chains/analytics/summaries.py).
    # Compound where a query has two ranges: nx-27017 then answers from the index alone.
    "analytics_sessions": [
        ([("first", ASCENDING)], {}),
        ([("last", ASCENDING), ("first", ASCENDING)], {}),
        ([("bf", ASCENDING)], {}),
        ([("bl", ASCENDING), ("bf", ASCENDING)], {}),
    ],
    "analytics_session_hours": [([("s", ASCENDING)], {})],
}

# The seed's full-text index; nx-27017 has no text indexes, so it is best-effort there.
TEXT_INDEXES: dict[str, list[tuple[str, str | int]]] = {
    "knowledge_base_documents": [("title", "text"), ("content.processed", "text")],
}


def ensure_indexes(db: Database[dict[str, Any]]) -> None:
    """Create the seed's indexes once at start-up (idempotent)."""
    try:
        for name, specs in INDEXES.items():
            for keys, opts in specs:
                db[name].create_index(keys, **opts)
        for name, keys in TEXT_INDEXES.items():
            with contextlib.suppress(PyMongoError):
                db[name].create_index(keys)
    except PyMongoError as exc:
        raise ServiceUnavailable(f"MongoDB is unreachable: {exc}") from exc
