"""How well each unit of the retrieved passages answers the question.

Two signals, mixed when the embedder is there (it always is in the served graph):

- **semantic**: cosine of the question and the unit (embedded with its nearest heading, see
  ``loaders.units.embedding_text``), read from the vectors ingestion stored;
- **lexical**: the idf-weighted share of the question's content stems the unit has, with
  its headings counted at a discount and phrases (bigrams) counted extra.

A small prior follows the passage's retrieval relevance, and the *kind* of unit the question
asks for earns a bonus: how-to questions want steps, lists or commands; why-questions an
explanation. The weights were chosen on the ``dev`` split of the held-out Python-FAQ set and
checked on ``kb_qa``; nothing here keys on any knowledge base's vocabulary.

Without an embedder (unit tests, a bare model) the lexical score stands alone, with its
stricter gates (two shared terms, a sentence for a fact question). With one, that gated score
is kept as ``Unit.strict``: the word evidence a weak meaning-only match must also have
(``ExtractiveChatModel._trusted``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chains.extractive.question import (
    ASKS_QUANTITY,
    INSTRUCTION,
    asked_topic,
    opposed,
    question_kind,
    stems,
    words,
)
from loaders.unit_vectors import embedding_text
from loaders.units import candidates

Embed = Callable[[Sequence[str]], Any]
"""Texts -> unit-length vectors, one row each (``loaders.unit_vectors.UnitVectors``)."""

_NUMBER = re.compile(r"\d")
_STEP_NUMBER = re.compile(r"^\d+\. ", re.M)
_SETTLES = re.compile(
    r"\b(?:yes|no|not|never|cannot|can't|don't|doesn't|isn't|aren't|won't|only|always|must)\b",
    re.I,
)
_EXPLAINS = re.compile(
    r"\b(?:because|since|so that|reason|due to|in order to|otherwise|therefore|thus|hence)\b", re.I
)
PROCEDURE_BONUS = 0.2
"""Lexical score added to a numbered procedure when the question asks how to do something."""
CONTEXT_WEIGHT = 0.5
"""Share of a question term's weight earned when only the passage's heading has it."""
W_COSINE, W_LEXICAL, W_RELEVANCE = 1.0, 0.1, 0.6
"""Mix of the semantic, lexical and retrieval signals (tuned on the dev split)."""
FIT_BONUS = 0.03
"""Added when a unit is the kind the question asks for (steps for how-to...)."""


@dataclass
class Unit:
    """One candidate: a sentence, FAQ pair, list, code block or table row of one passage."""

    n: int
    rank: int
    position: int
    text: str
    terms: set[str]
    context: set[str]
    pairs: set[tuple[str, str]]
    steps: int = 0
    heading: str = ""  # its headings as written, to tell "Turning on" from "Turning off"
    kind: str = "sentence"
    relevance: float = 0.0  # the passage's retrieval relevance
    embed_text: str = ""
    lexical: float = 0.0
    strict: float = 0.0  # the lexical score with the no-embedder gates: word evidence alone
    cosine: float = 0.0
    score: float = 0.0


def _bigrams(seq: list[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(seq))


def units(passages: Sequence[Any]) -> list[Unit]:
    """Every unit of every passage (navigation passages have none)."""
    out = []
    for rank, passage in enumerate(passages):
        if passage.get("navigation"):
            continue
        relevance = float(passage.get("relevance") or 0.0)
        for cand in candidates(str(passage.get("text") or "")):
            seq = stems(_STEP_NUMBER.sub("", cand.text) if cand.steps else cand.text)
            terms = set(seq)
            context = set(stems(cand.context)) - terms
            out.append(
                Unit(int(passage["n"]), rank, cand.position, cand.text, terms, context,
                     _bigrams(seq), cand.steps, cand.context, cand.kind, relevance,
                     embedding_text(cand))
            )  # fmt: skip
    return out


@dataclass
class Question:
    weight: dict[str, float]  # idf weight of each content stem
    pairs: set[tuple[str, str]]
    words: set[str]  # every word's stem, stopwords included
    numeric: bool  # asks for a quantity
    kind: str  # chains.extractive.question.question_kind

    @property
    def procedural(self) -> bool:
        """Asks how to do something."""
        return self.kind == "howto"


def score(question: str, found: list[Unit], embed: Embed | None, focus: str = "") -> None:
    """Set every unit's ``score``: lexical alone, or mixed with cosine when ``embed`` is set.

    ``focus`` is what the customer typed when ``question`` is a follow-up rewritten with
    earlier turns' topic: carried words weigh ``CONTEXT_WEIGHT``, like a sentence's headings.
    """
    q_seq = stems(asked_topic(question))
    if not found or not (q_seq or embed):
        return
    q = _question(question, q_seq, found, focus)
    cosines = _cosines(question, found, embed) if embed else None
    for i, unit in enumerate(found):
        unit.strict = _lexical(unit, q, strict=True) if q.weight else 0.0
        if cosines is None:
            unit.score = unit.lexical = unit.strict
            continue
        unit.lexical = _lexical(unit, q, strict=False) if q.weight else 0.0
        unit.cosine = float(cosines[i])
        if q.procedural and opposed(q.words, words(unit.heading)):
            unit.score = 0.0  # "Turning on 2FA" does not answer "How do I turn off 2FA?"
            continue
        unit.score = (W_COSINE * max(0.0, unit.cosine) + W_LEXICAL * min(1.0, unit.lexical)
                      + W_RELEVANCE * unit.relevance + _fit(unit, q))  # fmt: skip


def _question(question: str, q_seq: list[str], found: list[Unit], focus: str) -> Question:
    q_terms = set(q_seq)
    # Word rarity is counted over sentences: a procedure repeats its steps' words.
    sentences = [u for u in found if not u.steps] or found
    df = {t: sum(t in u.terms for u in sentences) for t in q_terms}
    weight = {t: math.log(1 + len(sentences) / (df[t] or 0.5)) for t in q_terms}
    asked = q_terms & set(stems(asked_topic(focus)))
    if asked:
        weight = {t: w if t in asked else CONTEXT_WEIGHT * w for t, w in weight.items()}
    return Question(
        weight, _bigrams(q_seq), words(question),
        numeric=bool(ASKS_QUANTITY.search(question)),
        kind=question_kind(question),
    )  # fmt: skip


def _fit(unit: Unit, q: Question) -> float:
    """The unit is the kind of answer the question asks for."""
    if q.kind == "howto":
        actionable = unit.kind in ("steps", "list", "code") or "`" in unit.text
        return FIT_BONUS if actionable or INSTRUCTION.match(unit.text) else 0.0
    if q.kind == "why":
        return FIT_BONUS if _EXPLAINS.search(unit.text) else 0.0
    if q.kind == "yesno":  # the sentence that settles it says yes, no, only, never...
        return FIT_BONUS / 2 if unit.kind != "code" and _SETTLES.search(unit.text) else 0.0
    if q.numeric:
        return FIT_BONUS if _NUMBER.search(unit.text) else 0.0
    return 0.0


def _lexical(unit: Unit, q: Question, *, strict: bool) -> float:
    """Weighted share of the question's terms the unit (and, discounted, its heading) has.

    ``strict`` (no embedder) keeps the gates that stop a lexical-only answerer from quoting
    a unit that shares one word with the question.
    """
    terms = set(q.weight)
    step = q.procedural and bool(unit.steps or INSTRUCTION.match(unit.text))
    listed = unit.kind in ("steps", "list")
    if strict and listed and (not step or (unit.heading and not terms & words(unit.heading))):
        return 0.0  # a fact question is answered by a sentence; a procedure by what it does
    if strict and q.procedural and opposed(q.words, words(unit.heading)):
        return 0.0
    # A heading that covers the whole question names what the steps under it do.
    covered = step and terms <= unit.terms | unit.context
    found = sum(q.weight[t] for t in terms & unit.terms)
    heading = sum(q.weight[t] for t in terms & unit.context)
    lexical = (found + (1.0 if covered else CONTEXT_WEIGHT) * heading) / sum(q.weight.values())
    if strict and (
        not (found or covered) or len(terms & (unit.terms | unit.context)) < min(2, len(terms))
    ):
        return 0.0
    # Phrases ("reset link") count extra; ties go to the better passage.
    lexical += 0.1 * min(2, len(q.pairs & unit.pairs)) + 0.02 / (1 + unit.rank)
    if strict:
        lexical += 0.1 if q.numeric and _NUMBER.search(unit.text) else 0.0
        lexical += PROCEDURE_BONUS if unit.steps else 0.0
    return lexical


def _cosines(question: str, found: list[Unit], embed: Embed) -> np.ndarray:
    """Cosine of the question and each unit; the question goes through ``embed.query`` when
    the embedder has one, so customer text is never stored beside the units."""
    query = getattr(embed, "query", None)
    q = np.asarray(query(question) if query else embed([question])[0], dtype=np.float64)
    vectors = np.asarray(embed([u.embed_text for u in found]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors @ (q / max(float(np.linalg.norm(q)), 1e-12))  # type: ignore[no-any-return]
