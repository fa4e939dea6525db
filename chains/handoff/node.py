"""The graph's ``held`` node: a person has the conversation, so the bot only says so.

Reached from ``guard`` when the server bound the session's handoff state (LangServe and any
client that runs the graph); the REST API does not run the graph for a held session at all.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from chains.configuration import Configuration
from chains.state import ChatState
from chains.timing import timed

WAITING_TEXT = (
    "You asked to talk to a person, and a member of our support team will reply here. "
    "The assistant will not answer in the meantime."
)
WITH_AGENT_TEXT = (
    "A member of our support team has this conversation and will reply here; "
    "the assistant is not answering."
)


@timed("held")
def held(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """Answer that a person has (or will take) the conversation; confidence 0, no sources."""
    cfg = Configuration.from_runnable_config(config)
    text = WITH_AGENT_TEXT if cfg.handoff_state == "with_agent" else WAITING_TEXT
    return {"answer": text, "sources": [], "confidence_score": 0.0}
