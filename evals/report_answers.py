"""Report tables shared by ``report.md`` and ``report.html``: each QA dataset's answer metrics
overall and per split, and its reliability table (confidence bins vs share correct) with ECE."""

from __future__ import annotations

from typing import Any

ANSWER_COLUMNS = (
    "answer.correct_rate",
    "answer.answered_rate",
    "answer.on_target_rate",
    "answer.confident_wrong",
    "answer.over_refusal",
    "answer.refusal_correctness",
    "answer.correctness",
    "calibration.ece",
)
Table = tuple[list[str], list[list[Any]]]


def qa_datasets(summary: dict[str, Any]) -> list[str]:
    """Datasets with answer metrics (not the retrieval-only or guardrail sets)."""
    return [
        d
        for d, metrics in summary["datasets"].items()
        if any(m in metrics for m in ANSWER_COLUMNS if m.startswith("answer."))
    ]


def answers_by_split(summary: dict[str, Any]) -> Table:
    """One row per QA dataset (split ``all``) and one per split it has."""
    datasets = qa_datasets(summary)
    groups = [summary["datasets"][d] for d in datasets]
    for d in datasets:
        groups += list(summary.get("splits", {}).get(d, {}).values())
    cols = [c for c in ANSWER_COLUMNS if any(c in g for g in groups)]
    rows = []
    for d in datasets:
        overall = summary["datasets"][d]
        rows.append([d, "all", overall["items"], *_cells(overall, cols)])
        for split, metrics in summary.get("splits", {}).get(d, {}).items():
            rows.append([d, split, metrics["items"], *_cells(metrics, cols)])
    return ["dataset", "split", "items", *cols], rows


def _cells(metrics: dict[str, Any], cols: list[str]) -> list[Any]:
    return [metrics.get(c) for c in cols]


def reliability(cal: dict[str, Any]) -> Table:
    """The bins of one dataset's calibration (``summary["calibration"][dataset]``)."""
    rows = []
    for b in cal["bins"]:
        close = "]" if b["high"] >= 1.0 else ")"
        label = f"[{b['low']:.1f}, {b['high']:.1f}{close}"
        rows.append([label, b["count"], b["mean_confidence"], b["share_correct"]])
    return ["confidence", "items", "mean confidence", "share correct"], rows


def calibrated(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(dataset, calibration) of the QA datasets that reported confidences."""
    cals = summary.get("calibration", {})
    return [(d, cals[d]) for d in qa_datasets(summary) if d in cals]
