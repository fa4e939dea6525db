"""Eval datasets: loading and checking JSONL files into one item shape every metric reads.

Two kinds of line share a file format. QA items (``kb_qa.jsonl``, ``retrieval.jsonl``,
``python_faq.jsonl``) have a ``question`` (a string, or a list of turns sent in one session) and
optionally ``reference_answer``, ``expected_sources``, ``expected_sections`` (heading texts of the
sections that answer it), ``answerable`` and ``split`` (``dev`` to tune on, ``test`` held out).
Guardrail items (``injection.jsonl``, ``guardrails_benign.jsonl``) have ``text``, ``kind`` and
``expected`` (``block`` for attacks the guardrails must catch, ``allow`` for benign messages).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loaders.errors import InvalidInput

DATASET_DIR = Path(__file__).with_name("datasets")
SHIPPED = ("kb_qa", "retrieval", "python_faq", "injection", "guardrails_benign")
SPLITS = ("dev", "test")
Expected = Literal["block", "allow"]


@dataclass(frozen=True)
class EvalItem:
    """One dataset line; only the last of ``turns`` is scored, earlier ones build context."""

    id: str
    dataset: str
    turns: tuple[str, ...]
    reference_answer: str | None = None
    expected_sources: tuple[str, ...] = ()
    answerable: bool | None = None
    tags: tuple[str, ...] = ()
    kind: str | None = None
    expected: Expected | None = None
    expected_sections: tuple[str, ...] = ()
    split: str | None = None

    @property
    def question(self) -> str:
        return self.turns[-1]

    @property
    def is_guardrail(self) -> bool:
        return self.expected is not None


def _invalid(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}", code="EVAL_DATASET_INVALID")


def parse_item(raw: dict[str, Any], dataset: str, where: str) -> EvalItem:
    """Check one decoded line and turn it into an ``EvalItem``."""
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise _invalid(where, "every item needs a string 'id'.")
    if "text" in raw:
        expected = raw.get("expected")
        if expected not in ("block", "allow"):
            raise _invalid(where, "guardrail items need 'expected': 'block' or 'allow'.")
        kind = str(raw.get("kind") or "other")
        return EvalItem(
            id=raw["id"],
            dataset=dataset,
            turns=(str(raw["text"]),),
            tags=(kind, expected),
            kind=kind,
            expected=expected,
        )
    question = raw.get("question")
    turns = tuple(question) if isinstance(question, list) else (question,)
    if not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise _invalid(where, "'question' must be a non-empty string or list of strings.")
    sources = raw.get("expected_sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise _invalid(where, "'expected_sources' must be a list of file names.")
    answerable = raw.get("answerable")
    if answerable is not None and not isinstance(answerable, bool):
        raise _invalid(where, "'answerable' must be true or false.")
    sections = raw.get("expected_sections") or []
    if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
        raise _invalid(where, "'expected_sections' must be a list of section headings.")
    split = raw.get("split")
    if split is not None and split not in SPLITS:
        raise _invalid(where, f"'split' must be one of {', '.join(SPLITS)}.")
    return EvalItem(
        id=raw["id"],
        dataset=dataset,
        turns=turns,
        reference_answer=raw.get("reference_answer") or None,
        expected_sources=tuple(sources),
        answerable=answerable,
        tags=tuple(str(t) for t in raw.get("tags") or ()),
        expected_sections=tuple(sections),
        split=split,
    )


def resolve(name_or_path: str) -> Path:
    """A path as given, else a shipped dataset by name (``kb_qa`` or ``kb_qa.jsonl``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = DATASET_DIR / (path.name if path.suffix == ".jsonl" else f"{path.name}.jsonl")
    if shipped.is_file():
        return shipped
    raise InvalidInput(
        f"No dataset {name_or_path!r}; shipped: {', '.join(SHIPPED)}.", code="EVAL_DATASET_MISSING"
    )


def load_dataset(path: Path) -> list[EvalItem]:
    """Every item of a JSONL file; ids must be unique."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _invalid(where, f"not JSON ({exc.msg}).") from exc
        if not isinstance(raw, dict):
            raise _invalid(where, "each line must be a JSON object.")
        item = parse_item(raw, path.stem, where)
        if item.id in seen:
            raise _invalid(where, f"duplicate id {item.id!r}.")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise _invalid(path.name, "the dataset is empty.")
    return items


def spread(items: list[EvalItem], limit: int | None) -> list[EvalItem]:
    """``limit`` items evenly spaced over the file (first and last included), so a small smoke
    run still meets the unanswerable and multi-turn items that sit at the end of a file."""
    if limit is None or limit >= len(items):
        return items
    if limit <= 1:
        return items[:limit]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def select(
    items: list[EvalItem], *, split: str | None = None, limit: int | None = None
) -> list[EvalItem]:
    """The items of one dataset that a run sends.

    ``split`` keeps that split of a dataset that has splits (a dataset without any runs whole:
    it has no held-out part). A ``limit`` without ``split`` spreads over the ``dev`` split of
    such a dataset, so a quick or smoke run never reads a held-out ``test`` item.
    """
    if any(i.split for i in items):
        name = items[0].dataset
        wanted = split or ("dev" if limit is not None else None)
        if wanted:
            items = [i for i in items if i.split == wanted]
        if not items:
            raise InvalidInput(f"{name} has no {wanted!r} items.", code="EVAL_DATASET_INVALID")
    return spread(items, limit)
