"""The whole ``/search`` route over HTTP at 100k chunks: embed + hybrid + fetch, concurrency 1.

``python -m app.bench.search_api [--n 100000]``: for each keyword corpus, fills a data dir with
synthetic chunks (random unit vectors; texts from ``loaders.bench.vector_store.keyword_texts``:
``zipf``, realistic, and ``small-vocab``, the worst case for BM25), starts ``supportbot serve``
on it in a subprocess and times distinct queries of support words (no cache hits) with and
without a metadata filter.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app.bench.common import admin_headers, bench_services
from loaders.bench.common import percentiles
from loaders.bench.vector_store import KEYWORD_CORPORA, SUPPORT_WORDS, keyword_texts
from loaders.mongo import free_port

TYPES = ("faq", "sop", "module", "general")


def fill(data_dir: Path, n: int, corpus: str, dim: int = 384, batch: int = 5000) -> None:
    rng = np.random.default_rng(1)
    all_texts = keyword_texts(corpus, np.random.default_rng(2), n, 120)
    with bench_services(data_dir=data_dir) as svc:
        for start in range(0, n, batch):
            m = min(batch, n - start)
            vecs = rng.standard_normal((m, dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            ids = [f"c{start + i}" for i in range(m)]
            texts = all_texts[start : start + m]
            metas = [
                {
                    "document_id": f"d{(start + i) // 20}",
                    "document_type": TYPES[i % 4],
                    "category": f"cat{i % 10}",
                    "tags": [f"t{i % 20}"],
                    "title": "T",
                    "source": "synthetic.md",
                }
                for i in range(m)
            ]
            svc.dense.add_embeddings(texts, vecs, metas, ids)
            svc.keyword.add(ids, texts, metas)
        svc.dense.flush()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server did not become ready")


def time_queries(
    url: str, queries: list[str], filters: dict[str, Any] | None, headers: dict[str, str]
) -> list[float]:
    out = []
    with httpx.Client(timeout=30, headers=headers) as client:
        for q in queries:
            body: dict[str, Any] = {"query": q, "top_k": 5}
            if filters:
                body["filters"] = filters
            t = time.perf_counter()
            r = client.post(f"{url}/api/v1/knowledge-base/search", json=body)
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
    return out


def run_corpus(corpus: str, n: int, queries: int) -> dict[str, Any]:
    """Fill a data dir with ``corpus``, serve it, time plain and filtered searches."""
    prng = random.Random(2)
    with tempfile.TemporaryDirectory(prefix="supportbot-search-") as tmp:
        data_dir = Path(tmp)
        t = time.perf_counter()
        fill(data_dir, n, corpus)
        fill_s = time.perf_counter() - t
        port = free_port()
        env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "INGEST_SAMPLE_KB": "false",
            "VECTOR_STORE": "local",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_ENABLED": "false",  # the load generator is one client
        }
        env.pop("MONGODB_URI", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            t = time.perf_counter()
            wait_ready(url, proc)
            ready_s = time.perf_counter() - t
            headers = admin_headers(url, data_dir)
            qs = [
                " ".join(prng.choices(SUPPORT_WORDS, k=prng.randint(3, 9))) + f" {i}"
                for i in range(queries * 2 + 20)
            ]
            time_queries(url, qs[:20], None, headers)
            plain = time_queries(url, qs[20 : 20 + queries], None, headers)
            filtered = time_queries(
                url, qs[20 + queries :], {"document_type": ["faq"], "category": ["cat4"]}, headers
            )
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "corpus": corpus,
        "fill_seconds": round(fill_s, 1),
        "ready_seconds": round(ready_s, 1),
        "route_ms": percentiles(plain),
        "route_filtered_ms": percentiles(filtered),
    }


def run(n: int, queries: int) -> dict[str, Any]:
    """Both corpora; the top-level ``route_ms`` are the small-vocabulary worst case."""
    corpora = [run_corpus(corpus, n, queries) for corpus in KEYWORD_CORPORA]
    worst = corpora[-1]
    return {
        "chunks": n,
        "queries": queries,
        "fill_seconds": worst["fill_seconds"],
        "route_ms": worst["route_ms"],
        "route_filtered_ms": worst["route_filtered_ms"],
        "corpora": corpora,
    }


def to_markdown(r: dict[str, Any]) -> str:
    out = [
        f"## `/search` over HTTP at {r['chunks']:,} chunks",
        "",
        f"`supportbot serve` in a subprocess on the embedded store filled with {r['chunks']:,} "
        f"synthetic chunks; {r['queries']} distinct queries each (no cache hits), concurrency 1, "
        "client-side time. Corpora: `zipf` (realistic texts), `small-vocab` (61 words, every "
        "query term in most chunks: the worst case for BM25).",
        "",
        "| corpus | request | p50 ms | p95 ms | mean ms |",
        "|---|---|---:|---:|---:|",
    ]
    for c in r["corpora"]:
        for name, key in (("no filter", "route_ms"), ("type + category", "route_filtered_ms")):
            p = c[key]
            out.append(f"| {c['corpus']} | {name} | {p['p50']} | **{p['p95']}** | {p['mean']} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json")
    args = parser.parse_args()
    result = run(args.n, args.queries)
    print(to_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
