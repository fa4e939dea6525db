"""The bundled sample knowledge base (a help centre for the fictional SaaS product Tasklane)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loaders.ingest_options import IngestOptions

SAMPLE_KB_DIR = Path(__file__).with_name("sample_kb")
MANIFEST = "manifest.json"


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """``{file name: metadata}`` from a folder's manifest.json, or {} when it has none."""
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8"))
    return {e["file"]: e for e in entries}


def options_for(path: Path, entry: dict[str, Any] | None, **defaults: Any) -> IngestOptions:
    """Ingest options for one file: manifest entry first, then the caller's defaults."""
    entry = entry or {}
    fields = {
        "document_type": entry.get("document_type"),
        "title": entry.get("title"),
        "description": entry.get("description"),
        "category": entry.get("category"),
        "tags": entry.get("tags"),
        "author": entry.get("author"),
        "version": entry.get("version"),
        "language": entry.get("language"),
        "priority": entry.get("priority"),
    }
    merged = {
        **{k: v for k, v in defaults.items() if v is not None},
        **{k: v for k, v in fields.items() if v is not None},
    }
    return IngestOptions(filename=path.name, source_type="manual", **merged)


def sample_items(**defaults: Any) -> Iterator[tuple[bytes, IngestOptions]]:
    """Every file the sample manifest lists, with its options."""
    manifest = read_manifest(SAMPLE_KB_DIR)
    for name, entry in manifest.items():
        path = SAMPLE_KB_DIR / name
        yield path.read_bytes(), options_for(path, entry, **defaults)
