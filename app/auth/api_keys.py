"""API keys for server-to-server frontends: the ``api_keys`` collection.

A key is shown once when created; only its SHA-256 and a short display prefix are stored
(the secret has 256 bits of entropy, so a plain hash is enough: there is nothing to guess).
Each key is its own principal (``apikey:<key_id>``) with a role and a name; every request
re-reads the record, so a revoked key fails on the very next call.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database

from app.auth.errors import InvalidToken
from app.auth.users import ROLES, iso
from loaders.errors import InvalidInput, NotFound

SECRET_PREFIX = "sbk_"
DISPLAY_CHARS = 12  # "sbk_" + 8 characters: enough to tell keys apart in a list
PRINCIPAL_PREFIX = "apikey:"
_PUBLIC = ("key_id", "name", "role", "prefix", "created_by")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def principal_id(key_id: str) -> str:
    """The owner id of sessions created with a key (never a user id: no uuid collides)."""
    return f"{PRINCIPAL_PREFIX}{key_id}"


def public_key(doc: dict[str, Any]) -> dict[str, Any]:
    """A key as the admin API lists it: never the hash."""
    out = {k: doc.get(k) for k in _PUBLIC}
    out["principal_id"] = principal_id(str(doc["key_id"]))
    for field in ("created_at", "revoked_at"):
        out[field] = iso(doc.get(field))
    out["active"] = doc.get("revoked_at") is None
    return out


class ApiKeyStore:
    """Create, list, revoke and resolve API keys."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.keys: Collection[dict[str, Any]] = db["api_keys"]

    def ensure_indexes(self) -> None:
        self.keys.create_index([("key_hash", ASCENDING)], unique=True)
        self.keys.create_index([("key_id", ASCENDING)], unique=True)
        self.keys.create_index([("created_at", DESCENDING)])

    def create(self, name: str, role: str, created_by: str) -> tuple[dict[str, Any], str]:
        """The stored record (public view) and the secret, which is never retrievable again."""
        if role not in ROLES:
            raise InvalidInput(
                f"Unknown role {role!r}; one of {', '.join(ROLES)}.", code="INVALID_ROLE"
            )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        doc = {
            "key_id": str(uuid.uuid4()),
            "name": name,
            "role": role,
            "prefix": secret[:DISPLAY_CHARS],
            "key_hash": hash_secret(secret),
            "created_by": created_by,
            "created_at": datetime.now(UTC),
            "revoked_at": None,
        }
        self.keys.insert_one(dict(doc))
        return public_key(doc), secret

    def list(self) -> list[dict[str, Any]]:
        cursor = self.keys.find({}, {"_id": 0}).sort([("created_at", DESCENDING)])
        return [public_key(d) for d in cursor]

    def revoke(self, key_id: str) -> dict[str, Any]:
        doc = self.keys.find_one_and_update(
            {"key_id": key_id},
            {"$set": {"revoked_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFound(f"No API key '{key_id}'.", code="API_KEY_NOT_FOUND")
        return public_key(doc)

    def principal(self, secret: str) -> dict[str, Any]:
        """The principal a key acts as, or 401 INVALID_API_KEY (unknown or revoked)."""
        doc = self.keys.find_one({"key_hash": hash_secret(secret)})
        if doc is None or doc.get("revoked_at") is not None:
            raise InvalidToken("The API key is invalid or revoked.", code="INVALID_API_KEY")
        return {
            "user_id": principal_id(str(doc["key_id"])),
            "role": doc["role"],
            "full_name": doc["name"],
            "email": None,
            "status": "active",
            "auth_method": "api_key",
            "key_id": doc["key_id"],
        }
