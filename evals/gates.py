"""Regression gates: thresholds files, ``eval compare`` deltas and verdicts, absolute checks.

A thresholds file (TOML) may hold two kinds of gate:

- ``[metrics."<name>"]`` with ``tolerance`` (absolute) and/or ``tolerance_pct`` (of run A's
  value): ``eval compare A B`` fails when B is worse than A by more than the larger of the two.
  "Worse" is lower, except for latency, tokens, cost, over-refusal, false positives and errors.
- ``[minimums]`` / ``[maximums]``: absolute bounds a single run must meet (the CI smoke).

A metric name alone gates the run's overall value (every dataset pooled);
``"<dataset>/<metric>"`` gates one dataset (``"python_faq/retrieval.hit@5"``) and
``"<dataset>/<split>/<metric>"`` one split of it (``"python_faq/test/answer.correct_rate"``).

A gated metric missing from a run is itself a failure: a gate that silently stops checking
is worse than none.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.summary import lower_is_better
from loaders.errors import InvalidInput

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.toml")


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 0.0
    pct: float = 0.0

    def allowed(self, baseline: float) -> float:
        return max(self.absolute, abs(baseline) * self.pct / 100)


@dataclass
class Thresholds:
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    minimums: dict[str, float] = field(default_factory=dict)
    maximums: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Delta:
    metric: str
    a: float | None
    b: float | None
    gated: bool
    regression: bool
    note: str = ""

    @property
    def change(self) -> float | None:
        return None if self.a is None or self.b is None else round(self.b - self.a, 4)


def load_thresholds(path: Path) -> Thresholds:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"Cannot read thresholds {path}: {exc}", code="EVAL_THRESHOLDS") from exc
    tolerances = {
        name: Tolerance(float(v.get("tolerance", 0.0)), float(v.get("tolerance_pct", 0.0)))
        for name, v in raw.get("metrics", {}).items()
    }
    return Thresholds(
        tolerances=tolerances,
        minimums={k: float(v) for k, v in raw.get("minimums", {}).items()},
        maximums={k: float(v) for k, v in raw.get("maximums", {}).items()},
    )


def gate_values(summary: dict[str, Any]) -> dict[str, Any]:
    """The run's overall metrics plus every dataset- and split-scoped one, as gates name them."""
    values = dict(summary.get("overall", {}))
    for dataset, metrics in summary.get("datasets", {}).items():
        values |= {f"{dataset}/{m}": v for m, v in metrics.items()}
    for dataset, splits in summary.get("splits", {}).items():
        for split, metrics in splits.items():
            values |= {f"{dataset}/{split}/{m}": v for m, v in metrics.items()}
    return values


def compare(a: dict[str, Any], b: dict[str, Any], thresholds: Thresholds) -> list[Delta]:
    """Deltas of every metric in either run's overall summary; gated ones get a verdict."""
    out = []
    for metric in sorted(set(a) | set(b)):
        va, vb = a.get(metric), b.get(metric)
        tol = thresholds.tolerances.get(metric)
        if tol is None:
            out.append(Delta(metric, va, vb, gated=False, regression=False))
            continue
        if va is None or vb is None:
            note = "missing in " + ("A" if va is None else "B")
            out.append(Delta(metric, va, vb, gated=True, regression=vb is None, note=note))
            continue
        worse = (vb - va) if lower_is_better(metric) else (va - vb)
        allowed = tol.allowed(va)
        bad = worse > allowed + 1e-9
        note = f"worse by {worse:.4g} > allowed {allowed:.4g}" if bad else ""
        out.append(Delta(metric, va, vb, gated=True, regression=bad, note=note))
    return out


def check_bounds(overall: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """Failures of one run against absolute minimums and maximums (empty when it passes)."""
    failures = []
    for metric, low in sorted(thresholds.minimums.items()):
        value = overall.get(metric)
        if value is None or value < low:
            failures.append(f"{metric} = {value} is below the minimum {low}")
    for metric, high in sorted(thresholds.maximums.items()):
        value = overall.get(metric)
        if value is None or value > high:
            failures.append(f"{metric} = {value} is above the maximum {high}")
    return failures


def render_compare(deltas: list[Delta], name_a: str, name_b: str, *, all_metrics: bool) -> str:
    """Side-by-side table (gated metrics first) and a one-line verdict."""
    rows = sorted(deltas, key=lambda d: (not d.regression, not d.gated, d.metric))
    if not all_metrics:  # per-node latency, costs and per-dataset values only when gated
        rows = [
            d
            for d in rows
            if d.gated or not (d.metric.startswith(("latency.node.", "cost.")) or _scoped(d.metric))
        ]
    width = max([len(d.metric) for d in rows] + [6])
    lines = [f"A = {name_a}", f"B = {name_b}", ""]
    lines.append(f"{'metric':<{width}}  {'A':>10}  {'B':>10}  {'delta':>9}  verdict")
    for d in rows:
        verdict = "REGRESSION " + d.note if d.regression else ("ok" if d.gated else "")
        change = "" if d.change is None else f"{d.change:+.4g}"
        row = f"{d.metric:<{width}}  {_num(d.a):>10}  {_num(d.b):>10}  {change:>9}  {verdict}"
        lines.append(row.rstrip())
    bad = [d.metric for d in deltas if d.regression]
    lines.append("")
    lines.append(
        f"VERDICT: REGRESSION in {len(bad)} metric(s): {', '.join(bad)}"
        if bad
        else f"VERDICT: no regression ({sum(d.gated for d in deltas)} gated metrics checked)"
    )
    return "\n".join(lines)


def _scoped(metric: str) -> bool:
    return "/" in metric.split(".", 1)[0]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"
