"""The groundedness gate set: labelled (sentence, passages) cases and how well the gate flags them.

Each line of ``datasets/gate.jsonl`` holds a ``sentence`` an answer might contain, the
``passages`` it was drawn from, the ``question`` it answers, a ``label`` (``supported`` or the
kind of error: ``swapped_roles``, ``negated``, ``wrong_number``, ``wrong_entity``,
``unsupported_addition``, ``partly_supported``) and a ``split`` (``dev`` to tune on, ``test``
held out). The positive class is "unsupported": any label but ``supported``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loaders.errors import InvalidInput

GATE_SET = Path(__file__).with_name("datasets") / "gate.jsonl"
SUPPORTED = "supported"
KINDS = (
    "swapped_roles",
    "negated",
    "wrong_number",
    "wrong_entity",
    "unsupported_addition",
    "partly_supported",
)
LABELS = (SUPPORTED, *KINDS)
# (sentences, passages, question) -> per sentence: flagged as unsupported?
Gate = Callable[[list[str], list[str], str], list[bool]]


@dataclass(frozen=True)
class GateCase:
    id: str
    sentence: str
    passages: tuple[str, ...]
    label: str
    split: str
    question: str = ""
    corpus: str = ""

    @property
    def unsupported(self) -> bool:
        return self.label != SUPPORTED


def load_gate_set(path: Path = GATE_SET, split: str | None = None) -> list[GateCase]:
    """The cases of ``path`` (of one ``split`` if given); raises on a malformed line."""
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if raw.get("label") not in LABELS or raw.get("split") not in ("dev", "test"):
            raise InvalidInput(f"{path.name} line {n}: bad label or split.", code="EVAL_GATE_SET")
        if not raw.get("sentence") or not raw.get("passages"):
            raise InvalidInput(f"{path.name} line {n}: needs sentence and passages.",
                               code="EVAL_GATE_SET")  # fmt: skip
        cases.append(
            GateCase(
                id=str(raw["id"]),
                sentence=raw["sentence"],
                passages=tuple(raw["passages"]),
                label=raw["label"],
                split=raw["split"],
                question=raw.get("question") or "",
                corpus=raw.get("corpus") or "",
            )
        )
    return [c for c in cases if split is None or c.split == split]


def offline_gate(similarity: Any | None) -> Gate:
    """The output guardrail's own sentence check (no model call)."""
    from chains.guardrails.grounding import check_sentences

    def gate(sentences: list[str], passages: list[str], question: str) -> list[bool]:
        checks = check_sentences(sentences, passages, similarity, question)
        return [not c.supported for c in checks]

    return gate


def run_gate(cases: Sequence[GateCase], gate: Gate) -> list[dict[str, Any]]:
    """One record per case: its label, the gate's flag and whether they agree."""
    records = []
    for case in cases:
        flagged = gate([case.sentence], list(case.passages), case.question)[0]
        records.append(
            {
                "id": case.id,
                "split": case.split,
                "corpus": case.corpus,
                "label": case.label,
                "sentence": case.sentence,
                "flagged": flagged,
                "correct": flagged == case.unsupported,
            }
        )
    return records


def _pr(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {"precision": _round(precision), "recall": _round(recall)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def gate_metrics(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Precision and recall of "unsupported", overall and per kind.

    A kind's precision counts its own catches against every false alarm on supported cases
    (false alarms have no kind), so it reads as "precision if this were the only error".
    """
    supported = [r for r in records if r["label"] == SUPPORTED]
    fp = sum(r["flagged"] for r in supported)
    positives = [r for r in records if r["label"] != SUPPORTED]
    tp = sum(r["flagged"] for r in positives)
    out: dict[str, Any] = {
        "cases": len(records),
        "supported": len(supported),
        "false_alarms": fp,
        **_pr(tp, fp, len(positives) - tp),
        "kinds": {},
    }
    for kind in KINDS:
        rows = [r for r in positives if r["label"] == kind]
        if rows:
            caught = sum(r["flagged"] for r in rows)
            out["kinds"][kind] = {"cases": len(rows), **_pr(caught, fp, len(rows) - caught)}
    return out


def summarize_gate(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Metrics for all cases and for each split."""
    splits = sorted({r["split"] for r in records})
    return {
        "all": gate_metrics(records),
        **{s: gate_metrics([r for r in records if r["split"] == s]) for s in splits},
    }


def verified_gate(gate: Gate, model: Any) -> Gate:
    """``gate``, then the model verification the chat graph makes with ``verify_claims``:
    one call per case for the sentences the offline gate let through."""
    from chains.guardrails.verify import verify

    def run(sentences: list[str], passages: list[str], question: str) -> list[bool]:
        flags = gate(sentences, passages, question)
        shown = [s for s, f in zip(sentences, flags, strict=True) if not f]
        verdicts = dict(zip(shown, verify(model, shown, passages), strict=True))
        return [f or verdicts.get(s) is False for s, f in zip(sentences, flags, strict=True)]

    return run
