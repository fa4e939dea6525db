"""Score one dataset item from the turns the bot produced: one flat record per item.

Metric names are ``group.name``; a metric that does not apply to an item is absent (so a mean
over items never mixes in an unanswerable question's "correctness"). Summaries average them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evals import answer_metrics as am
from evals import correct as cr
from evals.datasets import EvalItem
from evals.guardrail_metrics import acted, codes
from evals.metrics import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from evals.turns import Turn

Similarity = Callable[[list[str], list[str]], list[list[float]]]
Judge = Callable[[str, str, str], float | None]


def embedding_similarity(embeddings: Any) -> Similarity:
    """Cosine similarity matrix from a LangChain ``Embeddings`` (vectors normalised here)."""

    def sim(a: list[str], b: list[str]) -> list[list[float]]:
        import numpy as np

        va = np.asarray(embeddings.embed_documents(a), dtype=np.float32)
        vb = np.asarray(embeddings.embed_documents(b), dtype=np.float32)
        va /= np.linalg.norm(va, axis=1, keepdims=True) + 1e-12
        vb /= np.linalg.norm(vb, axis=1, keepdims=True) + 1e-12
        return (va @ vb.T).tolist()  # type: ignore[no-any-return]

    return sim


def retrieval_metrics(ranked: list[str], expected: set[str]) -> dict[str, float]:
    return {
        "retrieval.hit@1": hit_at_k(ranked, expected, 1),
        "retrieval.hit@3": hit_at_k(ranked, expected, 3),
        "retrieval.hit@5": hit_at_k(ranked, expected, 5),
        "retrieval.recall@5": round(recall_at_k(ranked, expected, 5), 4),
        "retrieval.mrr@10": round(mrr_at_k(ranked, expected, 10), 4),
        "retrieval.ndcg@10": round(ndcg_at_k(ranked, expected, 10), 4),
    }


def outcome_metrics(item: EvalItem, turn: Turn, sim: Similarity) -> dict[str, float]:
    """Refusals, answered / on-target / correct (``evals.correct``) and confident-wrong."""
    out: dict[str, float] = {}
    answer = turn.answer
    refused = am.is_refusal(answer)
    correct: bool | None = None
    if item.answerable is False:
        out["answer.refusal_correctness"] = float(refused)
        correct = refused
    if item.answerable is True:
        out["answer.over_refusal"] = float(refused)
        out["answer.answered_rate"] = float(not refused)
        if item.reference_answer:
            similarity = am.cosine_pairs(sim, [answer or " "], [item.reference_answer])[0]
            coverage = round(am.fact_coverage(answer, item.reference_answer), 4)
            out["answer.similarity"] = similarity
            out["answer.key_fact_coverage"] = coverage
            out["answer.correctness"] = am.correctness(similarity, coverage)
            if item.expected_sources:
                on_target = cr.is_on_target(
                    answer, turn.passage, item.expected_sources, item.expected_sections
                )
                correct = cr.is_correct(on_target, similarity, coverage)
                out["answer.on_target_rate"] = float(on_target)
                out["answer.correct_rate"] = float(correct)
    if correct is not None and turn.confidence is not None:
        out["answer.confident_wrong"] = float(cr.is_confident_wrong(turn.confidence, correct))
    return out


def outcome(metrics: dict[str, float]) -> bool | None:
    """An item's outcome: correct (answerable) or refused (unanswerable)."""
    value = metrics.get("answer.correct_rate", metrics.get("answer.refusal_correctness"))
    return None if value is None else bool(value)


def answer_metrics(item: EvalItem, turn: Turn, sim: Similarity) -> dict[str, float]:
    out = outcome_metrics(item, turn, sim)
    answer = turn.answer
    # A refusal states nothing about the passages, even when some were retrieved: scoring its
    # "I couldn't find..." as an unsupported claim would count honesty as hallucination.
    if turn.passages and not am.is_refusal(answer):
        # The guardrail's own check for this turn's model: a quoting (extractive) answer is
        # built from passage text and checked as such (``grounding.assess(quoted=...)``).
        quoted = turn.provider == "extractive"
        texts = [p.text for p in turn.passages]
        grounded = am.groundedness(answer, texts, sim, quoted=quoted, question=item.question)
        if grounded is not None:
            out["answer.groundedness"] = grounded

        def text_of(n: int) -> str | None:
            p = turn.passage(n)
            return p.text if p else None

        cited = am.citation_accuracy(answer, text_of, sim, quoted=quoted)
        if cited is not None:
            out["answer.citation_accuracy"] = cited
    return out


def cited_sections(turn: Turn) -> list[str]:
    """``source: heading path`` of each passage the answer cites, in citation order."""
    out = []
    for _, numbers in cr.cited_spans(turn.answer):
        for n in numbers:
            p = turn.passage(n)
            label = f"{p.source}: {p.heading_path}" if p else f"[{n}] (no such passage)"
            if label not in out:
                out.append(label)
    return out


def score_item(
    item: EvalItem, turns: list[Turn], sim: Similarity, judge: Judge | None = None
) -> dict[str, Any]:
    """The item's record: what was asked and answered, per-turn costs, and its metrics."""
    last = turns[-1]
    metrics: dict[str, float] = {}
    if item.is_guardrail:
        key = (
            "guardrails.catch_rate"
            if item.expected == "block"
            else "guardrails.false_positive_rate"
        )
        metrics[key] = float(acted(last.guardrails))
    else:
        if item.expected_sources:
            metrics |= retrieval_metrics(last.ranked_sources, set(item.expected_sources))
        metrics |= answer_metrics(item, last, sim)
        if judge is not None and item.answerable and item.reference_answer:
            score = judge(item.question, item.reference_answer, last.answer)
            if score is not None:
                metrics["judge.correctness"] = score
    return {
        "id": item.id,
        "dataset": item.dataset,
        "tags": list(item.tags),
        "turns": list(item.turns),
        "answer": last.answer,
        "reference_answer": item.reference_answer,
        "expected_sources": list(item.expected_sources),
        "answerable": item.answerable,
        "expected": item.expected,
        "split": item.split,
        "expected_sections": list(item.expected_sections),
        "confidence": last.confidence,
        "correct": None if item.is_guardrail else outcome(metrics),
        "retrieved_sources": last.ranked_sources,
        "cited": [s.get("title", "") for s in last.sources],
        "cited_sections": cited_sections(last),
        "guardrail_codes": codes(last.guardrails),
        "escalated": last.escalated,
        "provider": last.provider,
        "turn_log": [
            {"latency_ms": t.latency_ms, "timings": t.timings, "usage": t.usage} for t in turns
        ],
        "metrics": metrics,
    }


def failed_item(item: EvalItem, error: str) -> dict[str, Any]:
    """A record for an item the target could not answer; it counts in ``errors``."""
    return {
        "id": item.id,
        "dataset": item.dataset,
        "tags": list(item.tags),
        "turns": list(item.turns),
        "split": item.split,
        "error": error,
        "turn_log": [],
        "metrics": {},
    }
