"""Edges of the chat graph: pure functions of state, no I/O, no model calls."""

from __future__ import annotations

from typing import Literal

from chains.state import ChatState


def after_guard(state: ChatState) -> Literal["retrieve", "refuse", "handoff", "held"]:
    return state.get("route", "refuse")


def after_retrieve(state: ChatState) -> Literal["generate", "no_answer"]:
    return "generate" if state.get("documents") else "no_answer"


def after_validate(state: ChatState) -> Literal["finalize", "generate", "no_answer"]:
    verdict = state.get("verdict", "dont_know")
    if verdict == "pass":
        return "finalize"
    if verdict in ("retry", "fallback"):
        return "generate"
    return "no_answer"
