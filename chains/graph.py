"""The support chat graph: guard -> retrieve -> generate -> validate, with refuse, no_answer,
handoff, held and finalize. Exported as ``graph`` for LangServe, ``langgraph dev`` and the evals."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from chains import nodes, replies, routing
from chains.configuration import Configuration
from chains.handoff.node import held
from chains.state import ChatInput, ChatOutput, ChatState


def build_graph() -> StateGraph:
    builder = StateGraph(
        ChatState, context_schema=None, input_schema=ChatInput, output_schema=ChatOutput
    )
    # Every node by name. Typed ``Any``: the ``timed`` wrappers hide LangGraph's node protocol
    # from mypy, though their ``(state, config)`` signature is the one it calls.
    named: dict[str, Any] = {
        "guard": nodes.guard,
        "retrieve": nodes.retrieve,
        "generate": nodes.generate,
        "validate": nodes.validate,
        "refuse": replies.refuse,
        "no_answer": replies.no_answer,
        "handoff": replies.handoff,
        "held": held,  # a person has the conversation: the bot only says so
        "finalize": replies.finalize,
    }
    for name, node in named.items():
        builder.add_node(name, node)

    builder.add_edge(START, "guard")
    builder.add_conditional_edges("guard", routing.after_guard)
    builder.add_conditional_edges("retrieve", routing.after_retrieve)
    builder.add_edge("generate", "validate")
    builder.add_conditional_edges("validate", routing.after_validate)
    for terminal in ("refuse", "no_answer", "handoff", "held"):
        builder.add_edge(terminal, "finalize")
    builder.add_edge("finalize", END)
    return builder


graph = build_graph().compile()
graph.name = "SupportChat"

__all__ = ["Configuration", "build_graph", "graph"]
