"""BM25 keyword index kept beside either vector store for hybrid retrieval: SQLite + memory.

SQLite is the truth: every chunk's id, text and metadata, so a keyword hit becomes a
``Document`` without asking the vector store. Ranking runs on an in-memory ``BM25Index``
(``loaders.bm25``) rebuilt from SQLite on open, with filters applied before the top ``k``.
Every write is one SQLite transaction first and an in-memory update second. User queries are
only ever cut into words, so quotes, ``NEAR``, ``*``, ``-`` or SQL in them are just text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from loaders.bm25 import STOP_WORDS, BM25Index, query_terms
from loaders.errors import InvalidInput
from loaders.filters import Filter, normalize_filter

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL
);
DROP TRIGGER IF EXISTS docs_insert;
DROP TRIGGER IF EXISTS docs_delete;
DROP TABLE IF EXISTS doc_values;
"""
_LEGACY_FTS = "DROP TABLE IF EXISTS fts"  # files written when ranking ran on SQLite FTS5
_BATCH = 5000

__all__ = ["STOP_WORDS", "KeywordIndex", "query_terms"]


class KeywordIndex:
    """Upsertable BM25 index of chunks (id, text, metadata) in one SQLite file. Thread-safe.

    Args:
        path: The SQLite file (its directory is created if missing).
    """

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        with suppress(sqlite3.OperationalError):  # an SQLite without FTS5 cannot drop it
            self._db.execute(_LEGACY_FTS)
        with self._lock:
            self._bm25 = self._load()

    def _load(self) -> BM25Index:
        index = BM25Index()
        cur = self._db.execute("SELECT rowid, id, text, metadata FROM docs ORDER BY rowid")
        while rows := cur.fetchmany(_BATCH):
            rowids, ids, texts, metas = zip(*rows, strict=True)
            index.add(ids, rowids, texts, [json.loads(m) for m in metas])
        return index

    def add(
        self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> None:
        """Insert or replace chunks by id (the last of duplicate ids wins)."""
        if not len(ids) == len(texts) == len(metadatas):
            raise InvalidInput("ids, texts and metadatas must have the same length.")
        last = {cid: i for i, cid in enumerate(ids)}
        keys, rowids = list(last), list[int]()
        sql = "INSERT INTO docs (id, text, metadata) VALUES (?, ?, ?) RETURNING rowid"
        with self._lock:
            with self._transaction():
                self._db.executemany("DELETE FROM docs WHERE id = ?", [(cid,) for cid in keys])
                for cid, i in last.items():
                    row = (cid, texts[i], json.dumps(metadatas[i], default=str))
                    rowids.append(self._db.execute(sql, row).fetchone()[0])
            index = list(last.values())
            self._bm25.add(keys, rowids, [texts[i] for i in index], [metadatas[i] for i in index])
            self._bm25.maintain()

    def delete(self, ids: Sequence[str]) -> int:
        """Remove chunks by id; returns how many existed."""
        with self._lock:
            with self._transaction():
                cur = self._db.executemany("DELETE FROM docs WHERE id = ?", [(c,) for c in ids])
            self._bm25.remove(ids)
            self._bm25.maintain()
        return max(cur.rowcount, 0)

    def get(self, ids: Sequence[str]) -> list[Document]:
        """Stored chunks for ``ids`` in the order asked (unknown ids are skipped)."""
        wanted = list(dict.fromkeys(ids))
        with self._lock:
            found = dict(self._fetch("id", wanted))
        return [found[c] for c in wanted if c in found]

    def count(self) -> int:
        with self._lock:
            return self._bm25.count

    def search(self, query: str, k: int, flt: Filter | None = None) -> list[tuple[Document, float]]:
        """Best ``k`` chunks for ``query`` by BM25 (positive, higher is better).

        ``flt`` is a normal-form filter (a raw mapping is normalised), applied before the top k.
        """
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        flt = normalize_filter(flt)
        with self._lock:
            hits = self._bm25.search(terms, k, flt)
            docs = dict(self._fetch("rowid", [rowid for rowid, _ in hits]))
        return [(docs[rowid], score) for rowid, score in hits if rowid in docs]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _fetch(self, col: str, keys: list[Any]) -> Iterator[tuple[Any, Document]]:
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT rowid, id, text, metadata FROM docs WHERE {col} IN ({marks})"
            for rowid, cid, text, md in self._db.execute(sql, chunk):
                doc = Document(id=cid, page_content=text, metadata=json.loads(md))
                yield (rowid if col == "rowid" else cid), doc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
