"""Embedder throughput and quality: fp32 sentence-transformers (baseline) vs the int8 ONNX backend.

``python -m loaders.bench.embeddings [--n 2000] [--json PATH]`` generates support-like chunks of
~200 word pieces, encodes them with both backends in interleaved rounds (so a noisy, shared
machine slows both alike), and reports chunks/s, the speed-up, and quality: cosine between the
two backends' vectors and the retrieval check from ``loaders.embedding_quality``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from loaders.embedding_quality import SUBJECTS, support_article, support_sentences

ROUNDS = 4


def make_chunks(n: int, count_tokens: Any, seed: int = 3, target: int = 200) -> list[str]:
    """``n`` chunks of ``target`` +-15% word pieces mixing articles, questions and fragments."""
    rng = random.Random(seed)
    pool = support_sentences(2000, seed=seed)
    chunks = []
    aspects = ["setup", "errors", "pricing", "permissions"]
    for _ in range(n):
        goal = rng.randint(int(target * 0.85), int(target * 1.15))
        text = support_article(rng.choice(SUBJECTS), rng.choice(aspects), rng, words=60)
        while count_tokens(text) < goal:
            text += " " + rng.choice(pool)
        chunks.append(text)
    return chunks


class _SentenceTransformer(Embeddings):
    """The baseline exactly as the torch backend runs it: batch 32, normalised, fp32."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=32, normalize_embeddings=True))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def _timed_rounds(backends: dict[str, Any], chunks: list[str]) -> dict[str, Any]:
    """Seconds per backend over interleaved slices, plus each backend's vectors."""
    seconds = dict.fromkeys(backends, 0.0)
    vectors: dict[str, list[np.ndarray]] = {k: [] for k in backends}
    size = -(-len(chunks) // ROUNDS)
    for start in range(0, len(chunks), size):
        part = chunks[start : start + size]
        for name, encode in backends.items():
            t0 = time.perf_counter()
            vectors[name].append(encode(part))
            seconds[name] += time.perf_counter() - t0
    return {"seconds": seconds, "vectors": {k: np.vstack(v) for k, v in vectors.items()}}


def run(n: int, data_dir: Path) -> dict[str, Any]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import onnxruntime
    import torch
    from sentence_transformers import SentenceTransformer

    from loaders.embedding_quality import quality_report
    from loaders.onnx_embeddings import QuantizedEmbeddings, WordPieces, ensure_quantized
    from loaders.tokens import default_model_dir

    model_dir = default_model_dir()
    t0 = time.perf_counter()
    artifact = ensure_quantized(model_dir, data_dir / "models")
    build_s = time.perf_counter() - t0
    tokenizer = WordPieces(model_dir, max_length=100_000).tokenizer
    chunks = make_chunks(n, lambda t: len(tokenizer.encode(t).ids))
    tokens = [min(256, len(tokenizer.encode(c).ids)) for c in chunks]
    baseline = _SentenceTransformer(SentenceTransformer(str(model_dir), device="cpu"))
    fast = QuantizedEmbeddings(model_dir, artifact.path)
    for warm in (baseline.encode, fast.encode):
        warm(chunks[:32])
    timed = _timed_rounds({"fp32": baseline.encode, "int8": fast.encode}, chunks)
    secs, vecs = timed["seconds"], timed["vectors"]
    cos = (vecs["fp32"] * vecs["int8"]).sum(axis=1)
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}",
        "chunks": len(chunks),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "fp32_chunks_per_s": round(len(chunks) / secs["fp32"], 1),
        "int8_chunks_per_s": round(len(chunks) / secs["int8"], 1),
        "speedup": round(secs["fp32"] / secs["int8"], 2),
        "chunk_mean_cosine": round(float(cos.mean()), 4),
        "chunk_min_cosine": round(float(cos.min()), 4),
        "quality": quality_report(baseline, fast),
        "build_seconds": round(build_s, 1),
    }


def to_markdown(r: dict[str, Any]) -> str:
    q = r["quality"]
    rows = [
        ("sentence-transformers fp32 (baseline)", r["fp32_chunks_per_s"], "1.00", "1.0000", "-"),
        ("ONNX Runtime int8 (fast)", r["int8_chunks_per_s"], f"{r['speedup']:.2f}",
         f"{r['chunk_mean_cosine']:.4f}", f"{q['top1_agreement']:.3f}"),
    ]  # fmt: skip
    lines = [
        f"Embedder, {r['chunks']} chunks of ~{r['mean_tokens']} word pieces; {r['date']}; "
        f"{r['machine']}",
        "",
        "| backend | chunks/s | speed-up | mean cosine vs fp32 | top-1 agreement |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows),
        "",
        f"Quality check ({q['sentences']} sentences, {q['queries']} queries): mean cosine "
        f"{q['mean_cosine']}, min {q['min_cosine']}; hit@1 fp32 {q['reference_hit1']}, "
        f"int8 {q['fast_hit1']}; passed: {q['passed']}. Build (export + quantize + check, "
        f"0 when cached): {r['build_seconds']} s.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="chunks to encode")
    parser.add_argument("--json", help="also write the result as JSON here")
    parser.add_argument("--data-dir", default="var", help="model cache lives in DATA_DIR/models")
    args = parser.parse_args()
    result = run(args.n, Path(args.data_dir))
    print(to_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
