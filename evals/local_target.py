"""``--target local``: the chat graph in this process, over an eval copy of the sample KB.

The eval KB never touches the server's data: it lives in ``<DATA_DIR>/evals/kb-<fingerprint>``
with its own embedded nx-27017 (or, when ``MONGODB_URI`` is set, in database
``<MONGODB_NAME>_eval_<fingerprint>``) and the local vector store. The fingerprint covers the
sample KB files, the embedding model and the chunking settings, so a rerun reuses the ingested
KB (a few seconds saved per run) and a change to any of them builds a new one.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig

from evals.turns import Passage, Turn
from loaders.settings import Settings
from loaders.stack import Services

INGEST_KEYS = {
    "chunking": "default_chunking_strategy",
    "chunk_size": "default_chunk_size",
    "chunk_overlap": "default_chunk_overlap",
}
"""``--set`` keys that change how the eval KB is built (they are ingestion settings)."""


def kb_fingerprint(settings: Settings) -> str:
    """Hash of what the ingested eval KB depends on."""
    from loaders.sample import MANIFEST, SAMPLE_KB_DIR, read_manifest

    digest = hashlib.sha256()
    for name in [MANIFEST, *sorted(read_manifest(SAMPLE_KB_DIR))]:
        digest.update(name.encode())
        digest.update((SAMPLE_KB_DIR / name).read_bytes())
    knobs = (
        settings.embedding_spec,
        settings.hf_model_path,
        settings.embedding_backend,
        settings.default_chunking_strategy,
        settings.default_chunk_size,
        settings.default_chunk_overlap,
        settings.min_chunk_tokens,
    )
    digest.update(repr(knobs).encode())
    # How files become chunks is code, not settings: a parser or splitter change re-ingests.
    from loaders import parsers, splitters

    for module in (parsers, splitters):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:12]


def eval_settings(base: Settings, ingest: dict[str, Any] | None = None) -> Settings:
    """Settings for the eval stack: ingestion overrides applied, its own data dir and DB."""
    changes = {INGEST_KEYS[k]: v for k, v in (ingest or {}).items()}
    settings = base.model_copy(update=changes)
    fp = kb_fingerprint(settings)
    return settings.model_copy(
        update={
            "data_dir": Path(base.data_dir) / "evals" / f"kb-{fp}",
            "mongodb_name": f"{base.mongodb_name}_eval_{fp}",
            "vector_store": "local",
            "ingest_sample_kb": False,
        }
    )


def ingest_sample_if_empty(svc: Services) -> int:
    """Ingest the sample KB with the settings' chunking unless the store already holds it."""
    from loaders.sample import sample_items

    if svc.keyword.count() > 0:
        return 0
    s = svc.settings
    n = 0
    for data, opts in sample_items(
        chunking_strategy=s.default_chunking_strategy,
        chunk_size=s.default_chunk_size,
        chunk_overlap=s.default_chunk_overlap,
    ):
        svc.kb.ingest(data, opts.validated(max_tokens=svc.kb.max_tokens))
        n += 1
    return n


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


class LocalTarget:
    """Runs turns through ``ChatService``'s runnable (history in MongoDB, as the API does)."""

    name = "local"

    def __init__(self, services: Services, *, owned: bool = False) -> None:
        from chains.chat import ChatService
        from chains.guardrails import warm_up
        from chains.resources import resources_from_stack, set_resources

        self.services = services
        self.owned = owned
        self.resources = resources_from_stack(services)
        set_resources(self.resources)
        self.chat = ChatService(services.db, history_window=services.settings.max_history_length)
        warm_up()

    @classmethod
    def open(cls, base: Settings, ingest: dict[str, Any] | None = None) -> LocalTarget:
        """Build (or reopen) the eval stack from settings and make sure the KB is ingested."""
        from loaders.stack import build_services

        services = build_services(eval_settings(base, ingest), start_worker=False)
        try:
            ingest_sample_if_empty(services)
            return cls(services, owned=True)
        except BaseException:
            services.close()
            raise

    def check_config(self, config: dict[str, Any]) -> None:
        """A ``prompt_version`` no template has would silently run the active prompts."""
        version = config.get("prompt_version")
        if not version:
            return
        templates = self.resources.prompts.list_templates()
        if not any(str(version) in info.versions for info in templates):
            from loaders.errors import InvalidInput

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

        set_resources(self.resources)  # an app started in this process may have replaced it
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

    @property
    def embeddings(self) -> Any:
        return self.services.embeddings

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
    )
