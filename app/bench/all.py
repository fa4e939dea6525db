"""``make bench``: every benchmark in one run, written to docs/benchmarks.md with date and machine.

Each figure sits next to its baseline measured in the same run (fp32 sentence-transformers for
ingestion and embeddings, numpy / faiss flat for vector search, dense-only and BM25-only for
retrieval quality).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGETS = """Targets (issue 2): ingestion >= 2.5x the fp32 baseline end to end with retrieval
quality within 1 point of fp32; vector search p95 <= 5 ms at 100k with and without a
filter; the whole `/search` route p95 <= 40 ms over HTTP at concurrency 1. Issue 3: an
extractive chat turn p95 <= 150 ms at concurrency 1, everything but the model call p95 <= 50 ms,
>= 30 turns/s at 16 concurrent clients. Issue 4: auth plus rate limiting add p95 <= 3 ms
to a request. Issue 12: an agent's reply reaches the customer's event stream in p95 <= 300 ms
on loopback; `widget.js` <= 30 kB gzipped."""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


def ingestion_md(r: dict[str, Any]) -> str:
    stages = "\n".join(f"| {k} | {v} |" for k, v in r["stage_seconds"].items())
    return f"""## Ingestion end to end

{r["documents"]} generated Markdown articles, {r["chunks"]} chunks of ~200 word pieces, through
`KnowledgeBase.ingest` (parse, chunk, embed, local store + BM25 + record manager, MongoDB
records on embedded nx-27017).

| measure | value |
|---|---|
| end to end | **{r["chunks_per_s"]} chunks/s** ({r["seconds"]} s in all) |
| baseline: fp32 sentence-transformers encode only, same chunks and run | \
{r["fp32_baseline_chunks_per_s"]} chunks/s |
| speed-up end to end over the baseline | **{r["speedup"]}x** |

| stage | seconds |
|---|---|
{stages}
"""


def quality_md(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        for mode, m in r["modes"].items():
            rows.append(
                f"| {r['backend']} | {mode} | {m['hit@5']:.3f} | {m['mrr@10']:.3f} | "
                f"{m['recall@5']:.3f} | {m['ndcg@10']:.3f} |"
            )
    n = results[0]["questions"]
    return f"""## Retrieval quality (labelled set, sample KB)

{n} questions in `evals/datasets/retrieval.jsonl` over the {results[0]["chunks"]} chunks of the
sample knowledge base; document-level metrics. `quantized` is the int8 ONNX model used by
default, `torch` the fp32 reference.

| embeddings | retrieval | hit@5 | MRR@10 | recall@5 | nDCG@10 |
|---|---|---|---|---|---|
{chr(10).join(rows)}
"""


def write(out: str, parts: dict[str, Any]) -> None:
    """Render the parts present into the Markdown report (and keep the raw figures as JSON)."""
    from app.bench import auth_overhead, chat, dashboard, handoff, search_api
    from loaders.bench import embeddings, vector_store

    sections: list[tuple[str, Callable[[Any], str]]] = [
        ("ingestion", ingestion_md),
        ("embeddings", embeddings.to_markdown),
        ("quality", quality_md),
        ("vector_store", vector_store.to_markdown),
        ("search", search_api.to_markdown),
        ("chat", chat.to_markdown),
        ("auth_overhead", auth_overhead.to_markdown),
        ("dashboard", dashboard.to_markdown),
        ("answers", lambda part: str(part["markdown"])),  # eval figures, see its text
        ("handoff", handoff.to_markdown),
    ]

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    dates = ", ".join(
        f"{key} {_measured_at(parts[key]) or now}" for key, _ in sections if key in parts
    )
    doc = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Written {now} on {machine()} by `make bench` (`python -m app.bench.all`).",
            f"Each part was measured (with its baseline, in the same run) at: {dates}.",
            "The machine may be shared; baselines are measured in the same run for that reason.",
            "",
            TARGETS,
            "",
            *(render(parts[key]) for key, render in sections if key in parts),
        ]
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(doc)
    Path(out).with_suffix(".json").write_text(json.dumps(parts, indent=2, default=str))


def _measured_at(part: Any) -> str | None:
    first = part[0] if isinstance(part, list) and part else part
    return first.get("measured_at") if isinstance(first, dict) else None


def stamp(part: Any) -> Any:
    """Record when a part (and its same-run baseline) was measured."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for item in part if isinstance(part, list) else [part]:
        if isinstance(item, dict):
            item["measured_at"] = now
    return part


def main() -> None:
    from app.bench import (
        auth_overhead,
        chat,
        dashboard,
        handoff,
        ingestion,
        retrieval_quality,
        search_api,
    )
    from loaders.bench import embeddings, vector_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--only",
        choices=["chat", "auth", "dashboard", "handoff"],
        help="re-run one part; keep the others from the JSON beside --out (if any)",
    )
    args = parser.parse_args()
    if args.only:
        saved_json = Path(args.out).with_suffix(".json")
        saved = json.loads(saved_json.read_text()) if saved_json.exists() else {}
        if args.only == "chat":
            saved["chat"] = stamp(chat.run(100, 16, 12))
        elif args.only == "handoff":
            saved["handoff"] = stamp(handoff.run(200))
        elif args.only == "dashboard":
            saved["dashboard"] = stamp(dashboard.run(1_000_000))
        else:
            saved["auth_overhead"] = stamp(auth_overhead.run(2000))
        write(args.out, saved)
        return
    n_vec, n_chunks, n_emb = (5_000, 300, 200) if args.quick else (100_000, 2000, 2000)
    parts: dict[str, Any] = {}
    print("vector store...", flush=True)
    parts["vector_store"] = vector_store.run(n_vec, 200, ["low-rank", "uniform"])
    print("embeddings...", flush=True)
    parts["embeddings"] = embeddings.run(n_emb, Path("var"))
    print("ingestion...", flush=True)
    parts["ingestion"] = ingestion.run(n_chunks)
    print("retrieval quality...", flush=True)
    parts["quality"] = [retrieval_quality.run(b) for b in ("quantized", "torch")]
    print("search route...", flush=True)
    parts["search"] = search_api.run(n_vec, 300)
    print("chat...", flush=True)
    parts["chat"] = chat.run(30 if args.quick else 100, 16, 4 if args.quick else 12)
    print("auth and rate-limit overhead...", flush=True)
    parts["auth_overhead"] = auth_overhead.run(300 if args.quick else 2000)
    print("analytics dashboard...", flush=True)
    quick = args.quick
    parts["dashboard"] = dashboard.run(*((50_000, 5) if quick else (1_000_000, 20)))
    print("handoff live path...", flush=True)
    parts["handoff"] = handoff.run(50 if quick else 200)
    write(args.out, {key: stamp(part) for key, part in parts.items()})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
