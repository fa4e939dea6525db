"""End-to-end ingestion throughput on a generated corpus, split by stage, vs an fp32 baseline.

``python -m app.bench.ingestion [--chunks 2000]``: generates Markdown help articles whose
sections are ~190 word pieces, ingests them through ``KnowledgeBase.ingest`` (parse, chunk,
embed, local store + keyword index + record manager + MongoDB records) and compares with plain
sentence-transformers fp32 encoding of the same chunk texts, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from app.bench.common import bench_services

SUBJECTS = [
    "invoice",
    "workspace",
    "project board",
    "mobile app",
    "Slack integration",
    "API token",
    "guest account",
    "calendar sync",
    "export",
    "webhook",
    "SSO login",
    "billing owner",
    "refund request",
    "seat",
    "notification",
    "CSV import",
]
VERBS = [
    "fails to load",
    "is missing",
    "shows an error",
    "does not sync",
    "needs approval",
    "expires",
    "is duplicated",
    "cannot be edited",
    "is delayed",
    "was charged twice",
]
FIXES = [
    "Open Settings > Billing and check the payment method on file.",
    "Sign out on every device, then sign in again with the same email address.",
    "Ask a workspace admin to grant the Editor role under Members > Roles.",
    "Clear the app cache from Settings > Storage and restart the app.",
    "Re-authorise the integration from Settings > Integrations and retry within 24 hours.",
    "Contact support with the request ID shown at the bottom of the error dialog.",
]


def section(rng: random.Random, counter: Any, target: int = 185) -> str:
    sentences: list[str] = []
    while counter(" ".join(sentences)) < target - 25:
        s, v = rng.choice(SUBJECTS), rng.choice(VERBS)
        sentences.append(
            f"If the {s} {v} after {rng.randint(2, 90)} minutes, "
            f"{rng.choice(FIXES)[0].lower()}{rng.choice(FIXES)[1:]}"
        )
    return " ".join(sentences)


def make_corpus(n_chunks: int, counter: Any, per_doc: int = 40, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    docs = []
    for d in range((n_chunks + per_doc - 1) // per_doc):
        parts = [f"# Troubleshooting guide {d}"]
        for i in range(per_doc):
            parts.append(f"## Problem {d}.{i}\n\n{section(rng, counter)}")
        docs.append("\n\n".join(parts).encode())
    return docs


def fp32_baseline(texts: list[str]) -> float:
    """Chunks/s of plain sentence-transformers fp32 encoding (batch 32) of the same texts."""
    from sentence_transformers import SentenceTransformer

    from loaders.tokens import default_model_dir

    model = SentenceTransformer(str(default_model_dir()), device="cpu")
    model.encode(texts[:32], batch_size=32)
    start = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - start)


def run(n_chunks: int) -> dict[str, Any]:
    from loaders.ingest_options import IngestOptions

    stages: dict[str, float] = defaultdict(float)
    chunk_texts: list[str] = []
    with bench_services() as svc:
        corpus = make_corpus(n_chunks, svc.kb.counter)
        emb = svc.kb.store.dense.embeddings
        original = emb.embed_documents

        def timed(texts: list[str]) -> list[list[float]]:
            t = time.perf_counter()
            out = original(texts)
            stages["embed (model)"] += time.perf_counter() - t
            chunk_texts.extend(texts)
            return out

        emb.embed_documents = timed
        mark: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            mark.setdefault(stage, time.perf_counter())

        total_start = time.perf_counter()
        for i, data in enumerate(corpus):
            mark.clear()
            t0 = time.perf_counter()
            svc.kb.ingest(data, IngestOptions(f"guide-{i}.md"), progress)
            end = time.perf_counter()
            stages["parse"] += mark["chunking"] - t0
            stages["chunk"] += mark["embedding"] - mark["chunking"]
            stages["embed + index"] += mark["indexing"] - mark["embedding"]
            stages["mongo records"] += end - mark["indexing"]
        elapsed = time.perf_counter() - total_start
        chunks = svc.kb.records.count_chunks()
    stages["index (store, BM25, record manager)"] = (
        stages.pop("embed + index") - stages["embed (model)"]
    )
    baseline = fp32_baseline(chunk_texts)
    token_counts = [len(t.split()) for t in chunk_texts]
    return {
        "chunks": chunks,
        "documents": len(corpus),
        "mean_words_per_chunk": round(sum(token_counts) / max(1, len(token_counts)), 1),
        "seconds": round(elapsed, 2),
        "chunks_per_s": round(chunks / elapsed, 1),
        "fp32_baseline_chunks_per_s": round(baseline, 1),
        "speedup": round(chunks / elapsed / baseline, 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--json")
    args = parser.parse_args()
    result = run(args.chunks)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
