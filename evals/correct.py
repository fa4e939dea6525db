"""The binary "correct" metric: an answer a customer can use, taken from the right section.

An answer is **on target** when it is not a refusal or "I don't know"
(``answer_metrics.is_refusal``) and at least ``ON_TARGET_SHARE`` of its text, counted in
characters (whitespace and citation markers not counted), sits in cited spans that cite a
passage from one of the item's ``expected_sources`` and, when the item lists
``expected_sections``, whose ``heading_path`` (components joined by ``" > "``) contains one of
them. A citation covers the text since the previous citation, because extractive answers cite a
list, a table or a code block once, after its last line; text after the last citation cites
nothing and counts against the share. Headings are compared case-insensitively,
whitespace-normalised and without Sphinx's trailing "¶" permalink. Items without
``expected_sections`` (``kb_qa``) are judged by ``expected_sources`` alone.

An answer is **correct** when it is on target AND (embedding similarity to the reference
>= ``SIMILARITY_MIN`` OR key-fact coverage >= ``COVERAGE_MIN``): from the right place and saying
what the reference says. For calibration and ``confident_wrong`` an unanswerable item is
"correct" when the bot refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from evals.answer_metrics import is_refusal
from evals.turns import Passage
from loaders.code_text import mask_code
from loaders.html_text import HEADING_SEPARATOR

ON_TARGET_SHARE = 0.5
"""Share of the answer's characters that must cite an expected source (and section)."""
SIMILARITY_MIN = 0.5
"""Embedding similarity to the reference answer that counts as saying the same thing."""
COVERAGE_MIN = 0.5
"""Key-fact coverage of the reference that counts as saying the same thing."""
CONFIDENT = 0.5
"""Confidence at or above which a wrong answer (or an unanswerable one answered) is
"confident-wrong"."""

_CITATIONS = re.compile(r"(?:\s*\[(?:\d{1,2})\])+")


def normalise_heading(text: str) -> str:
    """Case-folded, single-spaced, without a trailing "¶"."""
    return " ".join(text.split()).removesuffix("¶").strip().casefold()


def in_sections(heading_path: str, sections: Sequence[str]) -> bool:
    """Whether one component of ``heading_path`` is one of ``sections`` (normalised)."""
    wanted = {normalise_heading(s) for s in sections}
    return any(normalise_heading(h) in wanted for h in heading_path.split(HEADING_SEPARATOR))


def passage_on_target(
    passage: Passage | None, sources: Sequence[str], sections: Sequence[str]
) -> bool:
    """From an expected source and, when sections are expected, from one of them."""
    if passage is None or passage.source not in sources:
        return False
    return not sections or in_sections(passage.heading_path, sections)


def cited_spans(answer: str) -> list[tuple[str, list[int]]]:
    """The answer cut after each run of citations: (text, cited numbers); the text after the
    last citation comes last with no numbers."""
    spans, start = [], 0
    for m in _CITATIONS.finditer(mask_code(answer)):  # a[0] in quoted code cites nothing
        spans.append((answer[start : m.start()], [int(n) for n in re.findall(r"\d+", m.group())]))
        start = m.end()
    spans.append((answer[start:], []))
    return spans


def _chars(text: str) -> int:
    return len("".join(text.split()).strip(".,;:"))


def on_target_share(
    answer: str,
    passage: Callable[[int], Passage | None],
    sources: Sequence[str],
    sections: Sequence[str] = (),
) -> float:
    """Share of the answer's characters in spans citing an on-target passage (0 when empty)."""
    total = good = 0
    for text, numbers in cited_spans(answer):
        n = _chars(text)
        total += n
        if any(passage_on_target(passage(k), sources, sections) for k in numbers):
            good += n
    return good / total if total else 0.0


def is_on_target(
    answer: str,
    passage: Callable[[int], Passage | None],
    sources: Sequence[str],
    sections: Sequence[str] = (),
) -> bool:
    """Not a refusal, and at least ``ON_TARGET_SHARE`` of the text from the right place."""
    if not answer.strip() or is_refusal(answer):
        return False
    return on_target_share(answer, passage, sources, sections) >= ON_TARGET_SHARE


def is_correct(on_target: bool, similarity: float, coverage: float) -> bool:
    """On target and saying what the reference says (either measure is enough)."""
    return on_target and (similarity >= SIMILARITY_MIN or coverage >= COVERAGE_MIN)


def is_confident_wrong(confidence: float, correct: bool) -> bool:
    """Sure of itself (``confidence >= CONFIDENT``) and not correct."""
    return confidence >= CONFIDENT and not correct
