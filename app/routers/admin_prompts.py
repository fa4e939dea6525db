"""``/api/v1/admin/prompts``: list, read, create, activate, roll back and diff prompt versions.

Admin-only. Every change is written to the audit log with the admin's user id. The routes use
the stack's own ``PromptStore`` (the one the chat graph renders through), so an activation is
live on this worker's next turn and on other workers within ``PROMPT_REFRESH_SECONDS``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.audit import Audit
from app.auth.deps import require_role
from app.deps import get_services
from app.envelope import ok, request_id
from chains.resources import prompt_store_for
from loaders.stack import Services
from prompts.activations import Activation
from prompts.base import PromptVersion
from prompts.diff import diff_versions
from prompts.specs import get_spec
from prompts.store import PromptStore

_admin = require_role("admin")
Admin = Annotated[dict[str, Any], Depends(_admin)]
router = APIRouter(
    prefix="/api/v1/admin/prompts", tags=["admin: prompts"], dependencies=[Depends(_admin)]
)
TARGET_TYPE = "prompt_template"
NameParam = Annotated[str, Path(description="Template name, e.g. `answer` or `no_answer`.")]
VersionParam = Annotated[str, Path(description="Version label, e.g. `v2`.")]


def get_prompts(services: Annotated[Services, Depends(get_services)]) -> PromptStore:
    return prompt_store_for(services)


Prompts = Annotated[PromptStore, Depends(get_prompts)]


class CreateVersionBody(BaseModel):
    version: str = Field(max_length=64, description="New, unused label, e.g. `v3` or `2.1.0`.")
    template: str = Field(max_length=100_000, description="Jinja2 text; checked in the sandbox.")
    description: str = Field(default="", max_length=500)


def _version_info(prompt: PromptVersion, *, with_template: bool = False) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": prompt.name,
        "version": prompt.version,
        "description": prompt.description,
        "template_type": prompt.template_type,
        "active": prompt.active,
        "variables": list(prompt.variables),
        "origin": prompt.origin,
        "created_by": prompt.created_by,
        "created_at": prompt.created_at,
        "activated_at": prompt.activated_at,
        "activated_by": prompt.activated_by,
    }
    if with_template:
        info["template"] = prompt.template
    return info


def _activation_info(change: Activation) -> dict[str, Any]:
    return {
        "name": change.prompt.name,
        "active_version": change.prompt.version,
        "previous_version": change.previous,
        "kind": change.kind,
    }


def _audit_change(
    audit: Audit, request: Request, admin: dict[str, Any], change: Activation
) -> None:
    audit.record(
        actor=admin,
        action=f"prompt.{change.kind}",
        target_type=TARGET_TYPE,
        target=change.prompt.name,
        before={"active_version": change.previous},
        after={"active_version": change.prompt.version},
        request_id=request_id(request),
    )


@router.get("", summary="List templates")
def list_templates(request: Request, store: Prompts) -> JSONResponse:
    """Every template kind with its type, its active version and all version labels."""
    templates = [
        {
            "name": t.name,
            "template_type": t.template_type,
            "description": t.description,
            "active_version": t.active_version,
            "versions": list(t.versions),
        }
        for t in store.list_templates()
    ]
    return ok(request, {"templates": templates})


@router.get("/{name}", summary="Get a template and its versions")
def get_template(request: Request, name: NameParam, store: Prompts) -> JSONResponse:
    """A template's variables, active version, version metadata (no text) and the version a
    rollback would return to (``null`` when there is none)."""
    spec = get_spec(name)
    versions = store.list_versions(name)
    active = next((v.version for v in versions if v.active), None)
    data = {
        "name": name,
        "template_type": spec.template_type,
        "description": spec.description,
        "variables": sorted(spec.variables),
        "required_variables": sorted(spec.must_use),
        "active_version": active,
        "rollback_to": store.history.rollback_target(name),
        "versions": [_version_info(v) for v in versions],
    }
    return ok(request, data)


@router.get("/{name}/versions/{version}", summary="Get one version's content")
def get_version(
    request: Request, name: NameParam, version: VersionParam, store: Prompts
) -> JSONResponse:
    """The version's template text with its metadata; 404 PROMPT_NOT_FOUND if unknown."""
    return ok(request, _version_info(store.get(name, version), with_template=True))


@router.post("/{name}/versions", status_code=201, summary="Create a version")
def create_version(
    request: Request,
    name: NameParam,
    body: CreateVersionBody,
    store: Prompts,
    admin: Admin,
    audit: Audit,
) -> JSONResponse:
    """Store a new, inactive version (activate it separately). The text is checked in the
    sandbox first: bad Jinja, a variable the template may not use or a required variable left
    out give 422 PROMPT_TEMPLATE_INVALID; a taken label gives 409 PROMPT_VERSION_EXISTS."""
    prompt = store.create_version(
        name, body.version, body.template, str(admin["user_id"]), body.description
    )
    audit.record(
        actor=admin,
        action="prompt.create_version",
        target_type=TARGET_TYPE,
        target=name,
        before=None,
        after={
            "version": prompt.version,
            "description": prompt.description,
            "variables": list(prompt.variables),
            "chars": len(prompt.template),
            "sha256": hashlib.sha256(prompt.template.encode()).hexdigest()[:16],
            "active": prompt.active,
        },
        request_id=request_id(request),
    )
    return ok(request, _version_info(prompt, with_template=True), status_code=201)


@router.post("/{name}/versions/{version}/activate", summary="Activate a version")
def activate_version(
    request: Request,
    name: NameParam,
    version: VersionParam,
    store: Prompts,
    admin: Admin,
    audit: Audit,
) -> JSONResponse:
    """Make ``version`` the one every chat turn uses (unless a request names another). Live on
    the next turn; ``previous_version`` is what a rollback returns to."""
    change = store.change_active(name, version, by=str(admin["user_id"]))
    _audit_change(audit, request, admin, change)
    return ok(request, _activation_info(change))


@router.post("/{name}/rollback", summary="Roll back to the previously active version")
def rollback(
    request: Request, name: NameParam, store: Prompts, admin: Admin, audit: Audit
) -> JSONResponse:
    """Re-activate the version that was active before the current one; repeated rollbacks walk
    further back. 409 PROMPT_NOTHING_TO_ROLL_BACK when there is no earlier activation."""
    change = store.rollback(name, by=str(admin["user_id"]))
    _audit_change(audit, request, admin, change)
    return ok(request, _activation_info(change))


@router.get("/{name}/diff", summary="Diff two versions")
def diff(
    request: Request,
    name: NameParam,
    store: Prompts,
    from_version: Annotated[str, Query(alias="from", description="The older version.")],
    to_version: Annotated[str, Query(alias="to", description="The newer version.")],
) -> JSONResponse:
    """A unified diff ``from`` -> ``to`` of the template text, with added/removed line counts."""
    result = diff_versions(store.get(name, from_version), store.get(name, to_version))
    return ok(
        request,
        {
            "name": result.name,
            "from": result.from_version,
            "to": result.to_version,
            "unified_diff": result.unified_diff,
            "added": result.added,
            "removed": result.removed,
        },
    )
