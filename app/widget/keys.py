"""Site keys for the widget: the ``widget_keys`` collection and an in-process cache.

A site key (``sbw_...``) is a public identifier that lives in customers' HTML, so it is stored
retrievably; its SHA-256 is stored too and uniquely indexed, so lookups by key hit an index of
fixed-size values. Every widget request and preflight needs "is this key / origin active?",
so active keys are cached per process for ``CACHE_SECONDS``: a deactivated key stops working
within that time on every worker (at once on the worker that deactivated it).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database

from app.auth.users import iso
from app.widget.origins import normalise_origins
from loaders.errors import InvalidInput, NotFound
from loaders.stack import Services

COLLECTION = "widget_keys"
KEY_PREFIX = "sbw_"
CACHE_SECONDS = 5.0
EXTRAS_KEY = "widget_keys"
_LOCK = threading.Lock()
_PUBLIC = ("key_id", "key", "name", "allowed_origins", "active", "created_by")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def public_key(doc: dict[str, Any]) -> dict[str, Any]:
    """A key as the admin API shows it (the key itself is public; the hash is not shown)."""
    out = {k: doc.get(k) for k in _PUBLIC}
    for field in ("created_at", "revoked_at"):
        out[field] = iso(doc.get(field))
    return out


class _Snapshot:
    """The active keys at one moment, indexed for the three lookups requests make."""

    def __init__(self, docs: list[dict[str, Any]], expires: float) -> None:
        self.expires = expires
        self.by_hash = {str(d["key_hash"]): d for d in docs}
        self.by_id = {str(d["key_id"]): d for d in docs}
        self.origins = frozenset(o for d in docs for o in d.get("allowed_origins") or [])


class SiteKeyStore:
    """Create, list, deactivate and resolve site keys."""

    def __init__(self, db: Database[dict[str, Any]], cache_seconds: float = CACHE_SECONDS) -> None:
        self.keys: Collection[dict[str, Any]] = db[COLLECTION]
        self.cache_seconds = cache_seconds
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()

    def ensure_indexes(self) -> None:
        self.keys.create_index([("key_id", ASCENDING)], unique=True)
        self.keys.create_index([("key_hash", ASCENDING)], unique=True)
        self.keys.create_index([("active", ASCENDING)])
        self.keys.create_index([("created_at", DESCENDING)])

    def create(
        self, name: str, allowed_origins: list[str], created_by: str, *, purpose: str = ""
    ) -> dict[str, Any]:
        """A new active key (public view); origins are validated and normalised first."""
        if not name.strip():
            raise InvalidInput("The key needs a name.", code="INVALID_NAME")
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        doc: dict[str, Any] = {
            "key_id": str(uuid.uuid4()),
            "key": key,
            "key_hash": hash_key(key),
            "name": name.strip(),
            "allowed_origins": normalise_origins(allowed_origins),
            "active": True,
            "purpose": purpose,
            "created_by": created_by,
            "created_at": datetime.now(UTC),
            "revoked_at": None,
        }
        self.keys.insert_one(dict(doc))
        self.invalidate()
        return public_key(doc)

    def all(self) -> list[dict[str, Any]]:
        cursor = self.keys.find({}, {"_id": 0}).sort([("created_at", DESCENDING)])
        return [public_key(d) for d in cursor]

    def deactivate(self, key_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The key before and after: deactivated, not deleted (audit and sessions name it)."""
        fields = {"active": False, "revoked_at": datetime.now(UTC)}
        doc = self.keys.find_one_and_update(
            {"key_id": key_id},
            {"$set": fields},
            projection={"_id": 0},
            return_document=ReturnDocument.BEFORE,
        )
        if doc is None:
            raise NotFound(f"No widget key '{key_id}'.", code="WIDGET_KEY_NOT_FOUND")
        self.invalidate()
        return public_key(doc), public_key(doc | fields)

    def add_origins(self, key_id: str, origins: list[str]) -> None:
        """Allow more origins on a key (the development key follows the serve port)."""
        self.keys.update_one(
            {"key_id": key_id},
            {"$addToSet": {"allowed_origins": {"$each": normalise_origins(origins)}}},
        )
        self.invalidate()

    def find_purpose(self, purpose: str) -> dict[str, Any] | None:
        return self.keys.find_one({"purpose": purpose, "active": True}, {"_id": 0})

    # Cached lookups: what every widget request and CORS preflight asks.

    def invalidate(self) -> None:
        self._snapshot = None

    def snapshot(self) -> _Snapshot:
        """The active keys, re-read at most every ``cache_seconds`` (blocking: call from a
        thread, or when ``fresh`` says no read is due)."""
        snap = self._snapshot
        if snap is not None and snap.expires > time.monotonic():
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is None or snap.expires <= time.monotonic():
                docs = list(self.keys.find({"active": True}, {"_id": 0}))
                snap = self._snapshot = _Snapshot(docs, time.monotonic() + self.cache_seconds)
        return snap

    def fresh(self) -> bool:
        """Whether ``snapshot()`` would answer without a database read."""
        snap = self._snapshot
        return snap is not None and snap.expires > time.monotonic()

    def active_key(self, key: str) -> dict[str, Any] | None:
        """The active key document for a site key string, else ``None``."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            return None
        return self.snapshot().by_hash.get(hash_key(key))

    def active_by_id(self, key_id: str) -> dict[str, Any] | None:
        return self.snapshot().by_id.get(key_id)

    def origin_allowed(self, origin: str) -> bool:
        """Whether any active key allows ``origin`` (CORS asks this)."""
        return origin in self.snapshot().origins


def site_keys_for(services: Services) -> SiteKeyStore:
    """One store per services stack, indexed on first use."""
    store = services.extras.get(EXTRAS_KEY)
    if store is None:
        with _LOCK:
            store = services.extras.get(EXTRAS_KEY)
            if store is None:
                store = SiteKeyStore(services.db)
                store.ensure_indexes()
                services.extras[EXTRAS_KEY] = store
    return store  # type: ignore[no-any-return]
