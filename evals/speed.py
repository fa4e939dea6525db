"""Latency percentiles per turn and per graph node, tokens, and cost per 1,000 turns.

Prices come from ``evals/prices.toml`` (USD per million tokens, per ``provider/model``); the
cost of a run's *measured* token use is estimated for every listed provider, so one offline
run answers "what would this traffic cost on each model".
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PRICES = Path(__file__).with_name("prices.toml")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(float(ordered[rank - 1]), 2)


def load_prices(path: Path = PRICES) -> dict[str, dict[str, float]]:
    """``{provider/model: {"input": usd_per_million, "output": usd_per_million}}``."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        name: {"input": float(p["input_per_million"]), "output": float(p["output_per_million"])}
        for name, p in raw.get("providers", {}).items()
    }


def latency(turns: Sequence[dict[str, Any]]) -> dict[str, float]:
    """p50/p95 of the turn's wall time and of each node's time (nodes a turn skipped are not
    counted as zero)."""
    out = {
        "latency.turn_p50_ms": percentile([t["latency_ms"] for t in turns], 50),
        "latency.turn_p95_ms": percentile([t["latency_ms"] for t in turns], 95),
    }
    nodes: dict[str, list[float]] = {}
    for t in turns:
        for node, ms in (t.get("timings") or {}).items():
            nodes.setdefault(node, []).append(float(ms))
    for node, values in sorted(nodes.items()):
        out[f"latency.node.{node}_p50_ms"] = percentile(values, 50)
        out[f"latency.node.{node}_p95_ms"] = percentile(values, 95)
    return out


def tokens_and_cost(
    turns: Sequence[dict[str, Any]], prices: dict[str, dict[str, float]]
) -> dict[str, float]:
    """Mean tokens per turn and the estimated USD cost of 1,000 such turns per provider."""
    n = len(turns) or 1
    prompt = sum(int((t.get("usage") or {}).get("prompt_tokens", 0)) for t in turns) / n
    completion = sum(int((t.get("usage") or {}).get("completion_tokens", 0)) for t in turns) / n
    out = {
        "tokens.prompt_per_turn": round(prompt, 1),
        "tokens.completion_per_turn": round(completion, 1),
    }
    for name, p in sorted(prices.items()):
        usd = 1000 * (prompt * p["input"] + completion * p["output"]) / 1_000_000
        out[f"cost.per_1000_turns_usd.{name}"] = round(usd, 4)
    return out
