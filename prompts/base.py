"""What every prompt source returns and how it renders, for shipped files and the MongoDB store."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from prompts.sandbox import render_template
from prompts.specs import TemplateType, check_version_label, get_spec

Origin = Literal["file", "api"]


@dataclass(frozen=True)
class PromptVersion:
    """One immutable version of a template; edits are new versions."""

    name: str
    version: str
    template: str
    template_type: TemplateType
    description: str = ""
    active: bool = False
    variables: tuple[str, ...] = ()
    origin: Origin = "file"
    template_id: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    activated_at: datetime | None = None
    activated_by: str | None = None


@dataclass(frozen=True)
class TemplateInfo:
    """A template kind with its versions, for listings."""

    name: str
    template_type: TemplateType
    description: str
    active_version: str | None
    versions: tuple[str, ...]


class PromptSource(ABC):
    """Read side shared by ``ShippedPrompts`` and ``PromptStore``, so callers take either."""

    @abstractmethod
    def get(self, name: str, version: str | None = None) -> PromptVersion:
        """A version of ``name`` (None: the active one); ``NotFound`` (PROMPT_NOT_FOUND)."""

    @abstractmethod
    def active_version(self, name: str) -> str:
        """The version used when a request does not ask for one."""

    @abstractmethod
    def list_versions(self, name: str) -> list[PromptVersion]:
        """Every version of ``name``, oldest first."""

    @abstractmethod
    def list_templates(self) -> list[TemplateInfo]:
        """Every template kind with its active version and versions."""

    def render(self, name: str, variables: Mapping[str, Any], version: str | None = None) -> str:
        """Render ``name`` (the active version, or ``version`` when a request overrides it).

        Values are data, never template code. Raises ``NotFound`` (PROMPT_NOT_FOUND) for an
        unknown template or version and ``InvalidInput`` (PROMPT_RENDER_ERROR) when a
        variable is missing.
        """
        spec = get_spec(name)
        if version is not None:
            check_version_label(version)
        prompt = self.get(name, version)
        return render_template(spec, prompt.template, variables)
