"""Versioned prompt templates in MongoDB ``prompt_templates``, with a cache renders can trust.

Documents follow the seed schema (see ``prompts.records``). Versions are immutable: an edit
is a new version, then an activation.

Renders read an in-process cache. Every write through a store increments a revision counter
(collection ``prompt_template_revisions``); other stores read that counter at most once per
``refresh_seconds`` and drop their cache when it moved, so an activation in one process
reaches every worker within about a second, and a render costs no MongoDB round trip.
Writes that bypass the store (a manual edit in a shell) are only seen after a restart.
Activations are also logged (``prompts.activations``) so a rollback can step back through them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from loaders.errors import InvalidInput, NotFound, ServiceUnavailable
from prompts.activations import Activation, ActivationHistory, Kind
from prompts.base import PromptSource, PromptVersion, TemplateInfo
from prompts.files import ShippedPrompts
from prompts.records import (
    ACTIVE_SORT,
    COLLECTION,
    COUNTERS,
    INDEXES,
    from_doc,
    mongo_errors,
    new_doc,
)
from prompts.sandbox import validate_template
from prompts.specs import SPECS, check_version_label, get_spec

log = logging.getLogger(__name__)


class PromptStore(PromptSource):
    """Prompt versions in MongoDB; reads are cached, writes are validated and announced."""

    def __init__(
        self,
        db: Database[dict[str, Any]],
        *,
        refresh_seconds: float = 1.0,
        shipped: ShippedPrompts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.collection = db[COLLECTION]
        self.counters = db[COUNTERS]
        self.history = ActivationHistory(db)
        self.refresh_seconds = refresh_seconds
        self.shipped = shipped or ShippedPrompts()
        self._clock = clock
        self._lock = threading.Lock()
        self._revision: int | None = None
        self._checked_at = -math.inf
        self._active: dict[str, str] = {}
        self._versions: dict[tuple[str, str], PromptVersion] = {}

    # -- cache ---------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Drop the cache if another store wrote since we last looked (at most once per
        ``refresh_seconds``). If MongoDB is down, keep serving what is cached."""
        now = self._clock()
        if now - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            if now - self._checked_at < self.refresh_seconds:
                return
            try:
                doc = self.counters.find_one({"_id": "revision"})
            except PyMongoError as exc:
                if self._revision is None:
                    raise ServiceUnavailable(f"MongoDB is unreachable: {exc}") from exc
                log.warning("Prompt revision check failed, serving cached prompts: %s", exc)
                self._checked_at = now
                return
            revision = int(doc["value"]) if doc else 0
            if revision != self._revision:
                self._active, self._versions = {}, {}
                self._revision = revision
            self._checked_at = now

    def _increment(self, counter: str) -> int:
        doc = self.counters.find_one_and_update(
            {"_id": counter},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:  # upsert=True with AFTER always returns the document
            raise ServiceUnavailable(f"MongoDB did not return the {counter!r} counter.")
        return int(doc["value"])

    def _announce(self) -> None:
        """Tell every store (this one at once, others within ``refresh_seconds``)."""
        revision = self._increment("revision")
        with self._lock:
            self._active, self._versions = {}, {}
            self._revision = revision
            self._checked_at = self._clock()

    def revision(self) -> int:
        """The current revision counter in MongoDB (0 before any write)."""
        with mongo_errors("reading the prompt revision"):
            doc = self.counters.find_one({"_id": "revision"})
        return int(doc["value"]) if doc else 0

    # -- reads ---------------------------------------------------------------------------

    def get(self, name: str, version: str | None = None) -> PromptVersion:
        get_spec(name)
        self._refresh()
        version = self.active_version(name) if version is None else check_version_label(version)
        cache = self._versions  # fill the dict we looked in, even if a refresh swaps it
        cached = cache.get((name, version))
        if cached is not None:
            return cached
        with mongo_errors("loading a prompt template"):
            doc = self.collection.find_one({"name": name, "version": version})
        if doc is None:
            raise self._version_not_found(name, version)
        prompt = from_doc(doc)
        cache[(name, version)] = prompt
        return prompt

    def active_version(self, name: str) -> str:
        get_spec(name)
        self._refresh()
        cache = self._active  # a result read before a refresh must not land in the new cache
        version = cache.get(name)
        if version is not None:
            return version
        with mongo_errors("loading the active prompt version"):
            active = self._active_in_db(name)
        if active is None:
            raise NotFound(
                f"Prompt {name!r} has no active version; seed the shipped prompts or activate one.",
                code="PROMPT_NOT_FOUND",
                details={"name": name},
            )
        cache[name] = active
        return active

    def _active_in_db(self, name: str) -> str | None:
        """The active version as MongoDB has it now, bypassing the cache."""
        doc = self.collection.find_one(
            {"name": name, "active": True}, {"version": 1}, sort=ACTIVE_SORT
        )
        return str(doc["version"]) if doc else None

    def list_versions(self, name: str) -> list[PromptVersion]:
        get_spec(name)
        with mongo_errors("listing prompt versions"):
            docs = list(self.collection.find({"name": name}).sort("created_at", ASCENDING))
        if not docs:
            raise NotFound(f"Prompt {name!r} has no versions.", code="PROMPT_NOT_FOUND")
        return [from_doc(d) for d in docs]

    def list_templates(self) -> list[TemplateInfo]:
        fields = {"name": 1, "version": 1, "active": 1, "activation_seq": 1, "_id": 0}
        with mongo_errors("listing prompt templates"):
            docs = list(self.collection.find({}, fields).sort("created_at", ASCENDING))
        infos = []
        for spec in SPECS.values():
            mine = [d for d in docs if d["name"] == spec.name]
            active = [d for d in mine if d.get("active")]
            latest = max(
                active, key=lambda d: (d.get("activation_seq", 0), d["version"]), default=None
            )
            infos.append(
                TemplateInfo(
                    name=spec.name,
                    template_type=spec.template_type,
                    description=spec.description,
                    active_version=latest["version"] if latest else None,
                    versions=tuple(d["version"] for d in mine),
                )
            )
        return infos

    def _version_not_found(self, name: str, version: str) -> NotFound:
        with mongo_errors("listing prompt versions"):
            known = [d["version"] for d in self.collection.find({"name": name}, {"version": 1})]
        return NotFound(
            f"Prompt {name!r} has no version {version!r}; available: {', '.join(known) or 'none'}.",
            code="PROMPT_NOT_FOUND",
            details={"name": name, "version": version},
        )

    # -- writes --------------------------------------------------------------------------

    def ensure_indexes(self) -> None:
        """Create the collection's indexes (idempotent; cheap to call at start-up)."""
        with mongo_errors("creating prompt indexes"):
            for keys, options in INDEXES:
                self.collection.create_index(keys, **options)
            self.history.ensure_indexes()

    def seed_from_files(self) -> list[tuple[str, str]]:
        """Insert shipped versions that are missing; never touch an existing one.

        The manifest's active version is activated only for a template with no active version
        yet, so an admin's choice survives upgrades. Safe to run concurrently from several
        workers: the unique (name, version) index lets one insert win. Returns what was added.
        """
        self.ensure_indexes()
        added: list[tuple[str, str]] = []
        with mongo_errors("seeding prompt templates"):
            for name in self.shipped.names():
                spec = get_spec(name)
                has_active = self.collection.find_one({"name": name, "active": True}) is not None
                for prompt in self.shipped.list_versions(name):
                    variables = validate_template(spec, prompt.template)
                    doc = new_doc(
                        prompt, variables, active=prompt.active and not has_active, origin="file"
                    )
                    try:
                        self.collection.insert_one(doc)
                    except DuplicateKeyError:
                        continue
                    added.append((name, prompt.version))
            if added:
                self._announce()
        return added

    def create_version(
        self, name: str, version: str, template: str, created_by: str, description: str = ""
    ) -> PromptVersion:
        """Store a new, inactive version after checking it in the sandbox.

        Raises ``InvalidInput`` (PROMPT_TEMPLATE_INVALID) for a template that does not parse,
        uses variables its kind does not have or reaches for private attributes, and
        ``InvalidInput`` (PROMPT_VERSION_EXISTS, 409) when the version is taken. The first
        version of a template with no active one becomes active.
        """
        spec = get_spec(name)
        check_version_label(version)
        variables = validate_template(spec, template)
        prompt = PromptVersion(
            name=name,
            version=version,
            template=template,
            template_type=spec.template_type,
            description=description,
            created_by=created_by,
        )
        with mongo_errors("creating a prompt version"):
            first = self.collection.find_one({"name": name, "active": True}) is None
            doc = new_doc(prompt, variables, active=first, origin="api")
            try:
                self.collection.insert_one(doc)
            except DuplicateKeyError as exc:
                raise InvalidInput(
                    f"Prompt {name!r} already has a version {version!r}; versions are "
                    "immutable, so create a new version instead.",
                    code="PROMPT_VERSION_EXISTS",
                    status=409,
                    details={"name": name, "version": version},
                ) from exc
            self._announce()
        return from_doc(doc)

    def activate(self, name: str, version: str, by: str) -> PromptVersion:
        """Make ``version`` the one every request uses unless it asks for another."""
        return self.change_active(name, version, by).prompt

    def change_active(self, name: str, version: str, by: str) -> Activation:
        """``activate``, also saying which version was active before (for audit records)."""
        get_spec(name)
        check_version_label(version)
        return self._switch(name, version, by, "activate")

    def rollback(self, name: str, by: str) -> Activation:
        """Re-activate the version that was active before the current one.

        Raises ``InvalidInput`` (PROMPT_NOTHING_TO_ROLL_BACK, 409) when no earlier activation
        is left to return to.
        """
        get_spec(name)
        with mongo_errors("reading the prompt activation history"):
            target = self.history.rollback_target(name)
        if target is None:
            raise InvalidInput(
                f"Prompt {name!r} has no earlier active version to roll back to.",
                code="PROMPT_NOTHING_TO_ROLL_BACK",
                status=409,
                details={"name": name},
            )
        return self._switch(name, target, by, "rollback")

    def _switch(self, name: str, version: str, by: str, kind: Kind) -> Activation:
        with mongo_errors("activating a prompt version"):
            if self.collection.find_one({"name": name, "version": version}, {"_id": 1}) is None:
                raise self._version_not_found(name, version)
            previous = self._active_in_db(name)
            if previous is not None and self.history.is_empty(name):
                self.history.append(name, previous, "baseline", self._increment("activation"), by)
            seq = self._increment("activation")
            now = datetime.now(UTC)
            self.collection.update_one(
                {"name": name, "version": version},
                {
                    "$set": {
                        "active": True,
                        "activation_seq": seq,
                        "activated_at": now,
                        "activated_by": by,
                        "updated_at": now,
                    }
                },
            )
            # Only older activations are retired, so two racing activations leave the later.
            self.collection.update_many(
                {"name": name, "active": True, "activation_seq": {"$lt": seq}},
                {"$set": {"active": False, "updated_at": now}},
            )
            self.history.append(name, version, kind, seq, by)
            self._announce()
        return Activation(kind=kind, prompt=self.get(name, version), previous=previous)
