"""A stateful local stand-in for LangSmith's datasets, experiments, runs and feedback API.

LangSmith cannot be reached from here, so ``eval run --langsmith`` is tested at its HTTP
boundary: the real ``langsmith`` SDK (``Client`` + ``evaluate``) talks to this server, which
keeps datasets, examples, projects (experiments), runs and feedback in memory. Only the routes
and payload shapes that SDK 0.15 uses in that flow are served; anything else answers 404 and
is listed in ``unknown`` so a test can tell the SDK took a path the emulator does not know.
"""

from __future__ import annotations

import email.parser
import email.policy
import gzip
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TENANT_ID = "00000000-0000-4000-8000-000000000001"
Row = dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class LangSmithState:
    """What the SDK stored, plus knobs a test turns to make the server fail."""

    api_key: str = "lsv2-emulator-key"
    datasets: dict[str, Row] = field(default_factory=dict)
    examples: dict[str, Row] = field(default_factory=dict)
    projects: dict[str, Row] = field(default_factory=dict)
    runs: dict[str, Row] = field(default_factory=dict)
    feedback: list[Row] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # method, path
    unknown: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[tuple[str, str], int] = field(default_factory=dict)  # (method, path re) -> status
    lock: threading.RLock = field(default_factory=threading.RLock)

    def dataset(self, name: str) -> Row | None:
        return next((d for d in self.datasets.values() if d["name"] == name), None)

    def examples_of(self, dataset_id: str) -> list[Row]:
        return [e for e in self.examples.values() if e["dataset_id"] == dataset_id]

    def experiments_on(self, dataset_id: str) -> list[Row]:
        return [p for p in self.projects.values() if p.get("reference_dataset_id") == dataset_id]

    def runs_in(self, project_id: str) -> list[Row]:
        return [r for r in self.runs.values() if r.get("session_id") == project_id]

    def feedback_on(self, run_id: str) -> list[Row]:
        return [f for f in self.feedback if f.get("run_id") == run_id]

    # -- writes, called by the handler under ``lock`` -------------------------------------

    def create_dataset(self, body: Row) -> tuple[int, object]:
        if self.dataset(body["name"]):
            return 409, {"detail": "Dataset with this name already exists."}
        row = {
            "id": str(uuid.uuid4()),
            "name": body["name"],
            "description": body.get("description"),
            "data_type": body.get("data_type", "kv"),
            "created_at": _now(),
            "modified_at": _now(),
            "metadata": (body.get("extra") or {}).get("metadata"),
        }
        self.datasets[row["id"]] = row
        return 200, self.dataset_view(row)

    def dataset_view(self, row: Row) -> Row:
        return {**row, "example_count": len(self.examples_of(row["id"]))}

    def add_examples(self, bodies: list[Row]) -> tuple[int, object]:
        for body in bodies:
            if body["dataset_id"] not in self.datasets:
                return 404, {"detail": "Dataset not found"}
        rows = []
        for body in bodies:
            row = {
                "id": body.get("id") or str(uuid.uuid4()),
                "dataset_id": body["dataset_id"],
                "inputs": body.get("inputs"),
                "outputs": body.get("outputs"),
                "metadata": body.get("metadata"),
                "created_at": body.get("created_at") or _now(),
                "modified_at": _now(),
            }
            self.examples[row["id"]] = row
            rows.append(row)
        return 200, rows

    def create_project(self, body: Row) -> tuple[int, object]:
        if any(p["name"] == body["name"] for p in self.projects.values()):
            return 409, {"detail": "Project with this name already exists."}
        row = {
            "id": body.get("id") or str(uuid.uuid4()),
            "name": body["name"],
            "description": body.get("description"),
            "extra": body.get("extra"),
            "reference_dataset_id": body.get("reference_dataset_id"),
            "start_time": _now(),
            "tenant_id": TENANT_ID,
        }
        self.projects[row["id"]] = row
        return 200, row

    def upsert_run(self, run_id: str, fields: Row) -> None:
        run = self.runs.setdefault(run_id, {"id": run_id})
        run.update({k: v for k, v in fields.items() if v is not None})
        if run.get("session_name") and not run.get("session_id"):
            run["session_id"] = self._project_named(run["session_name"])["id"]

    def _project_named(self, name: str) -> Row:
        """Runs address their project by name; LangSmith creates it on first use."""
        found = next((p for p in self.projects.values() if p["name"] == name), None)
        return found or self.create_project({"name": name})[1]  # type: ignore[return-value]

    def add_feedback(self, body: Row) -> None:
        self.feedback.append(body)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, object]


def _multipart_parts(content_type: str, body: bytes) -> Iterator[tuple[str, Any]]:
    """(part name, decoded JSON) for each part of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        yield str(name), json.loads(payload) if isinstance(payload, bytes) and payload else None


def ingest_multipart(state: LangSmithState, req: Request, match: re.Match[str]) -> Reply:
    """``/runs/multipart``: parts ``post.<id>``, ``patch.<id>``, ``<op>.<id>.<field>`` and
    ``feedback.<id>``; a run's inputs/outputs/extra arrive as separate parts."""
    for name, value in _multipart_parts(req.content_type, req.body):
        kind, _, rest = name.partition(".")
        run_id, _, part = rest.partition(".")
        if kind == "feedback":
            state.add_feedback(value)
        elif kind in ("post", "patch"):
            state.upsert_run(run_id, {part: value} if part else value)
    return 202, {}


def _info(state: LangSmithState, req: Request, _: re.Match[str]) -> Reply:
    flags = {"zstd_compression_enabled": True}  # as LangSmith: runs arrive zstd-compressed
    return 200, {"version": "0.10.0", "batch_ingest_config": {}, "instance_flags": flags}


def _list_datasets(state: LangSmithState, req: Request, _: re.Match[str]) -> Reply:
    name = req.query.get("name")
    rows = [d for d in state.datasets.values() if name in (None, d["name"])]
    return 200, [state.dataset_view(d) for d in rows]


def _read_dataset(state: LangSmithState, req: Request, m: re.Match[str]) -> Reply:
    row = state.datasets.get(m[1])
    return (200, state.dataset_view(row)) if row else (404, {"detail": "Dataset not found"})


def _list_examples(state: LangSmithState, req: Request, _: re.Match[str]) -> Reply:
    rows = state.examples_of(req.query["dataset"]) if "dataset" in req.query else []
    offset, limit = int(req.query.get("offset", 0)), int(req.query.get("limit", 100))
    return 200, rows[offset : offset + limit]


def _list_projects(state: LangSmithState, req: Request, _: re.Match[str]) -> Reply:
    name = req.query.get("name")
    rows = [p for p in state.projects.values() if name in (None, p["name"])]
    return 200, rows[: int(req.query.get("limit", 100))]


def _project(state: LangSmithState, req: Request, m: re.Match[str]) -> Reply:
    project = state.projects.get(m[1])
    if project is None:
        return 404, {"detail": "Project not found"}
    if req.method == "PATCH":
        project.update({k: v for k, v in req.json().items() if v is not None})
    return 200, project


def _batch_runs(state: LangSmithState, req: Request, _: re.Match[str]) -> Reply:
    batch = req.json()
    for run in [*batch.get("post", []), *batch.get("patch", [])]:
        state.upsert_run(run["id"], run)
    return 202, {}


def _post_run(state: LangSmithState, req: Request, _: re.Match[str]) -> Reply:
    run = req.json()
    state.upsert_run(run["id"], run)
    return 202, {}


def _patch_run(state: LangSmithState, req: Request, m: re.Match[str]) -> Reply:
    state.upsert_run(m[1], req.json())
    return 202, {}


def _feedback(state: LangSmithState, req: Request, _: re.Match[str]) -> Reply:
    state.add_feedback(req.json())
    return 200, {}


Route = Callable[[LangSmithState, Request, re.Match[str]], Reply]
ROUTES: list[tuple[str, str, Route]] = [
    ("GET", "/info", _info),
    ("GET", "/datasets", _list_datasets),
    ("POST", "/datasets", lambda s, r, _: s.create_dataset(r.json())),
    ("GET", "/datasets/([^/]+)", _read_dataset),
    ("GET", "/examples", _list_examples),
    ("POST", "/examples/bulk", lambda s, r, _: s.add_examples(r.json())),
    ("GET", "/sessions", _list_projects),
    ("POST", "/sessions", lambda s, r, _: s.create_project(r.json())),
    ("GET|PATCH", "/sessions/([^/]+)", _project),
    ("POST", "/runs/multipart", ingest_multipart),
    ("POST", "/runs/batch", _batch_runs),
    ("POST", "/runs", _post_run),
    ("PATCH", "/runs/([^/]+)", _patch_run),
    ("POST", "/feedback", _feedback),
]


def serve(state: LangSmithState, req: Request, api_key: str | None) -> Reply:
    """Answer one request: 401 for a wrong key, a failure a test asked for, else the route."""
    with state.lock:
        state.requests.append((req.method, req.path))
        if api_key != state.api_key:
            return 401, {"detail": "Invalid token"}
        for (method, pattern), status in state.fail.items():
            if method == req.method and re.fullmatch(pattern, req.path):
                return status, {"detail": f"emulated failure {status}"}
        return _route(state, req)


def _route(state: LangSmithState, req: Request) -> Reply:
    for methods, pattern, handler in ROUTES:
        match = re.fullmatch(pattern, req.path.rstrip("/"))
        if match and req.method in methods.split("|"):
            return handler(state, req, match)
    state.unknown.append((req.method, req.path))
    return 404, {"detail": f"emulator: no route {req.method} {req.path}"}


@contextmanager
def langsmith_datasets_server(
    state: LangSmithState | None = None,
) -> Iterator[tuple[str, LangSmithState]]:
    """Serve on a free loopback port; yields the base URL (the SDK's ``api_url``) and state."""
    store = state or LangSmithState()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                raw = b""
                while size := int(self.rfile.readline().strip() or b"0", 16):
                    raw += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
            else:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            encoding = self.headers.get("content-encoding", "")
            if encoding == "zstd":  # what the SDK sends once /info enables compression
                import zstandard

                return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(raw))
            return gzip.decompress(raw) if encoding == "gzip" else raw

        def _handle(self) -> None:
            url = urlsplit(self.path)
            req = Request(
                method=self.command,
                path=re.sub(r"^/api/v1(?=/)", "", url.path),
                query={k: v[-1] for k, v in parse_qs(url.query).items()},
                body=self._body(),
                content_type=self.headers.get("content-type", ""),
            )
            status, payload = serve(store, req, self.headers.get("x-api-key"))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
        server.server_close()
