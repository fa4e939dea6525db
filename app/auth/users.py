"""The ``users`` collection (seed schema, unique email) and the hashed refresh-token store."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.auth.errors import EmailTaken
from app.auth.pii import PiiCipher
from loaders.errors import InvalidInput

Role = Literal["user", "support_agent", "admin"]
ROLES: tuple[str, ...] = ("user", "support_agent", "admin")
STATUSES: tuple[str, ...] = ("active", "inactive", "suspended")
ENCRYPTED_FIELDS = ("phone",)  # the seed's encrypted PII
PROFILE_FIELDS = ("full_name", "phone", "preferences")  # what a user may change about themself
_PRIVATE = ("_id", "password_hash")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def is_email(value: str) -> bool:
    """A deliberately loose shape check; only a confirmation mail proves an address."""
    return len(value) <= 254 and bool(_EMAIL.match(value.strip()))


def iso(value: Any) -> str | None:
    """ISO 8601 for a datetime or an already-ISO string (nx-27017 stores ``$set`` dates so)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def public_profile(user: dict[str, Any]) -> dict[str, Any]:
    """The user as the API shows it: no ``_id``, never the password hash."""
    out = {k: v for k, v in user.items() if k not in _PRIVATE}
    for key in ("created_at", "updated_at", "last_login_at"):
        out[key] = iso(user.get(key))
    out["email_verified"] = bool(user.get("email_verified", False))
    out["phone_verified"] = bool(user.get("phone_verified", False))
    return out


class UserRepository:
    """Create, find and update users; the unique email index is the source of truth.

    PII fields are encrypted on the way in and decrypted on the way out, so callers only ever
    see clear text and the collection only ever holds ciphertext.
    """

    def __init__(self, db: Database[dict[str, Any]], cipher: PiiCipher) -> None:
        self.users: Collection[dict[str, Any]] = db["users"]
        self.cipher = cipher

    def _sealed(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            k: self.cipher.encrypt(v) if k in ENCRYPTED_FIELDS else v for k, v in fields.items()
        }

    def _opened(self, doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is None:
            return None
        for key in ENCRYPTED_FIELDS:
            if doc.get(key) is not None:
                doc[key] = self.cipher.decrypt(str(doc[key]))
        return doc

    def ensure_indexes(self) -> None:
        self.users.create_index([("user_id", ASCENDING)], unique=True)
        self.users.create_index([("email", ASCENDING)], unique=True)
        self.users.create_index([("created_at", DESCENDING)])

    def create(
        self,
        *,
        email: str,
        password_hash: str,
        full_name: str,
        role: Role = "user",
        phone: str | None = None,
        preferences: dict[str, Any] | None = None,
        signup_source: str = "web",
    ) -> dict[str, Any]:
        """Insert a new active user; ``EmailTaken`` (409) when the email exists."""
        if not is_email(email):
            raise InvalidInput(f"{email!r} is not a valid email address.", code="INVALID_EMAIL")
        now = datetime.now(UTC)
        doc: dict[str, Any] = {
            "user_id": str(uuid.uuid4()),
            "email": normalize_email(email),
            "password_hash": password_hash,
            "full_name": full_name,
            "phone": phone,
            "role": role,
            "status": "active",
            "preferences": {"language": "en", "timezone": "UTC", **(preferences or {})},
            "metadata": {"signup_source": signup_source},
            "created_at": now,
            "updated_at": now,
            "last_login_at": None,
            "email_verified": False,
            "phone_verified": False,
        }
        try:
            self.users.insert_one(self._sealed(doc))
        except DuplicateKeyError as exc:
            raise EmailTaken("An account with this email already exists.") from exc
        return doc

    def by_email(self, email: str) -> dict[str, Any] | None:
        return self._opened(self.users.find_one({"email": normalize_email(email)}))

    def by_id(self, user_id: str) -> dict[str, Any] | None:
        return self._opened(self.users.find_one({"user_id": user_id}))

    def count(self) -> int:
        return int(self.users.count_documents({}))

    def _set(self, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        fields = {**self._sealed(fields), "updated_at": datetime.now(UTC)}
        return self._opened(
            self.users.find_one_and_update(
                {"user_id": user_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
            )
        )

    def update_profile(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Change only ``PROFILE_FIELDS``; anything else (role, status, email) is dropped here
        too, so no route can widen what a user may change about themself."""
        allowed = {k: v for k, v in changes.items() if k in PROFILE_FIELDS}
        if "preferences" in allowed:
            current = (self.by_id(user_id) or {}).get("preferences") or {}
            allowed["preferences"] = {**current, **allowed["preferences"]}
        return self._set(user_id, allowed) if allowed else self.by_id(user_id)

    def touch_login(self, user_id: str) -> None:
        self.users.update_one({"user_id": user_id}, {"$set": {"last_login_at": datetime.now(UTC)}})

    def set_status(self, user_id: str, status: str) -> dict[str, Any] | None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return self._set(user_id, {"status": status})

    def set_role(self, user_id: str, role: str) -> dict[str, Any] | None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        return self._set(user_id, {"role": role})

    def list(
        self, query: dict[str, Any], *, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of users matching ``query`` (newest first) and how many match."""
        total = int(self.users.count_documents(query))
        cursor = (
            self.users.find(query)
            .sort([("created_at", DESCENDING)])
            .skip((page - 1) * page_size)
            .limit(page_size)
        )
        return [u for d in cursor if (u := self._opened(d)) is not None], total

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._set(user_id, {"password_hash": password_hash})


def hash_jti(jti: str) -> str:
    """Refresh ids are stored hashed: a leaked collection cannot mint a refresh request."""
    return hashlib.sha256(jti.encode()).hexdigest()


class RefreshTokenStore:
    """One record per issued refresh token; rotation marks it used, reuse revokes the family."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.tokens: Collection[dict[str, Any]] = db["refresh_tokens"]

    def ensure_indexes(self) -> None:
        self.tokens.create_index([("family_id", ASCENDING)])
        self.tokens.create_index([("user_id", ASCENDING)])

    def add(self, jti: str, *, user_id: str, family_id: str, expires_at: datetime) -> None:
        self.tokens.insert_one(
            {
                "_id": hash_jti(jti),
                "user_id": user_id,
                "family_id": family_id,
                "created_at": datetime.now(UTC),
                "expires_at": expires_at,
                "used_at": None,
                "revoked_at": None,
            }
        )

    def consume(self, jti: str) -> Literal["ok", "unknown", "reused"]:
        """Mark the token used exactly once; a second use revokes every token of its family."""
        now = datetime.now(UTC)
        claimed = self.tokens.find_one_and_update(
            {"_id": hash_jti(jti), "used_at": None, "revoked_at": None},
            {"$set": {"used_at": now}},
        )
        if claimed is not None:
            return "ok"
        record = self.tokens.find_one({"_id": hash_jti(jti)})
        if record is None:
            return "unknown"
        self.revoke_family(str(record["family_id"]))
        return "reused"

    def revoke_family(self, family_id: str) -> int:
        result = self.tokens.update_many(
            {"family_id": family_id, "revoked_at": None},
            {"$set": {"revoked_at": datetime.now(UTC)}},
        )
        return int(result.modified_count)

    def revoke_user(self, user_id: str) -> int:
        """Log a user out everywhere (status change, password reset)."""
        result = self.tokens.update_many(
            {"user_id": user_id, "revoked_at": None},
            {"$set": {"revoked_at": datetime.now(UTC)}},
        )
        return int(result.modified_count)
