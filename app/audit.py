"""The admin audit trail: MongoDB ``audit_log``, one record per change an admin makes.

Generic on purpose: prompt management writes ``prompt.*`` actions and runtime configuration can
write ``config.*`` ones through the same ``AuditLog.record``. A record says who (user id and
role, never an email), what (``action``), on what (``target_type`` + ``target``), a small
before/after summary (not whole documents), when, and the request id that ties it to the logs.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import PyMongoError

from app.deps import get_services
from loaders.errors import ServiceUnavailable
from loaders.stack import Services

COLLECTION = "audit_log"
_EXTRAS_KEY = "audit_log"
_LOCK = threading.Lock()
_NEWEST_FIRST = [("at", DESCENDING), ("_id", DESCENDING)]


@contextmanager
def mongo_errors(action: str) -> Iterator[None]:
    try:
        yield
    except PyMongoError as exc:
        raise ServiceUnavailable(f"MongoDB is unreachable while {action}: {exc}") from exc


@dataclass(frozen=True)
class AuditQuery:
    """Filters for reading the trail; ``None`` means "any"."""

    action: str | None = None
    target_type: str | None = None
    target: str | None = None
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_filter(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for key, value in (
            ("action", self.action),
            ("target_type", self.target_type),
            ("target", self.target),
            ("actor.user_id", self.actor_id),
        ):
            if value is not None:
                query[key] = value
        window = {op: t for op, t in (("$gte", self.since), ("$lt", self.until)) if t is not None}
        if window:
            query["at"] = window
        return query


class AuditLog:
    """Append and read audit records."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.collection = db[COLLECTION]

    def ensure_indexes(self) -> None:
        with mongo_errors("creating audit indexes"):
            self.collection.create_index([("audit_id", ASCENDING)], unique=True)
            self.collection.create_index([("at", DESCENDING)])
            self.collection.create_index([("action", ASCENDING), ("at", DESCENDING)])
            self.collection.create_index([("target_type", ASCENDING), ("target", ASCENDING)])

    def record(
        self,
        *,
        actor: Mapping[str, Any],
        action: str,
        target_type: str,
        target: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        request_id: str | None,
    ) -> dict[str, Any]:
        """Store one change made by ``actor`` (a user document); returns the public record."""
        doc = {
            "audit_id": str(uuid.uuid4()),
            "at": datetime.now(UTC),
            "actor": {"user_id": str(actor["user_id"]), "role": actor.get("role")},
            "action": action,
            "target_type": target_type,
            "target": target,
            "before": dict(before) if before is not None else None,
            "after": dict(after) if after is not None else None,
            "request_id": request_id,
        }
        with mongo_errors("writing an audit record"):
            self.collection.insert_one(doc)
        return public(doc)

    def find(
        self, query: AuditQuery, *, page: int = 1, page_size: int = 20
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching records, newest first, and how many match in all."""
        mongo_filter = query.to_filter()
        with mongo_errors("reading the audit log"):
            total = self.collection.count_documents(mongo_filter)
            cursor = (
                self.collection.find(mongo_filter)
                .sort(_NEWEST_FIRST)
                .skip((page - 1) * page_size)
                .limit(page_size)
            )
            return [public(d) for d in cursor], total


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The API shape of a record (no MongoDB ``_id``; time as ISO 8601 UTC)."""
    at = doc["at"]
    if isinstance(at, str):  # nx-27017 may hand back a datetime as an ISO string
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return {k: v for k, v in doc.items() if k != "_id"} | {"at": at.isoformat()}


def pagination(page: int, page_size: int, total: int) -> dict[str, int]:
    return {
        "page": page,
        "page_size": page_size,
        "total_pages": math.ceil(total / page_size),
        "total_records": total,
    }


def audit_log_for(services: Services) -> AuditLog:
    """One ``AuditLog`` per services stack, indexed on first use."""
    log = services.extras.get(_EXTRAS_KEY)
    if log is None:
        with _LOCK:
            log = services.extras.get(_EXTRAS_KEY)
            if log is None:
                log = AuditLog(services.db)
                log.ensure_indexes()
                services.extras[_EXTRAS_KEY] = log
    return log  # type: ignore[no-any-return]


def get_audit_log(services: Annotated[Services, Depends(get_services)]) -> AuditLog:
    """FastAPI dependency: the audit log of the app's services."""
    return audit_log_for(services)


Audit = Annotated[AuditLog, Depends(get_audit_log)]
