"""The served chat runnable: the graph wrapped with MongoDB-backed message history.

LangServe (``/chat``) and the REST sessions API both run turns through ``ChatService``, so a
session has one history whatever the client. Turns of one session run one at a time (a
per-session lock) so messages keep their order and none are lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.runnables import (
    ConfigurableFieldSpec,
    Runnable,
    RunnableConfig,
    RunnableLambda,
)
from langchain_core.runnables.history import RunnableWithMessageHistory
from pymongo.database import Database
from typing_extensions import TypedDict

from chains.analytics.writer import EventSink
from chains.graph import graph
from chains.handoff.bus import EventBus, LocalBus
from chains.handoff.conversation import Conversations
from chains.handoff.state import is_held
from chains.handoff.store import Handoffs
from chains.runtime_config import with_runtime
from chains.session_locks import LocalLocks
from chains.sessions import ChatSessions, SessionHistory, ensure_chat_indexes
from chains.state import ChatOutput
from loaders.kv import KeyValueCache

log = logging.getLogger(__name__)

# Every default is "" = "not set" (the admin's runtime configuration applies): LangServe fills
# unsent fields with their defaults and the playground sends them all. Numbers are typed
# ``str | float``: a JSON-schema anyOf whose last member the playground renders as a number box
# that may stay empty. (``float | None`` adds {"type": "null"}, which crashes its form; a plain
# ``float`` cannot be empty.) ``Configuration`` turns numeric strings into numbers.
PLAYGROUND_FIELDS: tuple[tuple[str, Any, str], ...] = (
    ("model", str, "Chat model: extractive, local, azure_openai/<deployment>, bedrock/<id>, "
     "openai/<m> (empty: the admin's configuration)"),
    ("temperature", str | float, "Sampling temperature (empty: the admin's configuration)"),
    ("top_k", str | int, "Passages retrieved per turn (empty: the admin's configuration)"),
    ("prompt_version", str, "Prompt template version (empty: the active one)"),
)  # fmt: skip


def with_history(
    history: Callable[..., BaseChatMessageHistory],
    on_turn: Callable[[dict[str, Any]], None] | None = None,
) -> Runnable[Any, Any]:
    """The graph with session history; ``history(session_id, user_id, **_)`` makes it.

    The playground's configurable fields ride along in ``history_factory_config`` (LangServe
    builds its config form from these specs); the factory ignores them and the graph reads
    them from ``config["configurable"]``.
    """
    specs = [
        ConfigurableFieldSpec(
            id="session_id",
            annotation=str,
            name="Session ID",
            description="Chat session; empty starts a new one.",
            default="",
            is_shared=True,
        ),
        ConfigurableFieldSpec(
            id="user_id",
            annotation=str,
            name="User ID",
            description="Set by the server.",
            default="",
            is_shared=True,
        ),
    ]
    specs += [
        ConfigurableFieldSpec(
            id=name,
            annotation=kind,
            name=name,
            description=desc,
            default="",
            is_shared=True,
        )
        for name, kind, desc in PLAYGROUND_FIELDS
    ]
    runnable = RunnableWithMessageHistory(
        final_only(on_turn),
        history,
        input_messages_key="question",
        history_messages_key="history",
        output_messages_key="message",
        history_factory_config=specs,
    )
    # Declared so clients and the playground see one text field, not a list of messages.
    return runnable.with_types(input_type=QuestionInput)


class QuestionInput(TypedDict):
    """A customer's message; the session's history comes from MongoDB."""

    question: str


def final_only(on_turn: Callable[[dict[str, Any]], None] | None = None) -> Runnable[Any, Any]:
    """The graph as one step: ``stream`` yields the turn's output, not every node's state
    (which holds passages and the system prompt); ``astream_events`` still sees the tokens.

    ``on_turn`` sees every finished turn whatever the client (REST, LangServe), for metrics.
    """

    def done(out: Any) -> Any:
        if on_turn is not None and isinstance(out, dict):
            try:
                on_turn(out)
            except Exception:  # metrics must never fail a turn
                log.exception("on_turn hook failed")
        return out

    def run(state: dict[str, Any], config: RunnableConfig) -> Any:
        return done(graph.invoke(state, with_runtime(config)))

    async def arun(state: dict[str, Any], config: RunnableConfig) -> Any:
        config = await asyncio.to_thread(with_runtime, config)  # a MongoDB read
        return done(await graph.ainvoke(state, config))

    turn = RunnableLambda(run, afunc=arun, name="SupportChatTurn")
    return turn.with_types(output_type=ChatOutput)


def history_factory(chat: Callable[[], ChatService]) -> Callable[..., SessionHistory]:
    """A history factory with the parameter names RunnableWithMessageHistory checks (one per
    configurable field); ``chat`` is resolved per call, so the app can bind it at start-up."""

    def history(
        session_id: str,
        user_id: str = "",
        model: Any = None,
        temperature: Any = None,
        top_k: Any = None,
        prompt_version: Any = None,
    ) -> SessionHistory:
        return chat().history(session_id, user_id)

    return history


def complete_configurable(configurable: dict[str, Any]) -> dict[str, Any]:
    """RunnableWithMessageHistory wants every history-factory key present: absent ones are
    ``None`` ("not set"), never a code default that would override the runtime configuration."""
    out: dict[str, Any] = {name: None for name, _, _ in PLAYGROUND_FIELDS}
    out.update({k: v for k, v in configurable.items() if v is not None and v != ""})
    out.setdefault("user_id", "")
    return out


class ChatService:
    """Sessions + history + the graph, built once per process over one Mongo client."""

    def __init__(
        self,
        db: Database[dict[str, Any]],
        *,
        session_ttl_seconds: int = 3600,
        history_window: int = 20,
        on_turn: Callable[[dict[str, Any]], None] | None = None,
        cache: KeyValueCache | None = None,
        events: EventSink | None = None,
        bus: EventBus | None = None,
        locks: LocalLocks | None = None,
    ) -> None:
        ensure_chat_indexes(db)
        self.db = db
        self.sessions = ChatSessions(db, session_ttl_seconds, cache, events)
        self.bus = bus or LocalBus()
        self.handoffs = Handoffs(self.sessions, self.bus)
        self.conversations = Conversations(self.handoffs)
        self.sessions.on_escalation = self._escalate
        self.sessions.on_customer = self.conversations.relay
        self.window = history_window
        self.locks = locks or LocalLocks()
        self.runnable = with_history(history_factory(lambda: self), on_turn)

    def _escalate(self, session_id: str, escalation: dict[str, Any]) -> None:
        """The graph's structured escalation (the customer asked, or the bot's low-confidence
        rule) queues the session; the loop guard in ``Handoffs.request`` has the last word."""
        reason = str(escalation.get("reason") or "low_confidence")
        self.handoffs.request(
            session_id,
            reason=reason,
            summary=escalation.get("summary"),
            explicit=reason == "customer_request",
        )

    def history(self, session_id: str, user_id: str = "") -> SessionHistory:
        return SessionHistory(
            self.db, session_id, user_id=user_id or None, window=self.window, sessions=self.sessions
        )

    def turn_lock(self, session_id: str) -> AbstractContextManager[None]:
        """Turns of one session run one at a time (across processes with Redis)."""
        return self.locks.hold(session_id)

    def ask(
        self,
        session_id: str,
        question: str,
        *,
        user_id: str | None = None,
        configurable: dict[str, Any] | None = None,
        checked: bool = False,
        unless_held: bool = False,
    ) -> dict[str, Any] | None:
        """Run one turn for an active session and record it on the session; ``checked`` says
        the caller has just read the session as active (saves a MongoDB round trip).

        With ``unless_held`` the session is read again once the turn holds the session lock,
        and ``None`` comes back if a person has the conversation by then (a handoff asked for
        by the turn before, or an agent's claim, while this one waited).
        """
        if not checked and not unless_held:
            self.sessions.get_active(session_id)
        config: RunnableConfig = {
            "configurable": complete_configurable(
                {**(configurable or {}), "session_id": session_id, "user_id": user_id or ""}
            )
        }
        with self.turn_lock(session_id):
            if unless_held and is_held(self.sessions.get_active(session_id)):
                return None
            out: dict[str, Any] = self.runnable.invoke({"question": question}, config)
        return out
