"""Hybrid retrieval: dense vectors plus BM25, fused into one 0..1 relevance score.

relevance = alpha * max(cosine, 0) + (1 - alpha) * bm25 / (bm25 + k)

Both parts are absolute (not min-max scaled per query), so ``min_relevance_score`` means the same
thing for every query and on every vector store: cosine is the same on the local store and on
Pinecone, and BM25 comes from the same keyword index in both set-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from loaders.errors import InvalidInput
from loaders.filters import Filter, normalize_filter
from loaders.keyword_index import KeywordIndex

SearchMode = Literal["hybrid", "dense", "keyword"]
_WORD = re.compile(r"[\w']+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass
class SearchHit:
    """One retrieved chunk in the seed's search-result shape."""

    chunk_id: str
    document: Document
    relevance_score: float
    dense_score: float = 0.0
    keyword_score: float = 0.0
    rerank_score: float | None = None
    highlights: list[str] = field(default_factory=list)

    def as_result(self) -> dict[str, Any]:
        md = self.document.metadata
        return {
            "document_id": md.get("document_id"),
            "chunk_id": self.chunk_id,
            "title": md.get("document_title") or md.get("title"),
            "content": self.document.page_content,
            "relevance_score": round(self.relevance_score, 4),
            "document_type": md.get("document_type"),
            "category": md.get("category"),
            "metadata": {
                k: md.get(k)
                for k in (
                    "tags",
                    "language",
                    "source",
                    "page_number",
                    "heading_path",
                    "chunk_index",
                    "navigation",
                    "author",
                    "version",
                    "priority",
                )
                if md.get(k) is not None
            },
            "highlights": self.highlights,
        }


@dataclass
class SearchLimits:
    max_top_k: int = 50
    max_query_chars: int = 1000


class HybridSearcher:
    """Searches a dense store and the keyword index and fuses the two rankings."""

    def __init__(
        self,
        dense: VectorStore,
        keyword: KeywordIndex,
        embeddings: Embeddings,
        *,
        alpha: float = 0.75,
        bm25_k: float = 16.0,
        limits: SearchLimits | None = None,
        reranker: Any | None = None,
    ) -> None:
        self.dense = dense
        self.keyword = keyword
        self.embeddings = embeddings
        self.alpha = alpha
        self.bm25_k = bm25_k
        self.limits = limits or SearchLimits()
        self.reranker = reranker

    def validate(self, query: str, top_k: int, min_relevance: float) -> str:
        query = (query or "").strip()
        if not query:
            raise InvalidInput("The search query is empty.", code="EMPTY_QUERY")
        if len(query) > self.limits.max_query_chars:
            raise InvalidInput(
                f"The search query is {len(query)} characters long; the limit is "
                f"{self.limits.max_query_chars}.",
                code="QUERY_TOO_LONG",
            )
        if not 1 <= top_k <= self.limits.max_top_k:
            raise InvalidInput(
                f"top_k must be between 1 and {self.limits.max_top_k}.", code="TOP_K_OUT_OF_RANGE"
            )
        if not 0.0 <= min_relevance <= 1.0:
            raise InvalidInput(
                "min_relevance_score must be between 0 and 1.", code="MIN_RELEVANCE_OUT_OF_RANGE"
            )
        return query

    def search(
        self,
        query: str,
        *,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
        min_relevance: float = 0.0,
        mode: SearchMode = "hybrid",
        rerank: bool = True,
    ) -> list[SearchHit]:
        """Top ``top_k`` chunks at or above ``min_relevance`` (0..1), best first; ``rerank``
        False skips the cross-encoder (an admin's runtime switch)."""
        query = self.validate(query, top_k, min_relevance)
        flt = normalize_filter(filters)
        n = max(top_k * 4, 20)
        dense = self._dense(query, n, flt) if mode != "keyword" else {}
        lexical = self._keyword(query, n, flt) if mode != "dense" else {}
        hits = self._fuse(dense, lexical, mode)
        if rerank and self.reranker is not None and hits:
            hits = self.reranker.rerank(query, hits[: max(top_k * 3, 10)])
        terms = query_terms(query)
        out = [h for h in hits if h.relevance_score >= min_relevance][:top_k]
        for h in out:
            h.highlights = highlights(h.document.page_content, terms)
        return out

    def _dense(self, query: str, n: int, flt: Filter) -> dict[str, tuple[Document, float]]:
        vector = self.embeddings.embed_query(query)
        found = self.dense.similarity_search_by_vector_with_score(  # type: ignore[attr-defined]
            vector, k=n, filter=flt or None
        )
        return {str(d.id): (d, float(s)) for d, s in found if d.id}

    def _keyword(self, query: str, n: int, flt: Filter) -> dict[str, tuple[Document, float]]:
        return {str(d.id): (d, float(s)) for d, s in self.keyword.search(query, n, flt or None)}

    def _fuse(
        self,
        dense: dict[str, tuple[Document, float]],
        lexical: dict[str, tuple[Document, float]],
        mode: SearchMode,
    ) -> list[SearchHit]:
        alpha = {"hybrid": self.alpha, "dense": 1.0, "keyword": 0.0}[mode]
        hits = []
        for cid in dense.keys() | lexical.keys():
            doc = (lexical.get(cid) or dense[cid])[0]
            cos = max(dense[cid][1], 0.0) if cid in dense else 0.0
            bm = lexical[cid][1] if cid in lexical else 0.0
            sat = bm / (bm + self.bm25_k) if bm > 0 else 0.0
            score = alpha * min(cos, 1.0) + (1 - alpha) * sat
            hits.append(SearchHit(cid, doc, score, dense_score=cos, keyword_score=bm))
        hits.sort(key=lambda h: (-h.relevance_score, h.chunk_id))
        return hits


def query_terms(query: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(query) if len(w) > 2}


def highlights(text: str, terms: set[str], limit: int = 2) -> list[str]:
    """Up to ``limit`` sentences of ``text`` sharing the most words with the query."""
    scored = []
    for i, sentence in enumerate(s.strip() for s in _SENTENCE.split(text)):
        words = {w.lower() for w in _WORD.findall(sentence)}
        overlap = sum(1 for t in terms if t in words or any(w.startswith(t[:5]) for w in words))
        if overlap and sentence:
            scored.append((-overlap, i, sentence[:300]))
    return [s for _, _, s in sorted(scored)[:limit]]


__all__ = ["HybridSearcher", "SearchHit"]
