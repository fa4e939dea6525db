"""Benchmark of the embedded stores: LocalVectorStore against same-run baselines, KeywordIndex.

``python -m loaders.bench.vector_store [--n 100000] [--json PATH]``. Vectors are 384-d and
unit length, drawn two ways: ``uniform`` (isotropic noise, the worst case for any ANN index;
real embeddings are not like this) and ``low-rank`` (a 32-d latent space plus 10% noise, closer
to sentence embeddings). Metadata: 4 document types, 10 categories, 2 of 20 tags; filters
select ~1% (category AND tag) and ~25% (document type). Recall@10 is against exact search
over the same allowed set. Keyword texts are ~150 words drawn with Zipf frequencies from a
5k vocabulary whose most frequent words are the English stop words, like real text.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langchain_core.embeddings import Embeddings

from loaders.bench.common import percentiles
from loaders.keyword_index import STOP_WORDS, KeywordIndex, query_terms
from loaders.local_index import IndexConfig
from loaders.local_store import LocalVectorStore

DIM = 384
FILTERS: dict[str, dict[str, list[str]]] = {
    "none": {},
    "~1%": {"category": ["c3"], "tags": ["t7"]},
    "~25%": {"document_type": ["manual"]},
}
DOC_TYPES = ["faq", "manual", "policy", "guide"]


class _NoEmbeddings(Embeddings):
    """The benchmark passes vectors; text embedding is never called."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError


def _vectors(kind: str, rng: np.random.Generator, n: int, basis: np.ndarray) -> np.ndarray:
    if kind == "uniform":
        x = rng.standard_normal((n, DIM), dtype=np.float32)
    else:
        z = rng.standard_normal((n, basis.shape[0]), dtype=np.float32)
        x = z @ basis + 0.33 * rng.standard_normal((n, DIM), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _metadata(rng: np.random.Generator, n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dtype, cat = rng.integers(0, 4, n), rng.integers(0, 10, n)
    tags = np.stack([rng.choice(20, 2, replace=False) for _ in range(n)])
    metas = [
        {"document_type": DOC_TYPES[d], "category": f"c{c}", "tags": [f"t{a}", f"t{b}"]}
        for d, c, (a, b) in zip(dtype.tolist(), cat.tolist(), tags.tolist(), strict=True)
    ]
    masks = {
        "none": np.ones(n, dtype=bool),
        "~1%": (cat == 3) & (tags == 7).any(axis=1),
        "~25%": dtype == 1,
    }
    return metas, masks


def _timed(fn: Callable[[int], Any], count: int) -> tuple[list[float], list[Any]]:
    times, out = [], []
    for i in range(count):
        start = time.perf_counter()
        out.append(fn(i))
        times.append((time.perf_counter() - start) * 1000)
    return times, out


def _recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def bench_vectors(kind: str, n: int, nq: int, workdir: Path, seed: int = 7) -> dict[str, Any]:
    """Insert ``n`` vectors, then time searches and baselines per filter."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((32, DIM), dtype=np.float32) / np.sqrt(32)
    x, q = _vectors(kind, rng, n, basis), _vectors(kind, rng, nq, basis)
    metas, masks = _metadata(rng, n)
    ids = [str(i) for i in range(n)]
    store = LocalVectorStore(workdir / kind, _NoEmbeddings(), IndexConfig())
    start = time.perf_counter()
    for i in range(0, n, 2000):
        store.add_embeddings(ids[i : i + 2000], x[i : i + 2000], metas[i : i + 2000], ids[i : i + 2000])
    insert_s = time.perf_counter() - start
    start = time.perf_counter()
    store.close()
    flush_s = time.perf_counter() - start
    start = time.perf_counter()
    store = LocalVectorStore(workdir / kind, _NoEmbeddings(), IndexConfig())
    reopen_s = time.perf_counter() - start
    flat = faiss.IndexFlatIP(DIM)
    flat.add(x)
    scores_all = q @ x.T
    rows = []
    for name, flt in FILTERS.items():
        mask = masks[name]
        truth = np.argsort(-np.where(mask, scores_all, -np.inf), axis=1)[:, :10]

        def ours(i: int, flt: dict = flt) -> list[int]:
            hits = store.similarity_search_by_vector_with_score(q[i], k=10, filter=flt)
            return [int(d.id or -1) for d, _ in hits]

        def numpy_exact(i: int, mask: np.ndarray = mask) -> np.ndarray:
            s = np.where(mask, x @ q[i], -np.inf)
            top = np.argpartition(-s, 10)[:10]
            return top[np.argsort(-s[top])]

        bits = np.packbits(mask, bitorder="little")
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))

        def faiss_flat(i: int, p: Any = params if name != "none" else None) -> Any:
            return flat.search(q[i : i + 1], 10, params=p)[1][0]

        for impl, fn in (("LocalVectorStore", ours), ("numpy exact", numpy_exact)):
            times, found = _timed(fn, nq)
            rows.append({"impl": impl, "filter": name, "allowed": int(mask.sum()),
                         "recall@10": round(_recall(found, truth), 3), **percentiles(times)})  # fmt: skip
        times, _ = _timed(faiss_flat, nq)
        rows.append({"impl": "faiss IndexFlatIP", "filter": name, "allowed": int(mask.sum()),
                     "recall@10": 1.0, **percentiles(times)})  # fmt: skip
    store.close()
    build = {"insert_s": round(insert_s, 1), "insert_per_s": round(n / insert_s),
             "flush_s": round(flush_s, 2), "reopen_s": round(reopen_s, 2)}  # fmt: skip
    return {"data": kind, "n": n, "queries": nq, "build": build, "search": rows}


def _zipf_texts(rng: np.random.Generator, n: int, words: int) -> tuple[np.ndarray, np.ndarray]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    stop = sorted(STOP_WORDS)
    made = {"".join(rng.choice(letters, rng.integers(4, 10))) for _ in range(6000)} - STOP_WORDS
    vocab = np.array(stop + sorted(made)[: 5000 - len(stop)], dtype=object)
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    draws = rng.choice(len(vocab), (n, words), p=p)
    return np.array([" ".join(vocab[row]) for row in draws], dtype=object), p


def bench_keyword(n: int, nq: int, workdir: Path, seed: int = 11) -> dict[str, Any]:
    """Build a ``n``-chunk BM25 index; time queries exact, filtered and with a postings budget."""
    rng = np.random.default_rng(seed)
    texts, p = _zipf_texts(rng, n, 150)
    vocab_words = np.array(texts[0].split() + [], dtype=object)  # only to keep mypy quiet below
    del vocab_words
    vocab = np.array(sorted(STOP_WORDS) + [], dtype=object)
    del vocab
    metas = [{"category": f"c{i % 10}"} for i in range(n)]
    index = KeywordIndex(workdir / "keyword.sqlite")
    start = time.perf_counter()
    for i in range(0, n, 5000):
        ids = [str(j) for j in range(i, min(n, i + 5000))]
        index.add(ids, texts[i : i + 5000].tolist(), metas[i : i + 5000])
    index.optimize()
    build_s = time.perf_counter() - start
    words = np.array(" ".join(texts[:200]).split(), dtype=object)
    queries = []
    while len(queries) < nq:
        q = " ".join(rng.choice(words, rng.integers(5, 11)))
        if query_terms(q):
            queries.append(q)
    rows, exact_top = [], []
    pruned = KeywordIndex(workdir / "keyword.sqlite", max_postings=10_000)
    cases: list[tuple[str, KeywordIndex, dict | None]] = [
        ("exact BM25", index, None),
        ("exact BM25, category filter (10%)", index, {"category": ["c3"]}),
        ("max_postings=10000", pruned, None),
    ]
    for name, kw, flt in cases:
        times, found = _timed(lambda i, kw=kw, flt=flt: kw.search(queries[i], 10, flt), nq)
        top = [{d.id for d, _ in hits} for hits in found]
        exact_top = exact_top or top
        overlap = np.mean([len(a & b) / max(1, len(b)) for a, b in zip(top, exact_top)])
        rows.append({"case": name, "top10_overlap_vs_exact": round(float(overlap), 3), **percentiles(times)})
    index.close()
    pruned.close()
    return {"n": n, "queries": nq, "build_s": round(build_s, 1), "search": rows}
