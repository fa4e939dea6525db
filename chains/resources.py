"""What the graph's nodes use at run time: retrieval, prompts, settings, embeddings.

The server registers its own stack at start-up (``set_resources``). Anything else that runs the
compiled graph (``langgraph dev``, the eval CLI, tests) gets a stack built on first use from
settings, never at import.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from loaders.retrieval import HybridSearcher
from loaders.settings import Settings, get_settings

if TYPE_CHECKING:
    from prompts.store import PromptStore


@dataclass
class ChatResources:
    settings: Settings
    searcher: HybridSearcher
    embeddings: Embeddings
    prompts: Any  # prompts.store.PromptStore
    owner: Any | None = None  # the stack to close, when we built it
    runtime: Any | None = None  # chains.runtime_config.RuntimeConfigStore; None: code defaults
    unit_vectors: Any | None = None  # loaders.unit_vectors.UnitVectors: the extractive model's


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
    from chains.runtime_config import runtime_store_for

    return ChatResources(
        settings=stack.settings,
        searcher=stack.searcher,
        embeddings=stack.embeddings,
        prompts=prompt_store_for(stack),
        runtime=runtime_store_for(stack),
        unit_vectors=getattr(stack, "unit_vectors", None),
    )


_PROMPTS_KEY = "prompt_store"
_prompts_lock = threading.Lock()  # not ``_lock``: get_resources holds it while building


def prompt_store_for(stack: Any) -> PromptStore:
    """The stack's one seeded ``PromptStore``: the chat graph and the admin prompt routes share
    its cache, so an activation through the API reaches this worker's next turn at once."""
    from prompts.store import PromptStore

    store = stack.extras.get(_PROMPTS_KEY)
    if store is None:
        with _prompts_lock:
            store = stack.extras.get(_PROMPTS_KEY)
            if store is None:
                store = PromptStore(stack.db, refresh_seconds=stack.settings.prompt_refresh_seconds)
                store.seed_from_files()
                stack.extras[_PROMPTS_KEY] = store
    return store  # type: ignore[no-any-return]


def _build(settings: Settings) -> ChatResources:
    from loaders.stack import build_services

    stack = build_services(settings, start_worker=False)
    # Nothing else owns this stack (langgraph dev, evals): stop the embedded MongoDB on exit.
    atexit.register(stack.close)
    resources = resources_from_stack(stack)
    resources.owner = stack
    return resources
