"""Guardrail latency: ``check_input`` / ``check_output`` per call, against the bare detectors.

The baseline runs the same detectors without guardrails-ai, so the difference is what the
``Guard`` wrapper costs. Run ``python -m chains.guardrails.bench``; prints JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chains.guardrails import check_input, check_output
from chains.guardrails.grounding import assess
from chains.guardrails.injection import find_injection
from chains.guardrails.leakage import pii_leaks, system_prompt_leak
from chains.guardrails.pii import find_pii
from chains.guardrails.toxicity import find_harmful, find_toxicity
from loaders.bench.common import percentiles

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PROMPT = "You are the Tasklane support assistant. Answer only from the passages. " * 4


def _texts(name: str, key: str) -> list[Any]:
    path = ROOT / "evals" / "datasets" / name
    return [json.loads(line)[key] for line in path.read_text("utf-8").splitlines() if line]


def _time(fn: Callable[[Any], object], items: list[Any], rounds: int) -> dict[str, float]:
    fn(items[0])  # build the cached Guard outside the measurement
    samples = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def _bare_input(text: str) -> None:
    find_pii(text), find_injection(text), find_toxicity(text)


def _bare_output(case: tuple[str, list[str]]) -> None:
    answer, passages = case
    pii_leaks(answer, passages), system_prompt_leak(answer, SYSTEM_PROMPT, passages)
    find_harmful(answer), assess(answer, passages)


def run(rounds: int = 5) -> dict[str, Any]:
    """Latency percentiles (ms) per call for both checks and their bare-detector baselines."""
    questions = _texts("guardrails_benign.jsonl", "text") + _texts("injection.jsonl", "text")
    filler = (ROOT / "loaders/sample_kb/_sources/refund-policy.pdf.md").read_text("utf-8")
    chunks = [filler[i : i + 800] for i in range(0, 3200, 800)]
    answers = [a for a in _texts("kb_qa.jsonl", "reference_answer") if a]
    cases = [(a, [a, *chunks]) for a in answers]
    return {
        "questions": len(questions),
        "answers": len(cases),
        "check_input_ms": _time(check_input, questions, rounds),
        "bare_input_ms": _time(_bare_input, questions, rounds),
        "check_output_ms": _time(
            lambda c: check_output(c[0], c[1], system_prompt=SYSTEM_PROMPT), cases, rounds
        ),
        "bare_output_ms": _time(_bare_output, cases, rounds),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
