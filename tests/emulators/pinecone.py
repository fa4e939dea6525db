"""Pinecone REST emulator: control plane and serverless data plane, in memory, on loopback.

The real ``pinecone`` SDK (and langchain-pinecone on top of it) talks to this over HTTP, so only
the network is replaced. It keeps the serverless limits our code must live with: no delete and no
stats by metadata filter, metadata restricted to strings, numbers, booleans and lists of strings
(numbers come back as floats), 40 KB of metadata per vector, and 404 when deleting from a
namespace that does not exist. Each index gets its own port (its "host"), as with Pinecone
Local; the control plane is on ``url``.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.emulators import ApiError, JsonApiEmulator, Query, RecordedRequest

METADATA_LIMIT_BYTES = 40960
REQUEST_LIMIT_BYTES = 2 * 1024 * 1024
DELETE_BY_FILTER_MESSAGE = (
    "Serverless and Starter indexes do not support deleting with metadata filtering."
)
STATS_BY_FILTER_MESSAGE = (
    "Serverless and Starter indexes do not support describing index stats with metadata filtering."
)
_METRICS = ("cosine", "dotproduct", "euclidean")
_RANGE: dict[str, Callable[[float, float], bool]] = {
    "$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le,
}  # fmt: skip
_MISSING = object()


def invalid(message: str, *, status: int = 400, code: int = 3) -> ApiError:
    """A data-plane error: gRPC-style ``code`` (3 INVALID_ARGUMENT, 5 NOT_FOUND)."""
    return ApiError(status, {"code": code, "message": message, "details": []})


def control_error(status: int, code: str, message: str) -> ApiError:
    """A control-plane error, shaped like the real one."""
    return ApiError(status, {"error": {"code": code, "message": message}, "status": status})


@dataclass
class EmulatedIndex:
    """A serverless index: ``namespaces`` maps namespace -> id -> (values, metadata)."""

    name: str
    dimension: int
    metric: str = "cosine"
    cloud: str = "aws"
    region: str = "us-east-1"
    namespaces: dict[str, dict[str, tuple[list[float], dict[str, Any]]]] = field(
        default_factory=dict
    )

    def model(self, host: str) -> dict[str, Any]:
        return {
            "name": self.name, "dimension": self.dimension, "metric": self.metric,
            "host": host, "vector_type": "dense", "deletion_protection": "disabled",
            "spec": {"serverless": {"cloud": self.cloud, "region": self.region}},
            "status": {"ready": True, "state": "Ready"},
        }  # fmt: skip


# --- metadata and filters ---------------------------------------------------------------


def check_metadata(md: Any) -> dict[str, Any]:
    """Pinecone's metadata rules; numbers are stored (and returned) as floats."""
    if md is None:
        return {}
    if not isinstance(md, dict):
        raise invalid("Metadata must be a JSON object.")
    out: dict[str, Any] = {}
    for key, value in md.items():
        if isinstance(value, bool | str):
            out[key] = value
        elif isinstance(value, int | float) and math.isfinite(value):
            out[key] = float(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        else:
            raise invalid(
                "Metadata value must be a string, number, boolean or list of strings, "
                f"got '{json.dumps(value)}' for field '{key}'",
            )
    size = len(json.dumps(md).encode())
    if size > METADATA_LIMIT_BYTES:
        raise invalid(
            f"Metadata size is {size} bytes, which exceeds the limit of "
            f"{METADATA_LIMIT_BYTES} bytes per vector",
        )
    return out


def check_filter(flt: Any) -> None:
    """Reject malformed filters up front, as Pinecone does, even when nothing would match."""
    if not isinstance(flt, dict):
        raise invalid("Invalid filter: a filter must be a JSON object.")
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise invalid(f"Invalid filter: {key} needs a non-empty array.")
            for sub in cond:
                check_filter(sub)
        elif key.startswith("$"):
            raise invalid(f"Invalid filter: unknown operator {key}.")
        else:
            for op, arg in cond.items() if isinstance(cond, dict) else [("$eq", cond)]:
                _check_operand(key, op, arg)


def _check_operand(key: str, op: str, arg: Any) -> None:
    scalar = isinstance(arg, str | int | float)
    ok = {
        "$eq": scalar,
        "$ne": scalar,
        "$exists": isinstance(arg, bool),
        "$in": isinstance(arg, list) and all(isinstance(a, str | int | float) for a in arg),
    }
    ok["$nin"] = ok["$in"]
    if op in _RANGE:
        ok[op] = isinstance(arg, int | float) and not isinstance(arg, bool)
    if op not in ok:
        raise invalid(f"Invalid filter: unknown operator {op} on field '{key}'.")
    if not ok[op]:
        raise invalid(f"Invalid filter: bad operand for {op} on field '{key}'.")


def matches_filter(md: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Pinecone semantics: list metadata matches ``$eq``/``$in`` when any element does."""
    for key, cond in flt.items():
        if key == "$and":
            ok = all(matches_filter(md, sub) for sub in cond)
        elif key == "$or":
            ok = any(matches_filter(md, sub) for sub in cond)
        else:
            ops = cond.items() if isinstance(cond, dict) else [("$eq", cond)]
            ok = all(_compare(md.get(key, _MISSING), op, arg) for op, arg in ops)
        if not ok:
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _compare(value: Any, op: str, arg: Any) -> bool:
    present = value is not _MISSING
    items = value if isinstance(value, list) else [value] if present else []
    if op == "$exists":
        return bool(present == arg)
    if op in ("$eq", "$ne"):
        return any(_same(v, arg) for v in items) == (op == "$eq")
    if op in ("$in", "$nin"):
        return any(_same(v, a) for v in items for a in arg) == (op == "$in")
    if not present or isinstance(value, bool | str | list):
        return False
    return _RANGE[op](value, arg)


# --- data plane ---------------------------------------------------------------------------


def _check_values(ix: EmulatedIndex, values: Any) -> list[float]:
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise invalid("Vector values must be an array of numbers.")
    if len(values) != ix.dimension:
        raise invalid(
            f"Vector dimension {len(values)} does not match the dimension "
            f"of the index {ix.dimension}",
        )
    if ix.metric == "cosine" and not any(values):
        raise invalid("Dense vectors must contain at least one non-zero value.")
    return [float(v) for v in values]


def _score(metric: str, q: list[float], v: list[float]) -> float:
    if metric == "euclidean":
        return sum((a - b) ** 2 for a, b in zip(q, v, strict=True))
    dot = sum(a * b for a, b in zip(q, v, strict=True))
    if metric == "dotproduct":
        return dot
    return dot / (math.sqrt(sum(a * a for a in q)) * math.sqrt(sum(b * b for b in v)))


def _upsert(ix: EmulatedIndex, body: dict[str, Any], _: Query) -> dict[str, Any]:
    vectors = body.get("vectors")
    if not isinstance(vectors, list) or not 1 <= len(vectors) <= 1000:
        raise invalid("vectors must hold between 1 and 1000 records.")
    staged = {}
    for v in vectors:
        vid = v.get("id")
        if not isinstance(vid, str) or not 1 <= len(vid) <= 512:
            raise invalid("Vector id must be a string of 1 to 512 characters.")
        staged[vid] = (_check_values(ix, v.get("values")), check_metadata(v.get("metadata")))
    ix.namespaces.setdefault(body.get("namespace", ""), {}).update(staged)
    return {"upsertedCount": len(staged)}


def _query(ix: EmulatedIndex, body: dict[str, Any], _: Query) -> dict[str, Any]:
    ns = body.get("namespace", "")
    records = ix.namespaces.get(ns, {})
    top_k = body.get("topK")
    if not isinstance(top_k, int) or not 1 <= top_k <= 10000:
        raise invalid("topK must be between 1 and 10000.")
    if "vector" in body:
        q = _check_values(ix, body["vector"])
    elif body.get("id") in records:
        q = records[body["id"]][0]
    else:
        raise invalid("A query needs a vector or the id of a stored vector.")
    flt = body.get("filter")
    if flt is not None:
        check_filter(flt)
    scored = [
        (_score(ix.metric, q, values), vid)
        for vid, (values, md) in records.items()
        if not flt or matches_filter(md, flt)
    ]
    sign = 1 if ix.metric == "euclidean" else -1
    scored.sort(key=lambda t: (sign * t[0], t[1]))
    matches = []
    for score, vid in scored[:top_k]:
        values, md = records[vid]
        match: dict[str, Any] = {"id": vid, "score": score}
        match["values"] = values if body.get("includeValues") else []
        if body.get("includeMetadata"):
            match["metadata"] = md
        matches.append(match)
    return {"matches": matches, "namespace": ns, "usage": {"readUnits": 1}}


def _fetch(ix: EmulatedIndex, _: dict[str, Any], query: Query) -> dict[str, Any]:
    ids = query.get("ids") or []
    if not ids:
        raise invalid("ids must hold at least one id.")
    ns = (query.get("namespace") or [""])[0]
    records = ix.namespaces.get(ns, {})
    vectors = {
        i: {"id": i, "values": records[i][0], "metadata": records[i][1]}
        for i in ids
        if i in records
    }
    return {"vectors": vectors, "namespace": ns, "usage": {"readUnits": 1}}


def _delete(ix: EmulatedIndex, body: dict[str, Any], _: Query) -> dict[str, Any]:
    if body.get("filter") is not None:
        raise invalid(DELETE_BY_FILTER_MESSAGE)
    ns = body.get("namespace", "")
    if ns not in ix.namespaces:
        raise invalid("Namespace not found", status=404, code=5)
    if body.get("deleteAll"):
        del ix.namespaces[ns]
    elif body.get("ids"):
        for vid in body["ids"]:
            ix.namespaces[ns].pop(vid, None)
        if not ix.namespaces[ns]:
            del ix.namespaces[ns]
    else:
        raise invalid("Delete needs ids or deleteAll.")
    return {}


def _stats(ix: EmulatedIndex, body: dict[str, Any], _: Query) -> dict[str, Any]:
    if body.get("filter") is not None:
        raise invalid(STATS_BY_FILTER_MESSAGE)
    counts = {ns: len(r) for ns, r in ix.namespaces.items() if r}
    return {
        "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items()},
        "dimension": ix.dimension,
        "indexFullness": 0.0,
        "totalVectorCount": sum(counts.values()),
        "metric": ix.metric,
        "vectorType": "dense",
    }


_DATA_ROUTES = {
    ("POST", "/vectors/upsert"): _upsert,
    ("POST", "/query"): _query,
    ("GET", "/vectors/fetch"): _fetch,
    ("POST", "/vectors/delete"): _delete,
    ("POST", "/describe_index_stats"): _stats,
}


class PineconeEmulator(JsonApiEmulator):
    """In-memory Pinecone: ``with PineconeEmulator() as emu: Pinecone(host=emu.url)``.

    ``url`` is the control plane; each index's data plane has its own port, ``host(name)``.
    ``requests`` holds every request, so tests can assert what the SDK did (not) send.
    """

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key  # None accepts any non-empty key
        self.indexes: dict[str, EmulatedIndex] = {}

    def __enter__(self) -> PineconeEmulator:
        return super().__enter__()  # type: ignore[no-any-return]

    def host(self, name: str) -> str:
        return self.listener_url(name)

    def create_index(self, name: str, dimension: int, metric: str = "cosine") -> str:
        """Create a serverless index without going through HTTP; returns its host URL."""
        with self._lock:
            self._create(EmulatedIndex(name, dimension, metric))
            return self.host(name)

    def vector_count(self, name: str, namespace: str = "") -> int:
        with self._lock:
            return len(self.indexes[name].namespaces.get(namespace, {}))

    def stored(self, name: str, vector_id: str, namespace: str = "") -> dict[str, Any]:
        """Metadata of one vector as Pinecone holds it."""
        with self._lock:
            return dict(self.indexes[name].namespaces[namespace][vector_id][1])

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        key = request.headers.get("Api-Key")
        if not key or (self.api_key and key != self.api_key):
            raise control_error(401, "UNAUTHENTICATED", "Invalid API Key")
        if not isinstance(request.body, dict):
            raise invalid("The request body is not a JSON object.")
        if request.size > REQUEST_LIMIT_BYTES:
            raise invalid(f"Request size {request.size} exceeds the 2MB limit.")
        if request.listener is None:
            return self._control_plane(request.method, request.path, request.body)
        route = _DATA_ROUTES.get((request.method, request.path))
        if route is None or request.listener not in self.indexes:
            raise invalid(f"emulator: no route {request.method} {request.path}", status=404, code=5)
        return 200, route(self.indexes[request.listener], request.body, request.query)

    def _control_plane(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if path == "/indexes" and method == "GET":
            return 200, {"indexes": [ix.model(self.host(n)) for n, ix in self.indexes.items()]}
        if path == "/indexes" and method == "POST":
            ix = self._create(_index_from(body))
            return 201, ix.model(self.host(ix.name))
        name = path.removeprefix("/indexes/")
        if path.startswith("/indexes/") and "/" not in name and method in ("GET", "DELETE"):
            if name not in self.indexes:
                raise control_error(404, "NOT_FOUND", f"Resource {name} not found")
            if method == "GET":
                return 200, self.indexes[name].model(self.host(name))
            del self.indexes[name]
            self.close(name)
            return 202, None
        raise control_error(404, "NOT_FOUND", f"emulator: no route {method} {path}")

    def _create(self, ix: EmulatedIndex) -> EmulatedIndex:
        if ix.name in self.indexes:
            raise control_error(409, "ALREADY_EXISTS", f"Resource {ix.name} already exists")
        self.indexes[ix.name] = ix
        self.listen(ix.name)
        return ix


def _index_from(body: dict[str, Any]) -> EmulatedIndex:
    """Validate a create-index request: serverless and dense, like ``POST /indexes``."""
    name: Any = body.get("name")
    dimension: Any = body.get("dimension")
    metric: Any = body.get("metric", "cosine")
    serverless: Any = (body.get("spec") or {}).get("serverless")
    checks = [
        (isinstance(name, str) and re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?", name),
         "Name must be 1-45 lowercase letters, digits or hyphens."),
        (isinstance(dimension, int) and 1 <= dimension <= 20000,
         "Dimension must be between 1 and 20000."),
        (metric in _METRICS, f"Unknown metric {metric}."),
        (isinstance(serverless, dict), "The emulator only creates serverless indexes."),
    ]  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise control_error(400, "INVALID_ARGUMENT", message)
    return EmulatedIndex(name, dimension, metric, serverless["cloud"], serverless["region"])
