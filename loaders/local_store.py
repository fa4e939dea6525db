"""The embedded vector store (LangChain ``VectorStore``): SQLite is the truth, faiss serves.

Every write is one SQLite transaction first and an in-memory update second, so a process
killed at any point loses nothing that was committed and resurrects nothing deleted. The
in-memory index (``loaders.local_index``) is a cache: ``flush()`` snapshots it, and on open
the snapshot is reconciled with SQLite (rows past the snapshot are added, rows gone from
SQLite become tombstones) or, when missing or inconsistent, rebuilt from SQLite. Upserts
delete and re-insert, and ``AUTOINCREMENT`` never reuses a rowid, so "rowid > snapshot max"
is exactly the set of rows the snapshot has not seen.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from loaders.errors import InvalidInput
from loaders.filters import normalize_filter
from loaders.local_index import IndexConfig, VectorIndex, normalised

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""
_INSERT = "INSERT INTO chunks (id, text, metadata, vector) VALUES (?, ?, ?, ?)"
_BATCH = 500
Vectors = Sequence[Sequence[float]] | np.ndarray
Vector = Sequence[float] | np.ndarray


class LocalVectorStore(VectorStore):
    """Persistent single-process vector store with cosine scores and metadata filters.

    Thread-safe: one lock serialises writers and readers (searches take well under 10 ms).

    Args:
        path: Directory for ``store.sqlite`` and the snapshot files (created if missing).
        embedding: Embeddings used by the text-based LangChain methods.
        config: Search tuning (exact/HNSW thresholds, HNSW parameters, compaction).
    """

    def __init__(
        self, path: Path | str, embedding: Embeddings, config: IndexConfig | None = None
    ) -> None:
        self._path = Path(path)
        self._path.mkdir(parents=True, exist_ok=True)
        self._emb = embedding
        self._config = config or IndexConfig()
        self._lock = threading.RLock()
        self._db = _connect(self._path / "store.sqlite")
        self._closed = False
        with self._lock:
            self._index = self._load()

    @property
    def embeddings(self) -> Embeddings:
        return self._emb

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts``; an existing id is replaced, a missing one generated."""
        texts = list(texts)
        vectors = self._emb.embed_documents(texts) if texts else []
        return self.add_embeddings(texts, vectors, metadatas, ids)

    def add_embeddings(
        self,
        texts: Sequence[str],
        vectors: Vectors,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        ids: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Upsert pre-computed vectors (normalised here) in one transaction."""
        n = len(texts)
        mds = [dict(m) for m in metadatas] if metadatas is not None else [{} for _ in range(n)]
        out = [i or str(uuid.uuid4()) for i in (ids if ids is not None else [None] * n)]
        if not len(mds) == len(out) == len(vectors) == n:
            raise InvalidInput("texts, vectors, metadatas and ids must have the same length.")
        if n == 0:
            return []
        mat = normalised(vectors, n)
        keep = sorted({cid: i for i, cid in enumerate(out)}.values())  # last duplicate wins
        rows = [(out[i], texts[i], json.dumps(mds[i], default=str), mat[i].tobytes()) for i in keep]
        with self._lock:
            self._check_dim(mat.shape[1])
            with _transaction(self._db):
                self._db.executemany("DELETE FROM chunks WHERE id = ?", [(r[0],) for r in rows])
                rowids = [int(self._db.execute(_INSERT, r).lastrowid or 0) for r in rows]
            self._index.tombstone(r[0] for r in rows)
            self._index.append(rowids, [r[0] for r in rows], [mds[i] for i in keep], mat[keep])
            self._index.maintain()
        return out

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete by id (unknown ids are ignored). ``ids=None`` deletes nothing, on purpose."""
        if ids is None:
            return False
        with self._lock:
            with _transaction(self._db):
                self._db.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in ids])
            self._index.tombstone(ids)
            self._index.maintain()
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        wanted = list(dict.fromkeys(ids))
        with self._lock:
            docs = dict(self._fetch("id", wanted))
        return [docs[i] for i in wanted if i in docs]

    def similarity_search(
        self, query: str, k: int = 4, filter: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Top ``k`` documents with their cosine similarity to ``query``."""
        vector = self._emb.embed_query(query)
        return self.similarity_search_by_vector_with_score(vector, k, filter)

    def similarity_search_by_vector(
        self, embedding: Vector, k: int = 4, filter: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[Document]:
        return [d for d, _ in self.similarity_search_by_vector_with_score(embedding, k, filter)]

    def similarity_search_by_vector_with_score(
        self, embedding: Vector, k: int = 4, filter: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[tuple[Document, float]]:
        """Top ``k`` documents for a vector; ``filter`` is raw or normal form (see filters)."""
        flt = normalize_filter(filter)
        query = normalised(embedding, 1)
        with self._lock:
            if self._index.dim is None or k <= 0:
                return []
            self._check_dim(query.shape[1])
            hits = self._index.search(query, k, flt)
            docs = dict(self._fetch("rowid", [r for r, _ in hits]))
        return [(docs[r], s) for r, s in hits if r in docs]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: min(1.0, max(0.0, score))

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        path: Path | str | None = None,
        config: IndexConfig | None = None,
        **kwargs: Any,
    ) -> LocalVectorStore:
        """Open (or create) the store at ``path`` and add ``texts``."""
        if path is None:
            raise InvalidInput("LocalVectorStore.from_texts needs path=<directory>.")
        store = cls(path, embedding, config)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def count(self) -> int:
        """Number of live vectors."""
        with self._lock:
            return self._index.count

    def flush(self) -> None:
        """Snapshot the index so the next open neither re-reads vectors nor rebuilds HNSW."""
        with self._lock:
            self._index.save(self._path)

    def close(self) -> None:
        """Flush and close; safe to call twice."""
        with self._lock:
            if not self._closed:
                self.flush()
                self._db.close()
                self._closed = True

    def __enter__(self) -> LocalVectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self) -> VectorIndex:
        snap = VectorIndex.load(self._path, self._config)
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
        if snap is not None and snap.max_rowid <= (row[0] if row else 0):
            known = "SELECT rowid, id, metadata FROM chunks WHERE rowid <= ?"
            if snap.revive(self._db.execute(known, (snap.max_rowid,))):
                return self._catch_up(snap)
            log.warning("vector snapshot in %s disagrees with SQLite; rebuilding", self._path)
        return self._catch_up(VectorIndex(self._config))

    def _catch_up(self, index: VectorIndex) -> VectorIndex:
        """Append the SQLite rows ``index`` has not seen (all of them for a fresh index)."""
        sql = "SELECT rowid, id, metadata, vector FROM chunks WHERE rowid > ? ORDER BY rowid"
        cur = self._db.execute(sql, (index.max_rowid,))
        while rows := cur.fetchmany(5000):
            vecs = np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows])
            metas = [json.loads(r[2]) for r in rows]
            index.append([r[0] for r in rows], [r[1] for r in rows], metas, vecs)
        index.maintain()
        return index

    def _check_dim(self, dim: int) -> None:
        if self._index.dim is not None and dim != self._index.dim:
            raise InvalidInput(
                f"Vector has {dim} dimensions but this store holds {self._index.dim}.",
                code="EMBEDDING_DIM_MISMATCH",
            )

    def _fetch(self, col: str, keys: list[Any]) -> Iterator[tuple[Any, Document]]:
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i : i + _BATCH]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT rowid, id, text, metadata FROM chunks WHERE {col} IN ({marks})"
            for rowid, cid, text, metadata in self._db.execute(sql, chunk):
                doc = Document(id=cid, page_content=text, metadata=json.loads(metadata))
                yield (rowid if col == "rowid" else cid), doc


def _connect(path: Path) -> sqlite3.Connection:
    """SQLite in WAL mode with explicit transactions (``isolation_level=None``)."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process; only power loss can drop the last commits.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    return db


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed on success, rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
