"""Retrieval quality on the labelled set over the sample KB: dense vs BM25 vs hybrid.

``python -m app.bench.retrieval_quality [--backend quantized|torch] [--sweep]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.bench.common import bench_services
from evals.metrics import hit_at_k, mean, mrr_at_k, ndcg_at_k, recall_at_k

DATASET = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "retrieval.jsonl"
MODES = ("dense", "keyword", "hybrid")


def load_dataset(path: Path = DATASET) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ingest_sample(svc: Any) -> int:
    from loaders.sample import sample_items

    n = 0
    for data, opts in sample_items():
        svc.kb.ingest(data, opts.validated(max_tokens=svc.kb.max_tokens))
        n += 1
    return n


def evaluate(svc: Any, items: list[dict[str, Any]], mode: str) -> dict[str, float]:
    rows: dict[str, list[float]] = {"hit@5": [], "recall@5": [], "mrr@10": [], "ndcg@10": []}
    for item in items:
        hits = svc.searcher.search(item["question"], top_k=20, mode=mode)
        ranked = [h.document.metadata.get("source", "") for h in hits]
        expected = set(item["expected_sources"])
        rows["hit@5"].append(hit_at_k(ranked, expected, 5))
        rows["recall@5"].append(recall_at_k(ranked, expected, 5))
        rows["mrr@10"].append(mrr_at_k(ranked, expected, 10))
        rows["ndcg@10"].append(ndcg_at_k(ranked, expected, 10))
    return {k: round(mean(v), 4) for k, v in rows.items()}


def run(backend: str, sweep: bool = False) -> dict[str, Any]:
    items = load_dataset()
    with bench_services(embedding_backend=backend) as svc:
        ingest_sample(svc)
        out: dict[str, Any] = {
            "backend": backend,
            "questions": len(items),
            "chunks": svc.keyword.count(),
            "modes": {m: evaluate(svc, items, m) for m in MODES},
        }
        if sweep:
            grid = {}
            for alpha in (0.5, 0.6, 0.7, 0.75, 0.8, 0.9):
                for k in (4.0, 8.0, 16.0):
                    svc.searcher.alpha, svc.searcher.bm25_k = alpha, k
                    grid[f"alpha={alpha},k={k}"] = evaluate(svc, items, "hybrid")
            out["sweep"] = grid
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="quantized")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    result = run(args.backend, args.sweep)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
