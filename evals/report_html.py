"""The HTML report: the Markdown summary's tables plus inline SVG plots (metric distributions,
per-tag breakdown, latency histogram) and a table of every item; one self-contained file."""

from __future__ import annotations

from html import escape
from typing import Any

from evals import report_answers as ra
from evals import svg
from evals.report_md import HEADLINE, TAG_COLUMNS, fmt

DISTRIBUTIONS = (
    "answer.correctness",
    "answer.similarity",
    "answer.key_fact_coverage",
    "answer.groundedness",
    "answer.citation_accuracy",
    "retrieval.mrr@10",
)
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:4px 8px;
font-size:13px;text-align:left;vertical-align:top}th{background:#f3f5f8}
.grid{display:flex;flex-wrap:wrap;gap:16px}svg{background:#fafbfc;border:1px solid #e4e7eb}
svg text{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:600}
svg .muted{fill:#777}.err{color:#b00}details{margin:12px 0}
"""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _values(items: list[dict[str, Any]], metric: str) -> list[float]:
    return [float(i["metrics"][metric]) for i in items if metric in i.get("metrics", {})]


def _plots(results: dict[str, Any]) -> str:
    items, summary = results["items"], results["summary"]
    charts = [
        svg.histogram(_values(items, m), title=f"{m} (per item)", low=0.0, high=1.0)
        for m in DISTRIBUTIONS
        if _values(items, m)
    ]
    tags = summary["tags"]
    for metric in TAG_COLUMNS:
        rows = [(t, v[metric]) for t, v in tags.items() if metric in v]
        if len(rows) > 1:
            charts.append(
                svg.bars([r[0] for r in rows], [r[1] for r in rows], title=f"{metric} by tag")
            )
    latencies = [t["latency_ms"] for i in items for t in i.get("turn_log", [])]
    charts.append(svg.histogram(latencies, title="turn latency (ms)", bins=20, low=0.0))
    return '<div class="grid">' + "".join(charts) + "</div>"


def _answers(summary: dict[str, Any]) -> str:
    """Answer metrics per QA dataset and split; each dataset's reliability table, ECE, plot."""
    header, rows = ra.answers_by_split(summary)
    if not rows:
        return ""
    parts = ["<h2>Answers per dataset and split</h2>", _table(header, rows)]
    for dataset, cal in ra.calibrated(summary):
        title = f"Calibration: {dataset} (ECE {fmt(cal['ece'])}, {cal['n']} items)"
        bins_header, bins = ra.reliability(cal)
        filled = [b for b in bins if b[1]]
        plot = svg.bars(
            [f"{b[0]} n={b[1]}" for b in filled],
            [float(b[3]) for b in filled],
            title=f"{dataset}: share correct per confidence bin",
        )
        parts += [f"<h3>{escape(title)}</h3>", _table(bins_header, bins), plot]
    return "".join(parts)


def _items(items: list[dict[str, Any]]) -> str:
    rows = []
    for i in items:
        metrics = ", ".join(f"{k.split('.', 1)[1]}={fmt(v)}" for k, v in i["metrics"].items())
        answer = i.get("answer") or f"ERROR {i.get('error', '')}"
        rows.append(
            [
                i["id"],
                " / ".join(i["turns"]),
                answer,
                ", ".join(i.get("retrieved_sources", [])[:5]),
                metrics,
            ]
        )
    return _table(["id", "question", "answer", "retrieved", "metrics"], rows)


def render_html(results: dict[str, Any]) -> str:
    run, summary, items = results["run"], results["summary"], results["items"]
    overall, n = summary["overall"], summary["n"]
    headline = _table(
        ["metric", "value", "items"],
        [[m, overall[m], n.get(m, 0)] for m in HEADLINE if m in overall],
    )
    speed_rows = [
        [k, v] for k, v in overall.items() if k.startswith(("latency.", "tokens.", "cost."))
    ]
    tags = summary["tags"]
    cols = [m for m in TAG_COLUMNS if any(m in v for v in tags.values())]
    per_tag = _table(
        ["tag", "items", *cols],
        [[t, v["items"], *(v.get(c) for c in cols)] for t, v in tags.items()],
    )
    failed = "".join(
        f'<li class="err">{escape(f["id"])}: {escape(f["error"])}</li>'
        for f in summary.get("failed_items", [])
    )
    meta = _table(["field", "value"], [[k, str(v)] for k, v in run.items()])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Eval {escape(str(run.get('id')))}"
        f"</title><style>{STYLE}</style></head><body><h1>Eval run {escape(str(run.get('id')))}</h1>"
        f"{meta}<h2>Quality</h2>{headline}{_answers(summary)}<h2>Plots</h2>{_plots(results)}"
        f"<h2>Per tag</h2>{per_tag}<h2>Speed and cost</h2>{_table(['metric', 'value'], speed_rows)}"
        + (f"<h2>Failed items</h2><ul>{failed}</ul>" if failed else "")
        + f"<details><summary>All items ({len(items)})</summary>{_items(items)}"
        "</details></body></html>\n"
    )
