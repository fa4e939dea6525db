"""Benchmark of the embedded stores: LocalVectorStore against same-run baselines, KeywordIndex.

``python -m loaders.bench.vector_store [--n 100000] [--json PATH]``. Vectors are 384-d and
unit length, drawn two ways: ``uniform`` (isotropic noise, the worst case for any ANN index;
real embeddings are not like this) and ``low-rank`` (a 32-d latent space plus 10% noise, closer
to sentence embeddings). Metadata: 4 document types, 10 categories, 2 of 20 tags; filters
select ~1% (category AND tag) and ~25% (document type). Recall@10 is against exact search
over the same allowed set. KeywordIndex runs on two corpora (see ``keyword_texts``): Zipf
texts like real ones, and a 61-word vocabulary where every query term is in most chunks.
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
from loaders.bm25 import STOP_WORDS, query_terms, words
from loaders.keyword_index import KeywordIndex
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
    return float(
        np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def _fill(path: Path, x: np.ndarray, metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Insert in batches of 2,000, close (snapshot), reopen; returns the timings."""
    ids = [str(i) for i in range(len(x))]
    timings, start = {}, time.perf_counter()
    store = LocalVectorStore(path, _NoEmbeddings(), IndexConfig())
    for i in range(0, len(x), 2000):
        batch = slice(i, i + 2000)
        store.add_embeddings(ids[batch], x[batch], metas[batch], ids[batch])
    timings["insert_s"] = round(time.perf_counter() - start, 1)
    timings["insert_per_s"] = round(len(x) / timings["insert_s"])
    start = time.perf_counter()
    store.close()
    timings["close_s"] = round(time.perf_counter() - start, 2)
    return timings


def _searchers(
    store: LocalVectorStore, x: np.ndarray, q: np.ndarray, flt: dict, mask: np.ndarray, flat: Any
) -> dict[str, Callable[[int], Any]]:
    bits = np.packbits(mask, bitorder="little")
    params = faiss.SearchParameters()
    params.sel = faiss.IDSelectorBitmap(len(x), faiss.swig_ptr(bits))

    def ours(i: int) -> list[int]:
        hits = store.similarity_search_by_vector_with_score(q[i], k=10, filter=flt)
        return [int(d.id or -1) for d, _ in hits]

    def numpy_exact(i: int) -> np.ndarray:
        s = np.where(mask, x @ q[i], -np.inf)
        top = np.argpartition(-s, 10)[:10]
        return top[np.argsort(-s[top])]

    def faiss_flat(i: int) -> Any:
        _ = bits  # the selector reads this buffer
        return flat.search(q[i : i + 1], 10, params=params if flt else None)[1][0]

    return {"LocalVectorStore": ours, "numpy exact": numpy_exact, "faiss IndexFlatIP": faiss_flat}


def bench_vectors(kind: str, n: int, nq: int, workdir: Path, seed: int = 7) -> dict[str, Any]:
    """Insert ``n`` vectors, then time our searches and the baselines per filter."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((32, DIM), dtype=np.float32) / np.sqrt(32)
    x, q = _vectors(kind, rng, n, basis), _vectors(kind, rng, nq, basis)
    metas, masks = _metadata(rng, n)
    build = _fill(workdir / kind, x, metas)
    start = time.perf_counter()
    store = LocalVectorStore(workdir / kind, _NoEmbeddings(), IndexConfig())
    build["reopen_s"] = round(time.perf_counter() - start, 2)
    flat = faiss.IndexFlatIP(DIM)
    flat.add(x)
    scores = q @ x.T
    rows = []
    for name, flt in FILTERS.items():
        truth = np.argsort(-np.where(masks[name], scores, -np.inf), axis=1)[:, :10]
        for impl, fn in _searchers(store, x, q, flt, masks[name], flat).items():
            times, found = _timed(fn, nq)
            row = {"impl": impl, "filter": name, "allowed": int(masks[name].sum())}
            rows.append(row | {"recall@10": round(_recall(found, truth), 3)} | percentiles(times))
    store.close()
    return {"data": kind, "n": n, "queries": nq, "build": build, "search": rows}


_SUPPORT_TEXT = (
    "invoice refund seat plan billing workspace project board task mobile app login password "
    "reset token webhook slack calendar github zapier export import csv trello asana guest admin "
    "role member notification email sync offline error timeout limit rate api key sso saml scim "
    "vat receipt card payment failed retry proration upgrade downgrade annual monthly trial "
    "cancel delete archive restore backup gdpr retention"
)
SUPPORT_WORDS = tuple(_SUPPORT_TEXT.split())
KEYWORD_CORPORA = ("zipf", "small-vocab")


def keyword_texts(kind: str, rng: np.random.Generator, n: int, words: int) -> list[str]:
    """``n`` chunk texts of ``words`` words.

    ``zipf``: Zipf frequencies over a 5k vocabulary whose most frequent words are the English
    stop words, with the support words spread over the next 1,000 ranks, like real text.
    ``small-vocab``: uniform over the 61 support words, so every query term matches most
    chunks: the worst case for BM25, which scores every chunk holding any query term.
    """
    if kind == "small-vocab":
        vocab = np.array(SUPPORT_WORDS, dtype=object)
        draws = rng.integers(0, len(vocab), (n, words))
    else:
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        made = {"".join(rng.choice(letters, rng.integers(4, 10))) for _ in range(6000)}
        size = 5000 - len(STOP_WORDS) - len(SUPPORT_WORDS)
        rest = sorted(made - STOP_WORDS - set(SUPPORT_WORDS))[:size]
        for word in SUPPORT_WORDS:
            rest.insert(int(rng.integers(0, 1000)), word)
        vocab = np.array(sorted(STOP_WORDS) + rest, dtype=object)
        p = 1.0 / np.arange(1, len(vocab) + 1)
        draws = rng.choice(len(vocab), (n, words), p=p / p.sum())
    return [" ".join(vocab[row]) for row in draws]


def _fts5(path: Path, texts: list[str]) -> tuple[sqlite3.Connection, Callable[[str], Any]]:
    """Same-run baseline: SQLite FTS5 ranked by ``bm25()``, what KeywordIndex used before."""
    db = sqlite3.connect(path)
    tokenize = "porter unicode61 remove_diacritics 2"
    db.execute(f"CREATE VIRTUAL TABLE fts USING fts5 (text, tokenize = '{tokenize}')")
    db.executemany("INSERT INTO fts (rowid, text) VALUES (?, ?)", enumerate(texts))
    db.execute("INSERT INTO fts (fts) VALUES ('optimize')")
    db.commit()
    sql = "SELECT rowid, bm25(fts) AS s FROM fts WHERE fts MATCH ? ORDER BY s LIMIT 10"

    def search(query: str) -> Any:
        terms = dict.fromkeys(w for w in words(query) if w not in STOP_WORDS)
        return db.execute(sql, (" OR ".join(f'"{t}"' for t in terms),)).fetchall()

    return db, search


def bench_keyword(kind: str, n: int, nq: int, workdir: Path, seed: int = 11) -> dict[str, Any]:
    """Build an ``n``-chunk KeywordIndex, reopen it (rebuilt from SQLite), time k=10 queries."""
    rng = np.random.default_rng(seed)
    texts = keyword_texts(kind, rng, n, 150 if kind == "zipf" else 120)
    metas = [{"category": f"c{i % 10}", "tags": [f"t{i % 100}"]} for i in range(n)]
    start = time.perf_counter()
    index = KeywordIndex(workdir / f"keyword-{kind}.sqlite")
    for i in range(0, n, 5000):
        ids = [str(j) for j in range(i, min(n, i + 5000))]
        index.add(ids, texts[i : i + 5000], metas[i : i + 5000])
    build_s = time.perf_counter() - start
    index.close()
    start = time.perf_counter()
    index = KeywordIndex(workdir / f"keyword-{kind}.sqlite")
    open_s = time.perf_counter() - start
    pool = " ".join(texts[:200]).split()  # query words follow the corpus frequencies
    queries: list[str] = []
    while len(queries) < nq:
        query = " ".join(rng.choice(pool, rng.integers(5, 11)))
        queries += [query] if query_terms(query) else []
    db, fts5 = _fts5(workdir / f"fts5-{kind}.sqlite", texts)
    cases: dict[str, Callable[[int], Any]] = {
        "KeywordIndex": lambda i: index.search(queries[i], 10),
        "KeywordIndex, filter category (10%)": lambda i: index.search(
            queries[i], 10, {"category": ["c3"]}
        ),
        "KeywordIndex, filter tag (1%)": lambda i: index.search(queries[i], 10, {"tags": ["t7"]}),
        "baseline: SQLite FTS5 bm25()": lambda i: fts5(queries[i]),
    }
    rows = [{"case": name, **percentiles(_timed(fn, nq)[0])} for name, fn in cases.items()]
    index.close()
    db.close()
    times = {"build_s": round(build_s, 1), "open_s": round(open_s, 1)}
    return {"corpus": kind, "n": n, "queries": nq, **times, "search": rows}


def run(n: int, nq: int, kinds: list[str]) -> dict[str, Any]:
    """All measurements, with enough context to compare runs."""
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp:
        vectors = [bench_vectors(kind, n, nq, Path(tmp)) for kind in kinds]
        keyword = [bench_keyword(kind, n, nq, Path(tmp)) for kind in KEYWORD_CORPORA]
    machine = {"threads": faiss.omp_get_max_threads(), "platform": platform.platform()}
    machine |= {"python": platform.python_version(), "faiss": faiss.__version__}
    machine |= {"numpy": np.__version__, "sqlite": sqlite3.sqlite_version}
    when = datetime.now(UTC).isoformat(timespec="seconds")
    return {"date": when, "machine": machine, "vectors": vectors, "keyword": keyword}


def to_markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = [f"{r['date']}, {m['threads']} threads, faiss {m['faiss']}, SQLite {m['sqlite']}", ""]
    for v in r["vectors"]:
        b = v["build"]
        out += [
            f"### {v['n']:,} x {DIM}-d vectors, {v['data']}, {v['queries']} queries, k=10",
            f"Insert {b['insert_s']} s ({b['insert_per_s']:,}/s, SQLite + index), "
            f"close (snapshot) {b['close_s']} s, reopen {b['reopen_s']} s.",
            "",
            "| implementation | filter | allowed | p50 ms | p95 ms | recall@10 |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for s in v["search"]:
            cells = [
                s["impl"],
                s["filter"],
                f"{s['allowed']:,}",
                s["p50"],
                s["p95"],
                s["recall@10"],
            ]
            out.append("| " + " | ".join(str(c) for c in cells) + " |")
        out.append("")
    for k in r["keyword"]:
        out += [
            f"### KeywordIndex (in-memory BM25), {k['corpus']} corpus: {k['n']:,} chunks, "
            f"{k['queries']} queries of 5-10 words, k=10",
            f"Add in batches of 5,000: {k['build_s']} s; reopen (rebuilt from SQLite): "
            f"{k['open_s']} s.",
            "",
            "| case | p50 ms | p95 ms | mean ms |",
            "|---|---:|---:|---:|",
        ]
        out += [f"| {s['case']} | {s['p50']} | {s['p95']} | {s['mean']} |" for s in k["search"]]
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors and keyword chunks")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", choices=["uniform", "low-rank", "both"], default="both")
    parser.add_argument("--json", help="also write the result as JSON here")
    args = parser.parse_args()
    kinds = ["uniform", "low-rank"] if args.data == "both" else [args.data]
    result = run(args.n, args.queries, kinds)
    print(to_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
