"""The support chat graph: guard -> retrieve -> generate -> validate, with refuse, no_answer,
handoff and finalize. Exported as ``graph`` for LangServe, ``langgraph dev`` and the evals."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from chains import nodes, routing
from chains.configuration import Configuration
from chains.state import ChatInput, ChatOutput, ChatState

NODE_NAMES = (
    "guard",
    "retrieve",
    "generate",
    "validate",
    "refuse",
    "no_answer",
    "handoff",
    "finalize",
)


def build_graph() -> StateGraph:
    builder = StateGraph(
        ChatState, context_schema=None, input_schema=ChatInput, output_schema=ChatOutput
    )
    for name in NODE_NAMES:
        # ``timed`` wrappers hide LangGraph's node protocol from mypy; the signature is right.
        builder.add_node(name, getattr(nodes, name))  # type: ignore[call-overload]
    builder.add_edge(START, "guard")
    builder.add_conditional_edges("guard", routing.after_guard)
    builder.add_conditional_edges("retrieve", routing.after_retrieve)
    builder.add_edge("generate", "validate")
    builder.add_conditional_edges("validate", routing.after_validate)
    for terminal in ("refuse", "no_answer", "handoff"):
        builder.add_edge(terminal, "finalize")
    builder.add_edge("finalize", END)
    return builder


graph = build_graph().compile()
graph.name = "SupportChat"

__all__ = ["Configuration", "build_graph", "graph"]
