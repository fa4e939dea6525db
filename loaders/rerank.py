"""Optional cross-encoder re-ranking of the fused candidates, from a local model directory only.

The reranker reorders; it does not replace ``relevance_score``, so ``min_relevance_score`` keeps
its meaning whether or not a reranker is configured.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from loaders.errors import InvalidInput


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a sentence-transformers ``CrossEncoder``."""

    def __init__(self, model_dir: Path) -> None:
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise InvalidInput(
                f"RERANKER_MODEL_PATH '{path}' is not a local model directory (no config.json); "
                "models are never downloaded at run time.",
                code="RERANKER_NOT_FOUND",
            )
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(path), device="cpu", local_files_only=True)
        self._lock = threading.Lock()

    def scores(self, query: str, passages: list[str]) -> list[float]:
        with self._lock:
            out = self.model.predict([(query, p) for p in passages], show_progress_bar=False)
        return [float(x) for x in out]

    def rerank(self, query: str, hits: list[Any]) -> list[Any]:
        """``hits`` (SearchHit) reordered by cross-encoder score, best first; ties keep order."""
        if not hits:
            return hits
        scores = self.scores(query, [h.document.page_content for h in hits])
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
        for i in order:
            hits[i].rerank_score = scores[i]
        return [hits[i] for i in order]
