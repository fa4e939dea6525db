"""The knowledge-base stack: every long-lived part, built once from settings.

Building starts the embedded MongoDB when ``MONGODB_URI`` is unset, opens the vector store and
keyword index under ``data_dir``, loads the embedding model and starts the ingestion worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from pymongo import MongoClient
from pymongo.database import Database

from loaders.embedding_cache import make_cache
from loaders.embeddings import embedding_dimension, make_embeddings, max_input_tokens
from loaders.errors import ServiceUnavailable
from loaders.indexing import RECORD_COLLECTION, KnowledgeStore, RecordManager
from loaders.jobs import IngestionWorker, JobStore
from loaders.keyword_index import KeywordIndex
from loaders.knowledge_base import KnowledgeBase
from loaders.kv import InProcessKV, KeyValueCache
from loaders.mongo import EmbeddedMongo, connect, ensure_indexes
from loaders.records import KnowledgeBaseRecords
from loaders.redis_kv import make_kv
from loaders.retrieval import HybridSearcher, SearchLimits
from loaders.settings import Settings
from loaders.tokens import TokenCounter
from loaders.unit_vectors import COLLECTION as UNIT_VECTORS
from loaders.unit_vectors import UnitVectors
from loaders.vectorstores import make_vector_store

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request or a CLI command needs; ``close()`` releases it in reverse order."""

    settings: Settings
    client: MongoClient[dict[str, Any]]
    db: Database[dict[str, Any]]
    embeddings: Embeddings
    dense: VectorStore
    keyword: KeywordIndex
    store: KnowledgeStore
    kb: KnowledgeBase
    jobs: JobStore
    worker: IngestionWorker
    searcher: HybridSearcher
    unit_vectors: UnitVectors
    mongo_server: EmbeddedMongo | None = None
    lock_file: IO[str] | None = None
    cache: KeyValueCache = field(default_factory=InProcessKV)
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.worker.stop()
        for part in (self.dense, self.keyword):
            close = getattr(part, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        self.client.close()
        if self.mongo_server:
            self.mongo_server.stop()
        if self.lock_file:
            self.lock_file.close()


def lock_data_dir(data_dir: Path) -> IO[str]:
    """One process owns ``data_dir`` (embedded stores are single-writer)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / ".lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise ServiceUnavailable(
            f"Another supportbot process is using {data_dir}. Stop it first, or upload through "
            "its REST API (POST /api/v1/knowledge-base/documents/ingest).",
            code="DATA_DIR_LOCKED",
        ) from exc
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def start_mongo(settings: Settings) -> tuple[str, EmbeddedMongo | None]:
    if settings.mongodb_uri:
        return settings.mongodb_uri, None
    server = EmbeddedMongo(settings.data_dir / "mongo" / "supportbot.db").start()
    # Written so an operator (or mongosh) can find the embedded server's random port.
    (settings.data_dir / "mongo-port").write_text(str(server.port))
    log.info("embedded MongoDB (nx-27017) on %s", server.uri)
    return server.uri, server


def make_reranker(settings: Settings) -> Any | None:
    if not settings.reranker_model_path:
        return None
    from loaders.rerank import CrossEncoderReranker

    return CrossEncoderReranker(settings.reranker_model_path)


def build_services(settings: Settings, *, start_worker: bool = True) -> Services:
    """Wire every part from ``settings``; undoes what it started when a later step fails."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    lock = lock_data_dir(settings.data_dir)
    mongo_server = None
    try:
        uri, mongo_server = start_mongo(settings)
        client = connect(uri)
        db = client[settings.mongodb_name]
        ensure_indexes(db)
        record_manager = RecordManager(db[RECORD_COLLECTION])
        record_manager.create_schema()
        spec = settings.embedding_spec
        embeddings = make_embeddings(spec, settings, cache=make_cache(settings))
        dim = embedding_dimension(embeddings)
        max_tokens = max_input_tokens(spec) - 2  # [CLS] and [SEP] take two of the window
        dense = make_vector_store(settings, embeddings, dimension=dim)
        keyword = KeywordIndex(settings.data_dir / "keyword.sqlite")
        store = KnowledgeStore(dense, keyword)
        unit_vectors = UnitVectors(db[UNIT_VECTORS], embeddings, spec)
        kb = KnowledgeBase(
            records=KnowledgeBaseRecords(db),
            store=store,
            record_manager=record_manager,
            counter=TokenCounter.from_model_dir(settings.hf_model_path),
            embedding_model=spec,
            dimension=dim,
            max_tokens=max_tokens,
            min_chunk_tokens=settings.min_chunk_tokens,
            max_upload_bytes=settings.max_upload_bytes,
            unit_vectors=unit_vectors,
        )
        jobs = JobStore(db)
        worker = IngestionWorker(kb, jobs, settings.data_dir / "uploads")
        searcher = HybridSearcher(
            dense,
            keyword,
            embeddings,
            alpha=settings.hybrid_alpha,
            bm25_k=settings.hybrid_bm25_k,
            limits=SearchLimits(settings.max_top_k, settings.max_query_chars),
            reranker=make_reranker(settings),
        )
    except BaseException:
        if mongo_server:
            mongo_server.stop()
        lock.close()
        raise
    services = Services(
        settings=settings,
        client=client,
        db=db,
        embeddings=embeddings,
        dense=dense,
        keyword=keyword,
        store=store,
        kb=kb,
        jobs=jobs,
        worker=worker,
        searcher=searcher,
        unit_vectors=unit_vectors,
        mongo_server=mongo_server,
        lock_file=lock,
        cache=make_kv(settings),
    )
    if start_worker:
        worker.start()
    return services
