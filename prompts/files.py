"""Prompt versions shipped with the code: ``prompts/templates/<name>/<version>.jinja``.

Each template directory has a ``manifest.json`` naming its default active version and
describing each version: ``{"active": "v1", "versions": {"v1": {"description": "..."}}}``.
The files seed MongoDB and also serve prompts directly where no database is configured
(unit tests, ``langgraph dev``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from loaders.errors import InvalidInput, NotFound
from prompts.base import PromptSource, PromptVersion, TemplateInfo
from prompts.specs import SPECS, check_version_label, get_spec

SHIPPED_BY = "supportbot"


def default_directory() -> Path:
    return Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class _Shipped:
    active: str
    versions: dict[str, PromptVersion]


def _bad(path: Path, why: str) -> InvalidInput:
    return InvalidInput(f"Shipped prompt {path}: {why}", code="PROMPT_TEMPLATE_INVALID")


def _load_template_dir(directory: Path) -> _Shipped:
    spec = get_spec(directory.name)
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _bad(manifest_path, f"cannot be read ({exc})") from exc
    versions: dict[str, PromptVersion] = {}
    for version, info in manifest.get("versions", {}).items():
        path = directory / f"{check_version_label(version)}.jinja"
        if not path.is_file():
            raise _bad(path, "is listed in manifest.json but missing")
        versions[version] = PromptVersion(
            name=spec.name,
            version=version,
            template=path.read_text(encoding="utf-8"),
            template_type=spec.template_type,
            description=str(info.get("description", "")),
            origin="file",
            created_by=SHIPPED_BY,
        )
    active = manifest.get("active")
    if active not in versions:
        raise _bad(manifest_path, f"its active version {active!r} is not one of its versions")
    versions[active] = replace(versions[active], active=True)
    return _Shipped(active=active, versions=versions)


class ShippedPrompts(PromptSource):
    """Read-only prompts from files, loaded on first use and kept for the process."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_directory()
        self._loaded: dict[str, _Shipped] | None = None

    def _all(self) -> dict[str, _Shipped]:
        if self._loaded is None:
            dirs = sorted(p for p in self.directory.iterdir() if (p / "manifest.json").is_file())
            self._loaded = {d.name: _load_template_dir(d) for d in dirs}
        return self._loaded

    def _entry(self, name: str) -> _Shipped:
        get_spec(name)
        entry = self._all().get(name)
        if entry is None:
            raise NotFound(f"No shipped prompt {name!r}.", code="PROMPT_NOT_FOUND")
        return entry

    def names(self) -> list[str]:
        """Template names that have files."""
        return list(self._all())

    def get(self, name: str, version: str | None = None) -> PromptVersion:
        entry = self._entry(name)
        version = version or entry.active
        prompt = entry.versions.get(version)
        if prompt is None:
            raise NotFound(
                f"Prompt {name!r} has no version {version!r}; "
                f"available: {', '.join(entry.versions)}.",
                code="PROMPT_NOT_FOUND",
                details={"name": name, "version": version},
            )
        return prompt

    def active_version(self, name: str) -> str:
        return self._entry(name).active

    def list_versions(self, name: str) -> list[PromptVersion]:
        return list(self._entry(name).versions.values())

    def list_templates(self) -> list[TemplateInfo]:
        loaded = self._all()
        return [
            TemplateInfo(
                name=spec.name,
                template_type=spec.template_type,
                description=spec.description,
                active_version=loaded[spec.name].active if spec.name in loaded else None,
                versions=tuple(loaded[spec.name].versions) if spec.name in loaded else (),
            )
            for spec in SPECS.values()
        ]
