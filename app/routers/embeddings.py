"""Embedding routes (seed: Embedding Service APIs): generate vectors, list models."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.auth.deps import authenticated_user
from app.deps import get_services
from app.envelope import ok
from loaders.embeddings import list_models
from loaders.errors import InvalidInput
from loaders.stack import Services

router = APIRouter(
    prefix="/api/v1/embeddings", tags=["embeddings"], dependencies=[Depends(authenticated_user)]
)
MAX_TEXTS = 256
MAX_TEXT_CHARS = 8000


class GenerateRequest(BaseModel):
    texts: list[str]
    model: str | None = Field(default=None, description="Defaults to the active model.")
    batch_size: int = 32
    normalize: bool = Field(default=True, description="Vectors are always unit length.")


def _check(body: GenerateRequest, active: str) -> None:
    if not body.texts:
        raise InvalidInput("texts must hold at least one string.", code="EMPTY_TEXTS")
    if len(body.texts) > MAX_TEXTS:
        raise InvalidInput(f"At most {MAX_TEXTS} texts per request.", code="TOO_MANY_TEXTS")
    for i, text in enumerate(body.texts):
        if not text.strip():
            raise InvalidInput(f"texts[{i}] is empty.", code="EMPTY_TEXT")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(
                f"texts[{i}] is longer than {MAX_TEXT_CHARS} characters.", code="TEXT_TOO_LONG"
            )
    if not 1 <= body.batch_size <= 256:
        raise InvalidInput("batch_size must be between 1 and 256.", code="BATCH_SIZE_OUT_OF_RANGE")
    if body.model and body.model not in _aliases(active):
        raise InvalidInput(
            f"Model '{body.model}' is not active on this server; the active model is "
            f"'{active}' (switching models needs a reindex).",
            code="MODEL_NOT_AVAILABLE",
        )


def _aliases(spec: str) -> set[str]:
    provider, _, model = spec.partition("/")
    names = {spec, model}
    if provider == "huggingface":
        names.add(f"sentence-transformers/{model}")
    return names


@router.post("/generate")
def generate(
    request: Request,
    body: GenerateRequest,
    svc: Services = Depends(get_services),
) -> JSONResponse:
    spec = svc.settings.embedding_spec
    _check(body, spec)
    start = time.perf_counter()
    vectors: list[list[float]] = []
    for i in range(0, len(body.texts), body.batch_size):
        vectors.extend(svc.embeddings.embed_documents(body.texts[i : i + body.batch_size]))
    out = []
    for text, vec in zip(body.texts, vectors, strict=True):
        arr = np.asarray(vec, dtype=np.float32)
        out.append(
            {
                "text": text,
                "vector": [round(float(x), 7) for x in arr],
                "dimension": int(arr.shape[0]),
                "model": spec,
            }
        )
    return ok(
        request,
        {"embeddings": out, "processing_time_ms": round((time.perf_counter() - start) * 1000, 2)},
    )


@router.get("/models")
def models(request: Request, svc: Services = Depends(get_services)) -> JSONResponse:
    return ok(request, {"models": list_models(svc.settings)})
