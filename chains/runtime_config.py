"""The admin's runtime configuration: versions in ``ai_configurations`` and how a turn reads it.

Every change is a new immutable version document; the active one is the newest with
``active: true``. Writers race safely on real MongoDB and nx-27017 alike: a unique index on
``(config_type, version)`` lets exactly one writer create version n+1, a loser re-reads and
re-applies its partial update on top of the winner's (no lost update), and older versions are
deactivated after the insert (readers take the newest active one, so a moment with two flags set
never shows).

Each turn reads the active version. With Redis (a cache every worker shares) that is the seed's
``config:system:active`` entry, written only if newer than what is there (versions only grow,
so a slow reader can never put an old version back); without Redis, or while it is down, it is
one indexed ``find_one`` (~0.4 ms on nx-27017). Either way every worker process sees a change
on its next request.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chains.runtime_settings import defaults, to_configurable
from loaders.errors import NotFound, SupportbotError
from loaders.kv import KeyValueCache
from loaders.settings import Settings

COLLECTION = "ai_configurations"
CONFIG_TYPE = "system"  # one document holds every section, so a turn reads one version
RUNTIME_KEY = "runtime_config"  # the runtime layer a served turn carries in ``configurable``
_ATTEMPTS = 8
_STORE_KEY = "runtime_config_store"
CACHE_KEY = f"config:{CONFIG_TYPE}:active"  # seed: config:{config_type}:active
CACHE_TTL_SECONDS = 3600
_lock = threading.Lock()

# ``make(current_settings, current_version)`` -> (new settings, changed keys).
Change = Callable[[dict[str, Any], int], tuple[dict[str, Any], list[str]]]


class VersionConflict(SupportbotError):
    code = "VERSION_CONFLICT"
    status = 409


@dataclass(frozen=True)
class ConfigVersion:
    """One stored version; ``version`` 0 is the code defaults (nothing stored yet)."""

    version: int
    settings: dict[str, Any]
    config_id: str | None = None
    active: bool = True
    created_by: str | None = None
    created_at: Any = None
    changes: list[str] = field(default_factory=list)
    rolled_back_from: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "config_id": self.config_id,
            "active": self.active,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "changes": self.changes,
            "rolled_back_from": self.rolled_back_from,
        }


class RuntimeConfigStore:
    """Versions of the ``system`` configuration over one database."""

    def __init__(
        self,
        db: Database[dict[str, Any]],
        settings: Settings,
        *,
        reranker_available: bool,
        cache: KeyValueCache | None = None,
    ) -> None:
        self.col: Collection[dict[str, Any]] = db[COLLECTION]
        self.settings = settings
        self.cache = cache if cache is not None and cache.shared else None
        self.reranker_available = reranker_available
        self.col.create_index("config_id", unique=True)
        self.col.create_index([("config_type", ASCENDING), ("active", ASCENDING)])
        self.col.create_index("provider")
        self.col.create_index([("config_type", ASCENDING), ("version", ASCENDING)], unique=True)

    def defaults(self) -> dict[str, Any]:
        return defaults(self.settings, reranker_available=self.reranker_available)

    def active(self) -> ConfigVersion:
        """The newest active version, or version 0 (the code defaults)."""
        if self.cache is not None:
            cached = self.cache.get_json(CACHE_KEY)
            if isinstance(cached, dict) and "version" in cached:
                if not cached["version"]:
                    return ConfigVersion(0, self.defaults())
                return self._version(cached)
        doc = self.col.find_one(
            {"config_type": CONFIG_TYPE, "active": True}, sort=[("version", DESCENDING)]
        )
        found = self._version(doc) if doc else ConfigVersion(0, self.defaults())
        self._cache_put(doc or {"version": 0})
        return found

    def _cache_put(self, doc: dict[str, Any]) -> None:
        """Share ``doc`` (JSON-safe fields only) unless the cache holds a newer version."""
        if self.cache is None:
            return
        value = {k: _iso(v) for k, v in doc.items() if k != "_id"}
        self.cache.set_json_if_newer(CACHE_KEY, value, "version", CACHE_TTL_SECONDS)

    def get(self, version: int) -> ConfigVersion:
        doc = self.col.find_one({"config_type": CONFIG_TYPE, "version": version})
        if doc is None:
            raise NotFound(f"Configuration version {version} does not exist.")
        return self._version(doc)

    def history(self, limit: int = 20, offset: int = 0) -> tuple[list[ConfigVersion], int]:
        """Versions newest first, and how many there are."""
        query = {"config_type": CONFIG_TYPE}
        total = self.col.count_documents(query)
        cursor = self.col.find(query).sort([("version", DESCENDING)]).skip(offset).limit(limit)
        return [self._version(d) for d in cursor], total

    def commit(
        self,
        make: Change,
        *,
        created_by: str,
        expected_version: int | None = None,
        rolled_back_from: int | None = None,
    ) -> tuple[ConfigVersion, list[str]]:
        """Apply ``make`` to the active version and store the result as the next version.

        ``make`` runs again on the winner's settings when another writer got there first.
        Returns the active version and the changed keys (none: nothing was written).
        """
        for _ in range(_ATTEMPTS):
            current = self.active()
            if expected_version is not None and current.version != expected_version:
                raise VersionConflict(
                    f"The configuration is at version {current.version}, not "
                    f"{expected_version}: reload it and apply your change again.",
                    details={"current_version": current.version},
                )
            settings, changes = make(current.settings, current.version)
            if not changes:
                return current, []
            doc = self._document(current.version + 1, settings, changes, created_by)
            if rolled_back_from is not None:
                doc["metadata"]["rolled_back_from"] = rolled_back_from
            try:
                self.col.insert_one(doc)
            except DuplicateKeyError:
                continue  # another admin saved first: re-apply on top of theirs
            self.col.update_many(
                {"config_type": CONFIG_TYPE, "active": True, "version": {"$lt": doc["version"]}},
                {"$set": {"active": False, "updated_at": _now()}},
            )
            self._cache_put(doc)
            return self._version(doc), changes
        raise VersionConflict("The configuration is changing too fast; retry in a moment.")

    def _document(
        self, version: int, settings: dict[str, Any], changes: list[str], created_by: str
    ) -> dict[str, Any]:
        now = _now()
        return {
            "config_id": str(uuid.uuid4()),
            "name": f"System configuration v{version}",
            "config_type": CONFIG_TYPE,
            "version": version,
            "active": True,
            "provider": settings["llm"]["provider"],
            "settings": settings,
            "metadata": {
                "environment": self.settings.app_env,
                "version": str(version),
                "created_by": created_by,
                "changes": changes,
            },
            "created_at": now,
            "updated_at": now,
            "activated_at": now,
        }

    def _version(self, doc: dict[str, Any]) -> ConfigVersion:
        meta = doc.get("metadata") or {}
        return ConfigVersion(
            version=int(doc["version"]),
            settings=self._complete(doc.get("settings") or {}),
            config_id=doc.get("config_id"),
            active=bool(doc.get("active")),
            created_by=meta.get("created_by"),
            created_at=doc.get("created_at"),
            changes=list(meta.get("changes") or []),
            rolled_back_from=meta.get("rolled_back_from"),
        )

    def _complete(self, stored: dict[str, Any]) -> dict[str, Any]:
        """Stored values over today's defaults; the embedding is always the deployment's."""
        base = self.defaults()
        out = {s: {**base[s], **(stored.get(s) or {})} for s in base}
        out["embedding"] = base["embedding"]
        return out


def runtime_store_for(stack: Any) -> RuntimeConfigStore:
    """The stack's one store, shared by the admin routes and the chat graph."""
    store = stack.extras.get(_STORE_KEY)
    if store is None:
        with _lock:
            store = stack.extras.get(_STORE_KEY)
            if store is None:
                store = RuntimeConfigStore(
                    stack.db,
                    stack.settings,
                    reranker_available=getattr(stack.searcher, "reranker", None) is not None,
                    cache=getattr(stack, "cache", None),
                )
                stack.extras[_STORE_KEY] = store
    return store  # type: ignore[no-any-return]


def runtime_layer() -> dict[str, Any]:
    """The active version as ``Configuration`` field values (one indexed read)."""
    from chains.resources import get_resources

    store = get_resources().runtime
    return to_configurable(store.active().settings) if store is not None else {}


def with_runtime(config: RunnableConfig) -> RunnableConfig:
    """``config`` carrying the runtime layer, read once so every node of a turn agrees."""
    configurable = {**(config.get("configurable") or {}), RUNTIME_KEY: runtime_layer()}
    return {**config, "configurable": configurable}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
