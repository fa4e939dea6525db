"""FastAPI app factory: routes, envelope, limits, and the services' lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware

from app.auth.routes import router as users_router
from app.envelope import install_error_handlers
from app.limits import BodySizeLimit
from app.observability import metrics, request_middleware
from app.observability import router as metrics_router
from app.routers import chat, embeddings, health, knowledge_base
from app.routers.langserve_chat import mount_langserve
from chains.chat import ChatService
from chains.guardrails.guard import warm_up
from chains.resources import resources_from_stack, set_resources
from loaders.settings import Settings, get_settings
from loaders.stack import Services, build_services

log = logging.getLogger(__name__)
JSON_BODY_LIMIT = 1024 * 1024
SAMPLE_MARKER = "sample_kb"


def ingest_sample_kb_once(svc: Services) -> int:
    """Queue the bundled sample KB on the very first start (a marker keeps it from returning)."""
    from loaders.sample import sample_items

    state = svc.db["app_state"]
    if state.find_one({"_id": SAMPLE_MARKER}):
        return 0
    n = 0
    for data, opts in sample_items():
        svc.worker.submit_file(data, opts)
        n += 1
    state.insert_one({"_id": SAMPLE_MARKER, "documents": n})
    log.info("queued %d sample knowledge-base documents", n)
    return n


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; ``services`` may be injected (tests), else built on start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or build_services(settings)
        app.state.services = svc
        app.state.chat = ChatService(
            svc.db,
            session_ttl_seconds=settings.session_ttl_seconds,
            history_window=settings.max_history_length,
        )
        set_resources(resources_from_stack(svc))
        warm_up()  # guardrails-ai's first import costs ~2 s: pay it at start-up, not on a turn
        if settings.ingest_sample_kb and services is None:
            threading.Thread(target=ingest_sample_kb_once, args=(svc,), daemon=True).start()
        try:
            yield
        finally:
            app.state.services = None
            app.state.chat = None
            set_resources(None)
            if services is None:
                svc.close()

    app = FastAPI(
        title="supportbot",
        version="0.1.0",
        description="Customer-support chatbot: knowledge base, search and chat.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    upload_limit = settings.max_upload_bytes + 64 * 1024

    def limit_for(path: str) -> int:
        return upload_limit if path.endswith("/documents/ingest") else JSON_BODY_LIMIT

    app.add_middleware(BodySizeLimit, limit_for=limit_for)
    app.add_middleware(BaseHTTPMiddleware, dispatch=request_middleware)
    metrics(app)
    for router in (
        health.router,
        metrics_router,
        knowledge_base.router,
        embeddings.router,
        chat.router,
        chat.feedback_router,
        users_router,
    ):
        app.include_router(router)
    mount_langserve(app)
    return app


def app_factory() -> Any:
    """Entry point for ``uvicorn --factory app.main:app_factory``."""
    return create_app()
