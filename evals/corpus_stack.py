"""One corpus's eval stack for ``--target local``: turns through the chat graph in process.

``LocalTarget`` (``evals/local_target.py``) builds one per corpus; this module owns how a turn
is run and what it reports (answer, retrieved passages with their heading paths, confidence).
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig

from evals.corpora import SAMPLE_KB
from evals.turns import Passage, Turn
from loaders.errors import InvalidInput
from loaders.stack import Services


class _RetrievedPassages(BaseCallbackHandler):
    """Keeps the ``retrieve`` node's documents: the chat output only carries cited sources."""

    def __init__(self) -> None:
        self.runs: set[UUID] = set()
        self.documents: list[Any] = []

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("name") == "retrieve" and (metadata or {}).get("langgraph_node"):
            self.runs.add(run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id in self.runs and isinstance(outputs, dict):
            self.documents = list(outputs.get("documents") or [])


class CorpusStack:
    """One corpus's eval stack: runs turns through ``ChatService``'s runnable (history in
    MongoDB, as the API does) over that corpus's own services."""

    name = "local"

    def __init__(self, services: Services, *, corpus: str = SAMPLE_KB, owned: bool = False) -> None:
        from chains.chat import ChatService
        from chains.guardrails import warm_up
        from chains.resources import resources_from_stack, set_resources

        self.services = services
        self.corpus = corpus
        self.owned = owned
        self.resources = resources_from_stack(services)
        set_resources(self.resources)
        self.chat = ChatService(services.db, history_window=services.settings.max_history_length)
        warm_up()

    def for_dataset(self, dataset: str) -> CorpusStack:
        return self

    def check_config(self, config: dict[str, Any]) -> None:
        """A ``prompt_version`` no template has would silently run the active prompts."""
        version = config.get("prompt_version")
        if not version:
            return
        templates = self.resources.prompts.list_templates()
        if not any(str(version) in info.versions for info in templates):
            raise InvalidInput(
                f"No prompt template has a version {version!r}; add it under prompts/templates/"
                "<name>/ (and its manifest.json) to evaluate it locally.",
                code="EVAL_BAD_SET",
            )

    def new_session(self) -> str:
        return str(self.chat.sessions.create(None, "api", {"source": "eval"})["session_id"])

    def ask(self, session_id: str, question: str, config: dict[str, Any]) -> Turn:
        from chains.chat import complete_configurable
        from chains.resources import set_resources

        set_resources(self.resources)  # another stack, or an app in this process, replaced it
        self.chat.sessions.get_active(session_id)
        capture = _RetrievedPassages()
        run_config: RunnableConfig = {
            "configurable": complete_configurable({**config, "session_id": session_id}),
            "callbacks": [capture],
        }
        start = time.perf_counter()
        with self.chat.turn_lock(session_id):
            out: dict[str, Any] = self.chat.runnable.invoke({"question": question}, run_config)
        latency = (time.perf_counter() - start) * 1000
        message = out.get("message")
        meta = getattr(message, "additional_kwargs", {}) or {}
        confidence = out.get("confidence_score")
        return Turn(
            answer=str(out.get("answer", "")),
            passages=[_passage(i, d) for i, d in enumerate(capture.documents, start=1)],
            sources=list(out.get("sources") or []),
            guardrails=dict(out.get("guardrails") or {}),
            usage=dict(out.get("usage") or {}),
            timings=dict(out.get("timings") or {}),
            latency_ms=round(latency, 2),
            escalated=out.get("escalation") is not None,
            provider=str((meta.get("ai_metadata") or {}).get("provider", "")),
            confidence=None if confidence is None else float(confidence),
        )

    def describe(self) -> dict[str, Any]:
        """Where the eval KB is and which prompt versions are active."""
        s = self.services.settings
        prompts = {
            info.name: info.active_version for info in self.resources.prompts.list_templates()
        }
        return {
            "target": "local",
            "kb_dir": str(s.data_dir),
            "chunks": self.services.keyword.count(),
            "embedding_model": s.embedding_spec,
            "chunking": s.default_chunking_strategy,
            "active_prompts": prompts,
        }

    def close(self) -> None:
        from chains.resources import set_resources

        set_resources(None)
        if self.owned:
            self.services.close()


def _passage(n: int, doc: Any) -> Passage:
    md = doc.metadata
    return Passage(
        n=n,
        chunk_id=str(doc.id or ""),
        source=str(md.get("source") or ""),
        title=str(md.get("document_title") or md.get("title") or ""),
        text=str(doc.page_content),
        relevance_score=float(md.get("relevance_score", 0.0)),
        heading_path=str(md.get("heading_path") or ""),
    )
