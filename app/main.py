"""FastAPI app factory: routes, envelope, limits, and the services' lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.base import BaseHTTPMiddleware

from app.analytics import install_analytics, start_analytics, stop_analytics
from app.auth.admin_users import router as admin_users_router
from app.auth.api_key_routes import router as api_keys_router
from app.auth.deps import require_role
from app.auth.login_page import router as login_router
from app.auth.routes import router as users_router
from app.auth.service import auth_service_for
from app.auth.startup import bootstrap_dev_admin, check_auth_config
from app.envelope import install_error_handlers
from app.inbox.routes import router as inbox_router
from app.limits import BodySizeLimit
from app.observability import metrics, request_middleware
from app.observability import router as metrics_router
from app.ratelimit import install as install_rate_limits
from app.routers import (
    admin_audit,
    admin_handoff,
    admin_prompts,
    agent,
    chat,
    embeddings,
    handoff,
    health,
    knowledge_base,
)
from app.routers.admin_config import router as admin_config_router
from app.routers.analytics import router as analytics_router
from app.routers.langserve_chat import mount_langserve
from app.text_guard import TextGuard
from app.tracing import configure_tracing, stop_tracing
from app.widget.dev import ensure_dev_site_key
from app.widget.setup import install_widget
from chains.chat import ChatService
from chains.guardrails.guard import warm_up
from chains.handoff.bus import make_bus
from chains.local_llm.server import serve_if_wanted
from chains.resources import resources_from_stack, set_resources
from chains.session_locks import make_locks
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
    check_auth_config(settings)  # production without JWT/PII keys must not start

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or build_services(settings)
        app.state.services = svc
        events = start_analytics(app, svc)
        app.state.chat = ChatService(
            svc.db,
            session_ttl_seconds=settings.session_ttl_seconds,
            history_window=settings.max_history_length,
            on_turn=metrics(app).observe_turn,
            cache=svc.cache,
            events=events,
            bus=make_bus(settings.redis_url),  # live events across API processes with Redis
            locks=make_locks(settings.redis_url),  # one turn at a time per session, everywhere
        )
        app.state.chat.handoffs.on_event = metrics(app).handoff.observe
        resources = resources_from_stack(svc)
        set_resources(resources)
        auth_service_for(svc.extras, svc.db, settings)  # indexes now, not on a first request
        if services is None:
            bootstrap_dev_admin(svc)
            ensure_dev_site_key(svc)  # /widget/demo embeds it
        tracing = configure_tracing(settings)
        warm_up()  # guardrails-ai's first import costs ~2 s: pay it at start-up, not on a turn
        if settings.ingest_sample_kb and services is None:
            threading.Thread(target=ingest_sample_kb_once, args=(svc,), daemon=True).start()
        children = ExitStack()
        try:
            # The local model's server, a child process, when LLM=local or the admin chose it.
            children.enter_context(serve_if_wanted(settings, resources.runtime))
            yield
        finally:
            children.close()
            app.state.services = None
            app.state.chat = None
            stop_analytics(app)  # flushes queued events while MongoDB is still up
            set_resources(None)
            if tracing:
                stop_tracing()
            await app.state.rate_limiter.aclose()
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

    app.add_middleware(TextGuard)  # inside the body limit: buffers capped bodies only
    app.add_middleware(BodySizeLimit, limit_for=limit_for)
    install_analytics(app)  # 5xx -> ``error`` events; writer counters on /metrics
    install_rate_limits(app, settings)  # inside the request-id middleware: 429s are logged too
    app.add_middleware(BaseHTTPMiddleware, dispatch=request_middleware)
    metrics(app)
    # Prometheus scrapes with an admin Bearer token or API key (`authorization` in scrape config).
    app.include_router(metrics_router, dependencies=[Depends(require_role("admin"))])
    for router in (
        health.router,
        login_router,
        api_keys_router,
        admin_users_router,
        knowledge_base.router,
        embeddings.router,
        chat.router,
        handoff.router,
        agent.router,
        admin_handoff.router,
        chat.feedback_router,
        users_router,
        admin_prompts.router,
        admin_audit.router,
        admin_config_router,
        analytics_router,
        inbox_router,
    ):
        app.include_router(router)
    mount_langserve(app)
    if settings.cors_origin_list:  # added last: outermost, so 401s and preflights get headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    # Widget: site keys, visitor sessions, /widget.js, /widget/demo; its CORS goes outermost.
    install_widget(app, settings)
    return app


def app_factory() -> Any:
    """Entry point for ``uvicorn --factory app.main:app_factory``."""
    return create_app()
