"""The gate-set metrics: precision and recall of "unsupported", overall and per kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.gate_set import GATE_SET, load_gate_set, run_gate, summarize_gate
from loaders.errors import InvalidInput


def rec(label: str, flagged: bool, split: str = "dev") -> dict[str, object]:
    return {"label": label, "flagged": flagged, "split": split}


def test_precision_and_recall_on_a_tiny_fixture() -> None:
    records = [
        rec("supported", False), rec("supported", True),  # one false alarm
        rec("negated", True), rec("negated", False),
        rec("wrong_number", True), rec("swapped_roles", True, "test"),
    ]  # fmt: skip
    summary = summarize_gate(records)
    dev = summary["dev"]
    assert dev["false_alarms"] == 1 and dev["cases"] == 5
    assert dev["precision"] == pytest.approx(2 / 3, abs=1e-4)  # 2 caught, 1 false alarm
    assert dev["recall"] == pytest.approx(2 / 3, abs=1e-4)  # 2 of 3 errors caught
    assert dev["kinds"]["negated"] == {"cases": 2, "precision": 0.5, "recall": 0.5}
    assert dev["kinds"]["wrong_number"] == {"cases": 1, "precision": 0.5, "recall": 1.0}
    assert "swapped_roles" not in dev["kinds"]
    assert summary["test"]["precision"] == 1.0 and summary["test"]["recall"] == 1.0
    assert summary["all"]["recall"] == 0.75


def test_run_gate_records_the_gates_flags() -> None:
    cases = load_gate_set(split="dev")[:3]
    records = run_gate(cases, lambda sentences, passages, question: [True] * len(sentences))
    assert [r["flagged"] for r in records] == [True, True, True]
    assert [r["correct"] for r in records] == [c.unsupported for c in cases]


def test_the_shipped_gate_set_is_large_split_and_covers_every_kind() -> None:
    cases = load_gate_set()
    assert len(cases) >= 60
    assert {c.corpus for c in cases} == {"sample_kb", "python_faq"}
    summary = summarize_gate([rec(c.label, c.unsupported, c.split) for c in cases])
    assert set(summary) == {"all", "dev", "test"}
    assert len(summary["test"]["kinds"]) == 6 and summary["test"]["supported"] >= 10


def test_a_bad_label_is_refused(tmp_path: Path) -> None:
    line = json.loads(GATE_SET.read_text().splitlines()[0]) | {"label": "maybe"}
    bad = tmp_path / "g.jsonl"
    bad.write_text(json.dumps(line))
    with pytest.raises(InvalidInput):
        load_gate_set(bad)
