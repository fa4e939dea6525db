"""Admin runtime configuration (seed: Get / Update System Configuration), its history, rollback.

HTTP only: the request shape and its static ranges live here; what a value means, whether the
deployment can honour it, and how versions are stored live in ``chains.runtime_settings`` and
``chains.runtime_config``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.auth.deps import require_role
from app.deps import get_services
from app.envelope import ok
from app.routers.chat import MAX_MESSAGE_CHARS
from chains.runtime_config import ConfigVersion, RuntimeConfigStore, runtime_store_for
from chains.runtime_settings import apply_update, changed_keys, to_api, validate
from loaders.stack import Services

router = APIRouter(prefix="/api/v1/admin/config", tags=["admin"])
Admin = Annotated[dict[str, Any], Depends(require_role("admin"))]
# null clears these; elsewhere: not set
_NULLABLE = {
    "fallback_model",
    "judge_model",
    "toxicity_threshold",
    "connect_timeout",
    "read_timeout",
}

# ``strict``: "true" is not a boolean and "5" is not a number in a configuration change.
Num = Annotated[float, Field(strict=True)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LlmProvider(_Section):
    active: str | None = Field(
        None, description="extractive | local | azure-openai | aws-bedrock | openai"
    )
    model: str | None = Field(None, max_length=200, description="Deployment, model id or name.")
    temperature: Num | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=32768, strict=True)
    fallback_model: str | None = Field(None, max_length=200, description="'provider/model'.")
    connect_timeout: Num | None = Field(
        None, gt=0, le=600, description="Seconds; null: the provider's default."
    )
    read_timeout: Num | None = Field(
        None,
        gt=0,
        le=3600,
        description="Seconds for the reply, or per token when streaming; null: the provider's.",
    )


class EmbeddingProvider(_Section):
    active: str | None = None
    model: str | None = Field(None, max_length=200)


class RetrievalConfig(_Section):
    top_k: int | None = Field(None, ge=1, strict=True)
    min_relevance_score: Num | None = Field(None, ge=0.0, le=1.0)
    reranking_enabled: StrictBool | None = None


class GuardrailsConfig(_Section):
    content_safety: StrictBool | None = Field(None, description="Toxicity check on input.")
    pii_detection: StrictBool | None = Field(None, description="Always on; false is refused.")
    mask_pii: StrictBool | None = Field(None, description="Mask PII (true) or refuse (false).")
    injection_detection: StrictBool | None = None
    groundedness_check: StrictBool | None = None
    claim_verification: StrictBool | None = Field(
        None, description="Also verify a generative answer's claims with a model (one call)."
    )
    judge_model: str | None = Field(
        None, max_length=200, description="'provider/model' that verifies; null: the answer's."
    )
    max_input_length: int | None = Field(
        None,
        ge=50,
        le=MAX_MESSAGE_CHARS,
        strict=True,
        description=f"Characters per message; the API refuses more than {MAX_MESSAGE_CHARS}.",
    )
    max_output_length: int | None = Field(None, ge=50, le=100_000, strict=True)
    toxicity_threshold: Num | None = Field(None, description="Not supported: rule-based checks.")


class ConfigUpdate(_Section):
    """A partial update: only the sections and keys sent change."""

    llm_provider: LlmProvider | None = None
    embedding_provider: EmbeddingProvider | None = None
    retrieval_config: RetrievalConfig | None = None
    guardrails: GuardrailsConfig | None = None
    expected_version: int | None = Field(
        None, description="Refuse (409) unless the active version is this one."
    )


def store(services: Annotated[Services, Depends(get_services)]) -> RuntimeConfigStore:
    return runtime_store_for(services)


Store = Annotated[RuntimeConfigStore, Depends(store)]


def _patch(body: ConfigUpdate) -> dict[str, dict[str, Any]]:
    sections = body.model_dump(exclude_unset=True, exclude={"expected_version"})
    return {
        name: {k: v for k, v in (values or {}).items() if v is not None or k in _NULLABLE}
        for name, values in sections.items()
    }


def _view(version: ConfigVersion) -> dict[str, Any]:
    return {
        **to_api(version.settings),
        "version": version.version,
        "updated_at": version.summary()["created_at"],
        "updated_by": version.created_by,
    }


def _saved(request: Request, version: ConfigVersion, changes: list[str]) -> JSONResponse:
    message = "Configuration updated successfully" if changes else "No changes"
    data = {
        "message": message,
        "updated_at": version.summary()["created_at"],
        "changes": changes,
        "version": version.version,
    }
    return ok(request, data)


@router.get("")
async def get_config(request: Request, _: Admin, runtime: Store) -> JSONResponse:
    """The active configuration (code defaults until an admin saves one)."""
    return ok(request, _view(await run_in_threadpool(runtime.active)))


@router.put("")
async def update_config(
    request: Request, body: ConfigUpdate, admin: Admin, runtime: Store
) -> JSONResponse:
    """Validate and store a new version; effective on every worker's next turn."""
    patch = _patch(body)
    settings, reranker = runtime.settings, runtime.reranker_available

    def make(current: dict[str, Any], _: int) -> tuple[dict[str, Any], list[str]]:
        return apply_update(current, patch, settings, reranker_available=reranker)

    version, changes = await run_in_threadpool(
        lambda: runtime.commit(
            make, created_by=str(admin["user_id"]), expected_version=body.expected_version
        )
    )
    return _saved(request, version, changes)


@router.get("/history")
async def history(
    request: Request,
    _: Admin,
    runtime: Store,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0),
) -> JSONResponse:
    """Every saved version, newest first, with who saved it and what changed."""
    versions, total = await run_in_threadpool(runtime.history, limit, offset)
    items = [{**v.summary(), "settings": to_api(v.settings)} for v in versions]
    return ok(request, {"versions": items, "total": total, "limit": limit, "offset": offset})


@router.post("/versions/{version}/activate")
async def activate(request: Request, version: int, admin: Admin, runtime: Store) -> JSONResponse:
    """Roll back: store version ``version``'s values (0: the code defaults) as a new version."""
    old = (
        runtime.defaults()
        if version == 0
        else (await run_in_threadpool(runtime.get, version)).settings
    )
    settings, reranker = runtime.settings, runtime.reranker_available
    await run_in_threadpool(lambda: validate(old, settings, reranker_available=reranker))

    def make(current: dict[str, Any], _: int) -> tuple[dict[str, Any], list[str]]:
        return old, changed_keys(current, old)

    saved, changes = await run_in_threadpool(
        lambda: runtime.commit(make, created_by=str(admin["user_id"]), rolled_back_from=version)
    )
    return _saved(request, saved, changes)
