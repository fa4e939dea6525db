"""Offline, deterministic answer metrics: correctness, groundedness, citations, refusals.

- **similarity**: cosine of the answer and the reference answer under the stack's embedding
  model (MiniLM by default), clipped to 0..1.
- **key-fact coverage**: share of the reference's checkable facts (quantities with units, menu
  paths, product-like names; see ``chains.guardrails.facts``) that the answer states. A
  reference without such facts falls back to the share of its content words.
- **correctness**: the mean of the two.
- **groundedness**: share of the answer's factual sentences the passages support (the output
  guardrail's own check, ``chains.guardrails.grounding.assess``).
- **citation accuracy**: share of cited sentences whose cited passages alone support them.
- **refusal**: the answer admits not knowing or offers a person, and states no quantity or menu
  path (a "refusal" that still invents a price is not a refusal).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chains.guardrails.facts import content_words, menu_paths, names, quantities
from chains.guardrails.grounding import assess, strip_markup
from loaders.code_text import mask_code

Similarity = Callable[[list[str], list[str]], list[list[float]]]

_CITED = re.compile(r"\[(\d{1,2})\]")
# A boundary after "." or after a citation, so "text [1]. Next" and "text. [1] Next" both keep
# the citation with its sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?\]])\s+(?=[\"'(*]?[A-Z0-9])")
_ADMITS = re.compile(
    r"(?i)\b(?:i (?:don't|do not|didn't|did not) (?:know|have|find)|i (?:couldn't|could not|"
    r"can't|cannot|was unable to|wasn't able to) (?:find|answer|confirm|help)|i'?m not (?:sure|"
    r"able)|no information|not (?:covered|mentioned|documented)|don't want to guess)\b"
    r"|\b(?:connect|transfer|hand) you\b|\b(?:a|our) (?:person|human|support agent|colleague)\b"
)


def key_facts(text: str) -> set[str]:
    """Checkable facts of a text, normalised so "30 minutes" and "thirty-minute" agree."""
    text = strip_markup(text)  # citation markers are not facts
    facts = {f"{v} {u}" if u else v for v, u in quantities(text)}
    paths = {p.lower() for p in menu_paths(text)}
    in_paths = {w for p in paths for w in re.findall(r"\w+", p)}  # counted once, as the path
    return facts | paths | ({n.lower() for n in names(text)} - in_paths)


def fact_coverage(answer: str, reference: str) -> float:
    wanted = key_facts(reference)
    if wanted:
        said = key_facts(answer) | {w.lower() for w in re.findall(r"[\w']+", answer)}
        return len(wanted & said) / len(wanted)
    ref_words = content_words(reference)
    if not ref_words:
        return 1.0
    return len(ref_words & content_words(answer)) / len(ref_words)


def cosine_pairs(similarity: Similarity, left: list[str], right: list[str]) -> list[float]:
    """Pairwise similarity of ``left[i]`` and ``right[i]``, clipped to 0..1."""
    if not left:
        return []
    matrix = similarity(left, right)
    return [round(max(0.0, min(1.0, matrix[i][i])), 4) for i in range(len(left))]


def correctness(similarity: float, coverage: float) -> float:
    return round((similarity + coverage) / 2, 4)


def groundedness(
    answer: str,
    passages: Sequence[str],
    sim: Similarity | None,
    *,
    quoted: bool = False,
    question: str = "",
) -> float | None:
    """Supported share of factual sentences; ``None`` when the answer claims nothing."""
    report = assess(answer, list(passages), sim, quoted=quoted, question=question)
    return round(report.support, 4) if report.checked else None


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Sentences of the answer with the passage numbers each one cites (citations kept)."""
    out = []
    for line in answer.splitlines():
        for sentence in _split_keep_citations(line):
            numbers = [int(n) for n in _CITED.findall(mask_code(sentence))]
            if numbers:
                out.append((sentence, list(dict.fromkeys(numbers))))
    return out


def _split_keep_citations(line: str) -> list[str]:
    parts, start = [], 0
    for m in _SENTENCE_END.finditer(line):
        parts.append(line[start : m.end()].strip())
        start = m.end()
    parts.append(line[start:].strip())
    return [p for p in parts if p]


def citation_accuracy(
    answer: str,
    passage_text: Callable[[int], str | None],
    sim: Similarity | None,
    *,
    quoted: bool = False,
) -> float | None:
    """Share of cited sentences supported by exactly the passages they cite; a citation of a
    passage that does not exist counts as wrong. ``None`` when nothing is cited."""
    cited = cited_sentences(answer)
    if not cited:
        return None
    good = 0
    for sentence, numbers in cited:
        texts = [passage_text(n) for n in numbers]
        if any(t is None for t in texts):
            continue
        report = assess(sentence, [t for t in texts if t is not None], sim, quoted=quoted)
        good += not report.unsupported and not report.missing_facts
    return round(good / len(cited), 4)


def is_refusal(answer: str) -> bool:
    """Admits not knowing or offers a person, without stating numbers or menu paths."""
    if not _ADMITS.search(answer):
        return False
    return not quantities(answer) and not menu_paths(answer)
