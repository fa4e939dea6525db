"""How a prompt version is stored in MongoDB ``prompt_templates`` (the seed schema) and read back.

Fields: ``template_id``, ``name``, ``version``, ``description``, ``template_type``, ``active``,
``activation_seq``, ``content.{template, variables}``, ``metadata.{use_case, language, origin,
created_by}``, ``created_at``, ``updated_at``, ``activated_at``, ``activated_by``. The seed's
``configuration`` block (temperature, max_tokens...) is left out: those are per-request
settings of the chat graph, not part of a template.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import PyMongoError

from loaders.errors import ServiceUnavailable
from prompts.base import Origin, PromptVersion
from prompts.specs import get_spec

COLLECTION = "prompt_templates"
COUNTERS = "prompt_template_revisions"
INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("template_id", ASCENDING)], {"unique": True}),
    ([("name", ASCENDING), ("version", ASCENDING)], {"unique": True}),
    ([("template_type", ASCENDING), ("active", ASCENDING)], {}),
    ([("name", ASCENDING), ("active", ASCENDING)], {}),
]
# The latest activation wins when two raced; ``activation_seq`` is an atomic counter because
# datetimes can tie (and nx-27017 stores a $set datetime as a string, which cannot be compared).
ACTIVE_SORT = [("activation_seq", DESCENDING), ("version", DESCENDING)]


@contextmanager
def mongo_errors(action: str) -> Iterator[None]:
    try:
        yield
    except PyMongoError as exc:
        raise ServiceUnavailable(f"MongoDB is unreachable while {action}: {exc}") from exc


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, str):  # nx-27017 returns a $set datetime as an ISO string
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value if isinstance(value, datetime) else None


def from_doc(doc: dict[str, Any]) -> PromptVersion:
    content = doc.get("content") or {}
    metadata = doc.get("metadata") or {}
    return PromptVersion(
        name=doc["name"],
        version=doc["version"],
        template=content.get("template", ""),
        template_type=doc.get("template_type", get_spec(doc["name"]).template_type),
        description=doc.get("description", ""),
        active=bool(doc.get("active")),
        variables=tuple(content.get("variables") or ()),
        origin=metadata.get("origin", "api"),
        template_id=doc.get("template_id"),
        created_by=metadata.get("created_by"),
        created_at=_datetime(doc.get("created_at")),
        activated_at=_datetime(doc.get("activated_at")),
        activated_by=doc.get("activated_by"),
    )


def new_doc(
    prompt: PromptVersion, variables: list[str], *, active: bool, origin: Origin
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "template_id": str(uuid.uuid4()),
        "name": prompt.name,
        "version": prompt.version,
        "description": prompt.description,
        "template_type": prompt.template_type,
        "active": active,
        "activation_seq": 0,
        "content": {"template": prompt.template, "variables": variables},
        "metadata": {
            "use_case": "customer_support",
            "language": "en",
            "origin": origin,
            "created_by": prompt.created_by,
        },
        "created_at": now,
        "updated_at": now,
        "activated_at": now if active else None,
        "activated_by": prompt.created_by if active else None,
    }
