"""What the graph's nodes use at run time: retrieval, prompts, settings, embeddings.

The server registers its own stack at start-up (``set_resources``). Anything else that runs the
compiled graph (``langgraph dev``, the eval CLI, tests) gets a stack built on first use from
settings, never at import.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings

from loaders.retrieval import HybridSearcher
from loaders.settings import Settings, get_settings


@dataclass
class ChatResources:
    settings: Settings
    searcher: HybridSearcher
    embeddings: Embeddings
    prompts: Any  # prompts.store.PromptStore
    owner: Any | None = None  # the stack to close, when we built it


_lock = threading.Lock()
_current: ChatResources | None = None


def set_resources(resources: ChatResources | None) -> None:
    global _current
    with _lock:
        _current = resources


def get_resources() -> ChatResources:
    """The registered resources, or a stack built from settings on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = _build(get_settings())
        return _current


def resources_from_stack(stack: Any) -> ChatResources:
    """Chat resources over an already-built knowledge-base stack (shares its clients)."""
    from prompts.store import PromptStore

    prompts = PromptStore(stack.db)
    prompts.seed_from_files()
    return ChatResources(
        settings=stack.settings,
        searcher=stack.searcher,
        embeddings=stack.embeddings,
        prompts=prompts,
    )


def _build(settings: Settings) -> ChatResources:
    from loaders.stack import build_services

    stack = build_services(settings, start_worker=False)
    # Nothing else owns this stack (langgraph dev, evals): stop the embedded MongoDB on exit.
    atexit.register(stack.close)
    resources = resources_from_stack(stack)
    resources.owner = stack
    return resources
