"""Sentence-level support of claims: which passage sentence backs each claim, and the meaning
checks word overlap misses.

A claim is split into clauses (", and", ";", "whereas"...); each clause is matched to its best
evidence unit (a passage sentence or one of its clauses) by word coverage and, when an embedding
``similarity`` is given, cosine. Against that unit, and per passage, it must then keep:

- its numbers (a number found only in another sentence of the passages is a wrong number);
- its names, code names and "the X module"-style entities (found in that passage);
- its polarity ("not", "never", "can't", "in-/un-" antonyms) over the matched span;
- its roles: a key term the unit lacks, while the unit has another key term the claim lacks,
  is a swap ("tuples are like arrays" where the passage says it of lists);
- its content: a few uncovered words are a paraphrase, more are an unsupported addition.

A claim quoted verbatim from a passage is supported by it without further checks, so the
extractive model's answers always pass.

The pieces live in ``claim_units`` (clauses, terms, evidence units, the shared context) and
``claim_checks`` (the per-clause checks); this module matches claims to units and keeps the
public names importers use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chains.guardrails.claim_checks import (
    MAX_UNCOVERED,
    MIN_COSINE,
    MIN_COVERAGE,
    SAME_MEANING,
    WEAK_COSINE,
    check_clause,
    subject,
)
from chains.guardrails.claim_units import (
    Context,
    Similarity,
    Unit,
    build_units,
    clauses,
    key_terms,
    norm,
    score,
    terms,
)

__all__ = [
    "MAX_UNCOVERED",
    "MIN_COSINE",
    "MIN_COVERAGE",
    "SAME_MEANING",
    "WEAK_COSINE",
    "ClaimCheck",
    "Similarity",
    "Unit",
    "build_units",
    "check_claims",
    "clauses",
    "key_terms",
    "subject",
    "terms",
]


@dataclass(frozen=True)
class ClaimCheck:
    """How one claim sentence fared; ``passages`` (0-based, best first) each support it alone."""

    sentence: str
    passages: tuple[int, ...] = ()
    problem: str | None = None
    detail: str = ""
    evidence: str = ""

    @property
    def supported(self) -> bool:
        return bool(self.passages)


def _best(clause: str, units: list[Unit], ctx: Context) -> Unit | None:
    words = terms(clause)
    return max(units, key=lambda u: score(clause, words, u, ctx), default=None)


def _check_claim(claim: str, ctx: Context) -> ClaimCheck:
    """Supported by each passage whose best units pass every check for every clause."""
    normed = norm(claim)
    verbatim = [p for p in range(len(ctx.sentences)) if normed in norm(ctx.passage_text(p))]
    if normed and verbatim:
        return ClaimCheck(claim, tuple(verbatim), evidence=claim)
    first: tuple[str, str, str] | None = None
    first_score = -1.0
    passing: list[tuple[float, int]] = []
    for p in range(len(ctx.sentences)):
        units = [u for u in ctx.units if u.passage == p]
        total, failed = 0.0, None
        for clause in clauses(claim):
            unit = _best(clause, units, ctx)
            if unit is None:
                failed = ("unsupported", "empty passage", "")
                break
            total += score(clause, terms(clause), unit, ctx)
            problem = check_clause(clause, unit, ctx)
            if problem:
                failed = (*problem, unit.text)
                break
        if failed is None:
            passing.append((total, p))
        elif first is None or total > first_score:
            first, first_score = failed, total
    if passing:
        ranked = tuple(p for _, p in sorted(passing, key=lambda t: -t[0]))
        return ClaimCheck(claim, ranked)
    kind, detail, evidence = first or ("unsupported", "no passages", "")
    return ClaimCheck(claim, (), kind, detail, evidence)


def check_claims(
    claims: list[str],
    sentences: Sequence[Sequence[str]],
    similarity: Similarity | None = None,
    question: str = "",
) -> list[ClaimCheck]:
    """One :class:`ClaimCheck` per claim; ``sentences`` are each passage's sentences.

    The embedding model is called once, for the clauses of the claims not quoted verbatim.
    """
    units = build_units(sentences)
    ctx = Context(units, sentences, key_terms(units, question), {}, terms(question))
    passages = [norm(" ".join(p)) for p in sentences]
    open_claims = [c for c in claims if not any(norm(c) in p for p in passages)]
    parts = list(dict.fromkeys(c for claim in open_claims for c in clauses(claim)))
    if similarity is not None and parts and units:
        rows = similarity(parts, [u.text for u in units])
        for part, row in zip(parts, rows, strict=True):
            for unit, cosine in zip(units, row, strict=True):
                ctx.cosine[(part, id(unit))] = float(cosine)
    return [_check_claim(c, ctx) for c in claims]
