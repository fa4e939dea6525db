"""Rendering a prompt for one turn: the requested version when the template has it, else the
active one (a per-request ``prompt_version`` names a version of the templates that have it)."""

from __future__ import annotations

from typing import Any

from loaders.errors import NotFound


def render(resources: Any, name: str, variables: dict[str, Any], version: str | None = None) -> str:
    """Render template ``name``; ``company_name`` comes from settings unless given."""
    values = {"company_name": resources.settings.company_name, **variables}
    store = resources.prompts
    if version:
        try:
            return str(store.render(name, values, version=version))
        except NotFound:
            pass
    return str(store.render(name, values))
