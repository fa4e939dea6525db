"""The Markdown summary of a run: headline metrics, per dataset, per tag, speed and cost."""

from __future__ import annotations

from typing import Any

from evals import report_answers as ra

HEADLINE = (
    "retrieval.hit@1",
    "retrieval.hit@5",
    "retrieval.recall@5",
    "retrieval.mrr@10",
    "retrieval.ndcg@10",
    "answer.correct_rate",
    "answer.answered_rate",
    "answer.on_target_rate",
    "answer.confident_wrong",
    "calibration.ece",
    "answer.correctness",
    "answer.similarity",
    "answer.key_fact_coverage",
    "answer.groundedness",
    "answer.citation_accuracy",
    "answer.refusal_correctness",
    "answer.over_refusal",
    "judge.correctness",
    "guardrails.catch_rate",
    "guardrails.false_positive_rate",
)
TAG_COLUMNS = (
    "retrieval.hit@5",
    "answer.correctness",
    "answer.groundedness",
    "answer.refusal_correctness",
    "guardrails.catch_rate",
    "guardrails.false_positive_rate",
)


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return lines


def _headline(summary: dict[str, Any]) -> list[str]:
    overall, n = summary["overall"], summary["n"]
    rows = [[m, overall[m], n.get(m, 0)] for m in HEADLINE if m in overall]
    return table(["metric", "value", "items"], rows)


def _speed(overall: dict[str, Any]) -> list[str]:
    lines = table(
        ["turn latency p50 (ms)", "p95 (ms)", "turns", "prompt tokens/turn", "completion/turn"],
        [
            [
                overall.get("latency.turn_p50_ms"),
                overall.get("latency.turn_p95_ms"),
                overall.get("turns"),
                overall.get("tokens.prompt_per_turn"),
                overall.get("tokens.completion_per_turn"),
            ]
        ],
    )
    nodes = sorted(
        {k.split(".")[2].rsplit("_p", 1)[0] for k in overall if k.startswith("latency.node.")}
    )
    node_rows = [
        [n, overall[f"latency.node.{n}_p50_ms"], overall[f"latency.node.{n}_p95_ms"]] for n in nodes
    ]
    lines += ["", *table(["node", "p50 (ms)", "p95 (ms)"], node_rows)]
    prefix = "cost.per_1000_turns_usd."
    costs = [[k.removeprefix(prefix), v] for k, v in overall.items() if k.startswith(prefix)]
    lines += ["", *table(["provider", "est. USD per 1,000 turns"], costs)]
    return lines


def _answers(summary: dict[str, Any]) -> list[str]:
    """Answer metrics per QA dataset and split, then each one's reliability table and ECE."""
    header, rows = ra.answers_by_split(summary)
    if not rows:
        return []
    lines = ["", "## Answers per dataset and split", "", *table(header, rows)]
    for dataset, cal in ra.calibrated(summary):
        lines += ["", f"### Calibration: {dataset} (ECE {fmt(cal['ece'])}, {cal['n']} items)", ""]
        lines += table(*ra.reliability(cal))
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    run, summary = results["run"], results["summary"]
    overall = summary["overall"]
    lines = [
        f"# Eval run {run.get('id', '')}",
        "",
        f"- target: `{run.get('target')}`; datasets: "
        + ", ".join(f"{k} ({v})" for k, v in run.get("datasets", {}).items()),
        f"- overrides: `{run.get('config') or {}}`; limit: {run.get('limit')}; "
        f"judge: {run.get('judge') or 'none'}; commit: {run.get('git_commit') or '?'}",
        f"- items: {fmt(overall.get('items'))}, errors: {fmt(overall.get('errors'))}, "
        f"duration: {run.get('duration_s')} s",
        "",
        "## Quality",
        "",
        *_headline(summary),
        "",
        "## Per dataset",
        "",
    ]
    ds = summary["datasets"]
    cols = [m for m in TAG_COLUMNS if any(m in v for v in ds.values())]
    lines += table(
        ["dataset", "items", *cols],
        [[d, v["items"], *(v.get(m) for m in cols)] for d, v in ds.items()],
    )
    lines += _answers(summary)
    lines += ["", "## Per tag", ""]
    tags = summary["tags"]
    cols = [m for m in TAG_COLUMNS if any(m in v for v in tags.values())]
    lines += table(
        ["tag", "items", *cols],
        [[t, v["items"], *(v.get(m) for m in cols)] for t, v in tags.items()],
    )
    lines += ["", "## Speed and cost", "", *_speed(overall)]
    if summary.get("failed_items"):
        lines += ["", "## Failed items", ""]
        lines += [f"- `{f['id']}`: {f['error']}" for f in summary["failed_items"]]
    return "\n".join(lines) + "\n"
