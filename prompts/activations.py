"""Which versions of a template were active, in order, so a rollback can step back through them.

An append-only collection ``prompt_activations``: one entry per activation or rollback, ordered
by the store's atomic ``activation`` counter. Replaying a template's entries gives a stack of
active versions: an activation pushes, a rollback pops. Repeated rollbacks therefore walk back
through history (v3 -> v2 -> v1) instead of flipping between the last two versions. Entries are
never updated, so the log doubles as a record of what was live when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo import ASCENDING
from pymongo.database import Database

from prompts.base import PromptVersion

COLLECTION = "prompt_activations"
Kind = Literal["baseline", "activate", "rollback"]
"""``baseline`` records the version that was active before the first recorded activation
(seeded from files), so the first activation can be rolled back too."""


@dataclass(frozen=True)
class Activation:
    """The outcome of an activation or rollback: what is active now and what was before."""

    kind: Kind
    prompt: PromptVersion
    previous: str | None


def replay(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The stack of active versions after ``entries`` (oldest first); the top is active now."""
    stack: list[str] = []
    for entry in entries:
        version = str(entry["version"])
        if entry["kind"] == "rollback":
            if stack:
                stack.pop()
            if stack and stack[-1] == version:
                continue
        elif stack and stack[-1] == version:
            continue  # re-activating the active version changes nothing worth undoing
        stack.append(version)
    return stack


class ActivationHistory:
    """Reads and appends a template's activation entries."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.collection = db[COLLECTION]

    def ensure_indexes(self) -> None:
        self.collection.create_index([("name", ASCENDING), ("seq", ASCENDING)], unique=True)

    def is_empty(self, name: str) -> bool:
        return self.collection.find_one({"name": name}, {"_id": 1}) is None

    def append(self, name: str, version: str, kind: Kind, seq: int, by: str) -> None:
        self.collection.insert_one(
            {
                "name": name,
                "version": version,
                "kind": kind,
                "seq": seq,
                "by": by,
                "at": datetime.now(UTC),
            }
        )

    def stack(self, name: str) -> list[str]:
        """Active versions of ``name`` in the order they became active, minus rolled-back ones."""
        fields = {"_id": 0, "version": 1, "kind": 1}
        return replay(self.collection.find({"name": name}, fields).sort("seq", ASCENDING))

    def rollback_target(self, name: str) -> str | None:
        """The version a rollback would re-activate, if any."""
        stack = self.stack(name)
        return stack[-2] if len(stack) >= 2 else None
