"""Metadata filters for search: one normal form, translated per store.

A filter is ``{field: [allowed values]}``. Values within a field are OR-ed, fields are AND-ed;
for list-valued metadata (``tags``) a chunk matches when any of its values is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loaders.errors import InvalidInput

FILTER_FIELDS: tuple[str, ...] = ("document_type", "category", "tags", "document_id", "language")

Filter = dict[str, list[str]]


def normalize_filter(raw: Mapping[str, Any] | None) -> Filter:
    """Validate a user filter and return its normal form (empty lists and Nones dropped)."""
    if not raw:
        return {}
    out: Filter = {}
    for field, value in raw.items():
        if field not in FILTER_FIELDS:
            raise InvalidInput(
                f"Unknown filter field '{field}'. Allowed: {', '.join(FILTER_FIELDS)}.",
                code="INVALID_FILTER",
            )
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        if not all(isinstance(v, str) and v for v in values):
            raise InvalidInput(
                f"Filter '{field}' must be a string or a list of non-empty strings.",
                code="INVALID_FILTER",
            )
        if values:
            out[field] = sorted(set(values))
    return out


def matches(metadata: Mapping[str, Any], flt: Filter) -> bool:
    """True when ``metadata`` satisfies the normal-form filter ``flt``."""
    for field, allowed in flt.items():
        value = metadata.get(field)
        values = value if isinstance(value, list | tuple) else [value]
        if not any(v in allowed for v in values):
            return False
    return True


def to_pinecone(flt: Filter) -> dict[str, Any] | None:
    """Pinecone metadata filter: ``$in`` matches list metadata on any element."""
    if not flt:
        return None
    clauses = [{field: {"$in": values}} for field, values in flt.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
