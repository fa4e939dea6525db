"""BM25 keyword index on SQLite FTS5, kept beside either vector store for hybrid retrieval.

Text and metadata are stored here too, so a keyword hit becomes a ``Document`` without asking
the vector store. Filter fields live in a side table (one row per field value, so list fields
such as ``tags`` match on any element) and are applied inside the SQL, before ``LIMIT``.
User queries never reach FTS5 syntax: they are cut into words, stop words dropped, and each
word quoted and OR-ed, so quotes, ``NEAR``, ``*``, ``-`` or ``col:`` in the input are just text.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from loaders.errors import InvalidInput, ServiceUnavailable
from loaders.filters import Filter, normalize_filter
from loaders.local_index import filter_values

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS doc_values (
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    doc INTEGER NOT NULL,
    PRIMARY KEY (field, value, doc)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_values_doc ON doc_values (doc);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5 (
    text, content = 'docs', content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS docs_insert AFTER INSERT ON docs BEGIN
    INSERT INTO fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS docs_delete AFTER DELETE ON docs BEGIN
    INSERT INTO fts (fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    DELETE FROM doc_values WHERE doc = old.rowid;
END;
"""
# bm25() rather than FTS5's "ORDER BY rank": FTS5 would score and sort every match before
# the filter runs; SQLite's top-k sorter scores only rows that pass it. "+rowid" stops SQLite
# from looping over the filter's rows and re-running the MATCH for each one.
_SEARCH = """
SELECT d.id, d.text, d.metadata, -hit.score FROM (
    SELECT rowid, bm25(fts) AS score FROM fts WHERE fts MATCH ? {where} ORDER BY score LIMIT ?
) AS hit JOIN docs AS d ON d.rowid = hit.rowid ORDER BY hit.score
"""
_FIELD = " AND +rowid IN (SELECT doc FROM doc_values WHERE field = ? AND value IN ({marks}))"
_DOC_FREQ = "SELECT count(*) FROM (SELECT 1 FROM fts WHERE fts MATCH ? LIMIT ?)"
_WORD = re.compile(r"[^\W_]+")
_MAX_TERMS = 32
_STOP_TEXT = (
    "a an and are as at be been but by can could did do does for from had has have how i if in "
    "into is it its me my no not of on or our so than that the their them then there these they "
    "this those to was we were what when where which who why will with would you your"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())


def query_terms(query: str) -> list[str]:
    """Distinct words of ``query`` minus stop words; words hold no FTS5 syntax characters."""
    terms = [t for t in _WORD.findall(query.lower()) if t not in STOP_WORDS]
    return list(dict.fromkeys(terms))[:_MAX_TERMS]


def match_expression(terms: Sequence[str]) -> str:
    """FTS5 query that ORs the terms, each quoted so it can only be a plain word."""
    return " OR ".join(f'"{t}"' for t in terms)


class KeywordIndex:
    """Upsertable BM25 index of chunks (id, text, metadata) in one SQLite file. Thread-safe.

    Args:
        path: The SQLite file (its directory is created if missing).
        max_postings: Optional query cost budget. BM25 scores every chunk that matches any
            term (about 0.5 us each), so with a budget, terms are used rarest first while their
            document counts sum to at most this, and the common terms left out (the least IDF)
            do not score. None ranks by exact BM25 over all terms.
    """

    def __init__(self, path: Path | str, *, max_postings: int | None = None) -> None:
        self._path = Path(path)
        self._max_postings = max_postings
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._db.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            self._db.close()
            raise ServiceUnavailable(
                f"SQLite here lacks FTS5, which keyword search needs ({exc}).", code="NO_FTS5"
            ) from exc

    def add(
        self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> None:
        """Insert or replace chunks by id (the last of duplicate ids wins)."""
        if not len(ids) == len(texts) == len(metadatas):
            raise InvalidInput("ids, texts and metadatas must have the same length.")
        last = {cid: i for i, cid in enumerate(ids)}
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM docs WHERE id = ?", [(cid,) for cid in last])
            for cid, i in last.items():
                md = metadatas[i]
                sql = "INSERT INTO docs (id, text, metadata) VALUES (?, ?, ?)"
                doc = self._db.execute(sql, (cid, texts[i], json.dumps(md, default=str))).lastrowid
                values = [(f, v, doc) for f, v in set(filter_values(md))]
                self._db.executemany("INSERT INTO doc_values VALUES (?, ?, ?)", values)

    def delete(self, ids: Sequence[str]) -> int:
        """Remove chunks by id; returns how many existed."""
        with self._lock, self._transaction():
            # rowcount sums the direct deletes only, not the rows the trigger removes.
            cur = self._db.executemany("DELETE FROM docs WHERE id = ?", [(c,) for c in ids])
        return max(cur.rowcount, 0)

    def get(self, ids: Sequence[str]) -> list[Document]:
        """Stored chunks for ``ids`` in the order asked (unknown ids are skipped)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Document] = {}
        with self._lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT id, text, metadata FROM docs WHERE id IN ({marks})"
                for cid, text, md in self._db.execute(sql, chunk):
                    found[cid] = Document(id=cid, page_content=text, metadata=json.loads(md))
        return [found[c] for c in wanted if c in found]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def search(self, query: str, k: int, flt: Filter | None = None) -> list[tuple[Document, float]]:
        """Best ``k`` chunks for ``query`` by BM25 (positive, higher is better).

        ``flt`` is a normal-form filter (a raw mapping is normalised); it is applied in SQL.
        """
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        where, params = "", []
        for field, values in normalize_filter(flt).items():
            where += _FIELD.format(marks=",".join("?" * len(values)))
            params += [field, *values]
        with self._lock:
            if self._max_postings is not None:
                terms = self._affordable(terms, self._max_postings)
            if not terms:
                return []
            sql, args = _SEARCH.format(where=where), [match_expression(terms), *params, k]
            rows = self._db.execute(sql, args).fetchall()
        return [
            (Document(id=cid, page_content=text, metadata=json.loads(md)), float(score))
            for cid, text, md, score in rows
        ]

    def _affordable(self, terms: list[str], budget: int) -> list[str]:
        """Rarest terms first while their postings fit ``budget`` (at least one term)."""
        cap = budget + 1
        freq = [(self._db.execute(_DOC_FREQ, (f'"{t}"', cap)).fetchone()[0], t) for t in terms]
        kept: list[str] = []
        total = 0
        for df, term in sorted(f for f in freq if f[0] > 0):
            if kept and total + df > budget:
                break
            kept.append(term)
            total += df
        return kept

    def optimize(self) -> None:
        """Merge FTS5 segments (worth it after a bulk load; queries get faster)."""
        with self._lock:
            self._db.execute("INSERT INTO fts (fts) VALUES ('optimize')")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
