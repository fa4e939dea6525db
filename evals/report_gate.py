"""The groundedness gate section of an eval report: precision and recall of "unsupported"."""

from __future__ import annotations

from typing import Any

from evals.gate_set import KINDS


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def render_gate(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """Markdown: one overall row per split, then recall (and precision) per kind and split."""
    splits = [s for s in ("dev", "test", "all") if s in summary]
    lines = [
        "## Groundedness gate",
        "",
        f"- gate: {meta.get('gate', 'offline')}; cases: {meta.get('cases')}; "
        f"duration: {meta.get('duration_s')} s",
        '- positive class: "unsupported" (any label but `supported`); a kind\'s precision counts '
        "its catches against all false alarms on supported cases.",
        "",
        "| split | cases | supported | false alarms | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for s in splits:
        m = summary[s]
        lines.append(f"| {s} | {m['cases']} | {m['supported']} | {m['false_alarms']} | "
                     f"{_cell(m['precision'])} | {_cell(m['recall'])} |")  # fmt: skip
    lines += ["", "| kind | " + " | ".join(f"{s} recall (precision)" for s in splits) + " |"]
    lines.append("|---|" + "---|" * len(splits))
    for kind in KINDS:
        cells = []
        for s in splits:
            k = summary[s]["kinds"].get(kind)
            cells.append(f"{_cell(k['recall'])} ({_cell(k['precision'])}), n={k['cases']}"
                         if k else "–")  # fmt: skip
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_misses(records: list[dict[str, Any]]) -> str:
    """The cases the gate got wrong, for reading."""
    wrong = [r for r in records if not r["correct"]]
    if not wrong:
        return ""
    lines = ["", "### Cases the gate got wrong", "", "| id | split | label | gate | sentence |",
             "|---|---|---|---|---|"]  # fmt: skip
    for r in wrong:
        said = "flagged" if r["flagged"] else "passed"
        lines.append(f"| {r['id']} | {r['split']} | {r['label']} | {said} | {r['sentence']} |")
    return "\n".join(lines) + "\n"
