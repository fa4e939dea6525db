"""The chat graph on LangServe at ``/chat``: invoke, batch, stream, stream_events, playground.

A thin layer (LangServe is in maintenance upstream): the server, never the client, decides the
session and user in ``config["configurable"]``. Every route (invoke, batch, stream, stream_log,
stream_events, playground, schemas) carries the auth dependency; ``bind_session`` runs once per
config, and for a batch with a list of configs once per item, so no item can name a session
its caller does not own.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from langserve import add_routes

from app.auth.access import owned_active_session
from app.auth.deps import authenticated_user, is_admin
from app.auth.errors import InvalidToken
from app.observability import metrics
from app.routers.chat import _session_id
from chains.chat import complete_configurable, history_factory, with_history
from chains.handoff.state import is_held, state_of


def mount_langserve(app: FastAPI) -> None:
    add_routes(
        app,
        with_history(history_factory(lambda: app.state.chat), metrics(app).observe_turn),
        path="/chat",
        per_req_config_modifier=bind_session,
        dependencies=[Depends(authenticated_user)],
        enable_feedback_endpoint=False,
        playground_type="default",
    )


def bind_session(config: dict[str, Any], request: Request) -> dict[str, Any]:
    """Server-side binding: ``user_id`` is the caller's; a given ``session_id`` must be the
    caller's own active session (404 / 403 / 410), none means a new one. Only admins keep their
    per-request overrides (model, temperature...): anyone else gets the server's settings."""
    user = getattr(request.state, "user", None)
    if not user:  # the route dependency sets it; never run a turn without a caller
        raise InvalidToken("Authentication required.")
    chat = request.app.state.chat
    sent = dict(config.get("configurable") or {})
    sid = str(sent.get("session_id") or "")
    if sid:
        doc = owned_active_session(chat.sessions, _session_id(sid), user)
    else:
        doc = chat.sessions.create(user["user_id"], "api")
        sid = doc["session_id"]
    configurable = sent if is_admin(user) else {}
    # A person holding the session silences the bot (the graph's ``held`` node), whoever asks.
    configurable.update(
        session_id=sid,
        user_id=str(user["user_id"]),
        handoff_state=state_of(doc) if is_held(doc) else None,
    )
    return {**config, "configurable": complete_configurable(configurable)}
