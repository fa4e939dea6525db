"""``--target local``: the chat graph in this process, over eval copies of the datasets' corpora.

Each corpus a run needs (``evals/corpora.py``: the sample KB for ``kb_qa``, the Python FAQ for
``python_faq``) gets its own eval stack, so a dataset's questions are answered from its own
documents only. An eval KB never touches the server's data: it lives in
``<DATA_DIR>/evals/kb-<fingerprint>`` (``<corpus>-<fingerprint>`` for corpora other than the
sample KB) with its own embedded nx-27017 (or, when ``MONGODB_URI`` is set, in database
``<MONGODB_NAME>_eval_<fingerprint>``) and the local vector store. The fingerprint covers the
corpus files' bytes, the embedding model and the chunking settings, so a rerun reuses the
ingested KB and a change to any of them builds a new one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from evals.corpora import SAMPLE_KB, Corpus, corpus_name, get_corpus
from evals.corpus_stack import CorpusStack
from evals.turns import Turn
from loaders.errors import InvalidInput
from loaders.settings import Settings
from loaders.stack import Services

INGEST_KEYS = {
    "chunking": "default_chunking_strategy",
    "chunk_size": "default_chunk_size",
    "chunk_overlap": "default_chunk_overlap",
}
"""``--set`` keys that change how the eval KB is built (they are ingestion settings)."""


LOADERS_DIR = Path(__file__).resolve().parents[1] / "loaders"
INGEST_MODULES = ("sniff", "text_decoding", "parsers", "html_text", "code_text", "docx_html",
                  "pdf_text", "navigation", "split_blocks", "splitters", "units",
                  "knowledge_base", "document_records")  # fmt: skip
"""The modules on the path from uploaded bytes to stored chunks and unit vectors."""


def kb_fingerprint(settings: Settings, corpus: Corpus | None = None) -> str:
    """Hash of what the ingested eval KB depends on (``corpus``: the sample KB by default)."""
    digest = hashlib.sha256()
    for path in (corpus or get_corpus(SAMPLE_KB)).paths():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
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
    # How files become chunks (and answer units) is code, not settings: a change re-ingests.
    for name in INGEST_MODULES:
        digest.update((LOADERS_DIR / f"{name}.py").read_bytes())
    return digest.hexdigest()[:12]


def eval_settings(
    base: Settings, ingest: dict[str, Any] | None = None, corpus: Corpus | None = None
) -> Settings:
    """Settings for a corpus's eval stack: ingestion overrides applied, its own data dir and DB."""
    corpus = corpus or get_corpus(SAMPLE_KB)
    changes = {INGEST_KEYS[k]: v for k, v in (ingest or {}).items()}
    settings = base.model_copy(update=changes)
    fp = kb_fingerprint(settings, corpus)
    prefix = "kb" if corpus.name == SAMPLE_KB else corpus.name
    return settings.model_copy(
        update={
            "data_dir": Path(base.data_dir) / "evals" / f"{prefix}-{fp}",
            "mongodb_name": f"{base.mongodb_name}_eval_{fp}",
            "vector_store": "local",
            "ingest_sample_kb": False,
        }
    )


def ingest_corpus_if_empty(svc: Services, corpus: Corpus) -> int:
    """Ingest what of ``corpus`` the store lacks; returns how many files were indexed.

    Ingestion is idempotent (same bytes and options: nothing to do), so a run interrupted
    half-way is completed by the next one instead of being reused as it is.
    """
    s = svc.settings
    n = 0
    for data, opts in corpus.items(
        chunking_strategy=s.default_chunking_strategy,
        chunk_size=s.default_chunk_size,
        chunk_overlap=s.default_chunk_overlap,
    ):
        n += svc.kb.ingest(data, opts.validated(max_tokens=svc.kb.max_tokens)).status == "indexed"
    return n


def ingest_sample_if_empty(svc: Services) -> int:
    return ingest_corpus_if_empty(svc, get_corpus(SAMPLE_KB))


class LocalTarget:
    """One ``CorpusStack`` per corpus; ``for_dataset`` picks the stack a dataset is about.

    Built over one ``services`` (tests), it is a single stack for ``corpus``; ``open`` builds
    (or reopens) one stack per corpus a run needs. The first stack is the primary one: its
    embeddings score answers and ``describe`` reports it first.
    """

    name = "local"

    def __init__(self, services: Services, *, owned: bool = False, corpus: str = SAMPLE_KB) -> None:
        self.stacks = {corpus: CorpusStack(services, corpus=corpus, owned=owned)}

    @classmethod
    def open(
        cls,
        base: Settings,
        ingest: dict[str, Any] | None = None,
        corpora: list[Corpus] | None = None,
    ) -> LocalTarget:
        """Build (or reopen) the eval stack of each corpus and make sure each is ingested."""
        from loaders.stack import build_services

        corpora = corpora or [get_corpus(SAMPLE_KB)]
        for corpus in corpora:
            corpus.paths()  # a missing corpus fails before anything starts
        target: LocalTarget | None = None
        try:
            for corpus in corpora:
                services = build_services(eval_settings(base, ingest, corpus), start_worker=False)
                try:
                    ingest_corpus_if_empty(services, corpus)
                    if target is None:
                        target = cls(services, owned=True, corpus=corpus.name)
                    else:
                        target.stacks[corpus.name] = CorpusStack(
                            services, corpus=corpus.name, owned=True
                        )
                except BaseException:
                    services.close()
                    raise
        except BaseException:
            if target is not None:
                target.close()
            raise
        assert target is not None
        return target

    @property
    def primary(self) -> CorpusStack:
        return next(iter(self.stacks.values()))

    def for_dataset(self, dataset: str) -> CorpusStack:
        """The stack of the dataset's corpus; a single-stack target answers every dataset."""
        if len(self.stacks) == 1:
            return self.primary
        name = corpus_name(dataset)
        if name not in self.stacks:
            raise InvalidInput(
                f"Dataset {dataset} needs the {name} corpus, which this run did not open.",
                code="EVAL_CORPUS_MISSING",
            )
        return self.stacks[name]

    @property
    def services(self) -> Services:
        return self.primary.services

    @property
    def resources(self) -> Any:
        return self.primary.resources

    @property
    def embeddings(self) -> Any:
        return self.primary.services.embeddings

    def check_config(self, config: dict[str, Any]) -> None:
        for stack in self.stacks.values():
            stack.check_config(config)

    def new_session(self) -> str:
        return self.primary.new_session()

    def ask(self, session_id: str, question: str, config: dict[str, Any]) -> Turn:
        return self.primary.ask(session_id, question, config)

    def describe(self) -> dict[str, Any]:
        """The primary stack's description, plus each corpus's KB dir and chunk count."""
        corpora = {
            name: {
                "kb_dir": str(stack.services.settings.data_dir),
                "chunks": stack.services.keyword.count(),
            }
            for name, stack in self.stacks.items()
        }
        return {**self.primary.describe(), "corpora": corpora}

    def close(self) -> None:
        for stack in self.stacks.values():
            stack.close()
