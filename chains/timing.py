"""Node wall time: every node adds its milliseconds to ``timings``, so a turn reports where its
time went (the REST response and the analytics carry it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from langchain_core.runnables import RunnableConfig

from chains.state import ChatState

Node = Callable[[ChatState, RunnableConfig], dict[str, Any]]


def timed(name: str) -> Callable[[Node], Node]:
    """Adds the node's wall time (ms) to ``timings`` so every turn reports where time went."""

    def wrap(fn: Node) -> Node:
        @wraps(fn)
        def inner(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
            start = time.perf_counter()
            update = fn(state, config)
            timings = dict(state.get("timings") or {})
            timings[name] = round(timings.get(name, 0.0) + (time.perf_counter() - start) * 1000, 2)
            return {**update, "timings": timings}

        return inner

    return wrap
