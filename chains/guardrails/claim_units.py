"""The evidence side of claim checking: clauses, terms, evidence units and the shared context.

Kept apart from the checks (``claim_checks``) and the orchestration (``claims``) because both
need the same splitting and scoring; putting it here lets them import it without a cycle.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chains.guardrails.facts import content_words, names, stem

Similarity = Callable[[list[str], list[str]], list[list[float]]]

CLAUSE = re.compile(
    r"\s*(?:;|:|,\s*(?:and|but|whereas|while|so|which|though)\b|\s+whereas\b|\s[–—-]\s"
    r"|\s+and\s+(?=(?:can|could|will|would|may|might|must|should|is|are|was|were|has|have|does"
    r"|do|also|then)\b))\s*"
)
WORD = re.compile(r"[A-Za-z0-9]+(?:['’][a-z]+)?")
# "B is the minor version number": a role; "A" only where it cannot be the article.
LETTER = re.compile(r"(?<![\w.])(?:[B-HJ-Z]|A(?=\s+(?:is|was|and|or)\b|,))(?![\w.])")


@dataclass(frozen=True)
class Unit:
    """One evidence unit: a passage sentence or a clause of it."""

    passage: int
    sentence: int
    text: str
    words: frozenset[str]


def norm(text: str) -> str:
    """Lower-cased words only, so a verbatim quote matches whatever its punctuation."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def clauses(text: str) -> list[str]:
    """Clauses of a sentence, each of at least two content words (short ones stay joined)."""
    out: list[str] = []
    for part in CLAUSE.split(text):
        if out and len(content_words(part)) < 2:
            out[-1] = f"{out[-1]} {part}"
        elif part.strip():
            out.append(part)
    if len(out) > 1 and len(content_words(out[0])) < 2:
        out[1] = f"{out[0]} {out[1]}"
        out.pop(0)
    return out or [text]


def terms(text: str) -> set[str]:
    """Content words plus single-letter roles ("A", "B") that content words drop."""
    return content_words(text) | {m.group(0).lower() for m in LETTER.finditer(text)}


def build_units(sentences: Sequence[Sequence[str]]) -> list[Unit]:
    """Every sentence of every passage, then each clause of the sentences that have several."""
    units = []
    for p, passage in enumerate(sentences):
        for s, sentence in enumerate(passage):
            units.append(Unit(p, s, sentence, frozenset(terms(sentence))))
            parts = clauses(sentence)
            if len(parts) > 1:
                units += [Unit(p, s, c, frozenset(terms(c))) for c in parts]
    return units


@dataclass
class Context:
    """What the checks of one answer share: units, passages, key terms, cosines."""

    units: list[Unit]
    sentences: Sequence[Sequence[str]]
    key_terms: set[str]
    cosine: dict[tuple[str, int], float]
    asked: set[str] = field(default_factory=set)  # the question's terms

    def sentence_text(self, unit: Unit) -> str:
        return self.sentences[unit.passage][unit.sentence]

    def window(self, unit: Unit) -> set[str]:
        """Words of the unit's sentence and its neighbours: pronouns reach that far back."""
        passage = self.sentences[unit.passage]
        near = passage[max(0, unit.sentence - 1) : unit.sentence + 2]
        return set().union(*(terms(s) for s in near))

    def passage_text(self, p: int) -> str:
        return " ".join(self.sentences[p])


def key_terms(units: Sequence[Unit], question: str) -> set[str]:
    """Words that can hold a role: the question's, the passages' names and single-letter roles,
    and the first content word (the subject, mostly) of each passage sentence and clause."""
    out = terms(question)
    for unit in units:
        out |= {n.lower() for n in names(unit.text)} | {
            m.group(0).lower() for m in LETTER.finditer(unit.text)
        }
        first = next((w for w in WORD.findall(unit.text) if stem(w) in unit.words), None)
        if first:
            out.add(stem(first))
    return {stem(w) for w in out} | out


def score(clause: str, words: set[str], unit: Unit, ctx: Context) -> float:
    """How well ``unit`` matches ``clause``: recall-weighted word overlap plus cosine. Both
    choosing a clause's unit and the roles check's "best clause" rank by it."""
    if not words:
        return 0.0
    shared = len(words & unit.words)
    recall, precision = shared / len(words), shared / max(1, len(unit.words))
    return 0.6 * recall + 0.2 * precision + 0.4 * ctx.cosine.get((clause, id(unit)), 0.0)
