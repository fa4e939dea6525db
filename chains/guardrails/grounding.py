"""Groundedness of an answer: is every factual sentence supported by the retrieved passages?

A sentence is supported when (a) each of its quantities and product-like names occurs in some
passage, and (b) one passage supports it sentence by sentence: the right numbers, names,
polarity and roles, and enough of its words or (with an embedding ``similarity``) its meaning
(``chains.guardrails.claims``). Greetings, questions
and "I don't know / let me connect you" sentences make no claim and are not checked, unless
they contain a number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chains.guardrails.claims import ClaimCheck, check_claims
from chains.guardrails.facts import (
    Quantity,
    content_words,
    menu_paths,
    names,
    normalize_paths,
    quantities,
    tokens,
)

Similarity = Callable[[list[str], list[str]], list[list[float]]]

LEXICAL_THRESHOLD = 0.5
SIMILARITY_THRESHOLD = 0.6
MIN_SUPPORT = 0.8

_CITATION = re.compile(r"\s*(?:\[\^?\d+(?:\s*[,;\-–]\s*\d+)*\])+")
_MARKDOWN = re.compile(r"\*\*|__|`|^\s{0,3}(?:#{1,6}\s+|[-*•+]\s+|\d{1,2}[.)]\s+|>\s*)", re.M)
_TABLE_BAR = re.compile(r"\s*\|\s*")
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "etc.", "vs.", "approx.", "no.", "mr.", "ms.", "dr."})
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_NON_CLAIM = re.compile(
    r"(?i)^\W*(?:hi|hello|hey|dear|thanks|thank you|you're welcome|happy to help|glad to help|"
    r"sure|of course|certainly|great question|good question|i hope|hope (?:this|that) helps|"
    r"let me know|feel free|is there anything else|anything else|have a (?:great|nice|good))\b"
    r"|\bi (?:don't|do not|didn't|did not) (?:know|have|find|see)\b|\bi'?m not (?:sure|able)\b"
    r"|\bi am not (?:sure|able)\b|\bi (?:couldn't|could not|can't|cannot|was unable to|wasn't "
    r"able to) (?:find|answer|confirm|locate|help)\b|\bnot (?:covered|mentioned|documented) in\b"
    r"|\b(?:connect|transfer|hand) (?:you|this|your (?:question|request))\b|\bhuman agent\b"
    r"|\b(?:a|our) (?:human|person|colleague|support (?:agent|team|specialist)|member of (?:our|"
    r"the) (?:support )?team)\b|\b(?:contact|reach out to|get in touch with) (?:our |the )?"
    r"support\b|\bopen a (?:support )?ticket\b|\bescalat"
)


@dataclass
class GroundingReport:
    """What the groundedness check found; ``support`` is 1.0 when nothing was claimed."""

    support: float = 1.0
    unsupported: list[str] = field(default_factory=list)
    missing_facts: list[str] = field(default_factory=list)
    checked: int = 0
    claims: list[ClaimCheck] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        """No sentence states an unsourced fact, and at least 80% of claims are supported."""
        return not self.missing_facts and self.support >= MIN_SUPPORT


@dataclass
class _Passages:
    """Passage facts, extracted once per check."""

    words: list[set[str]]
    quantities: set[Quantity]
    values: set[str]
    tokens: set[str]
    text: str

    @classmethod
    def build(cls, passages: Sequence[str]) -> _Passages:
        texts = [strip_markup(p) for p in passages]
        qty = set().union(*(quantities(t) for t in texts)) if texts else set()
        return cls(
            words=[content_words(t) for t in texts],
            quantities=qty,
            values={v for v, _ in qty},
            tokens=set().union(*(tokens(t) for t in texts)) if texts else set(),
            text=normalize_paths("\n".join(texts)),
        )


def strip_markup(text: str) -> str:
    """Drop citation markers, markdown emphasis, bullets and table bars."""
    text = _MARKDOWN.sub("", _CITATION.sub("", text))
    return _TABLE_BAR.sub(" ", text)


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer, one list item per bullet or line, abbreviations respected."""
    out: list[str] = []
    for line in strip_markup(text).splitlines():
        start = 0
        for m in _BOUNDARY.finditer(line):
            last_word = line[start : m.start()].rsplit(" ", 1)[-1].lower()
            if last_word not in _ABBREVIATIONS:
                out.append(line[start : m.start()].strip())
                start = m.end()
        out.append(line[start:].strip())
    return [s for s in out if re.search(r"[A-Za-z0-9]", s)]


def _name_found(name: str, passage_tokens: set[str]) -> bool:
    """Exact, plural, or (for long words) same stem: "Australian" is found via "Australia"."""
    if {name, name.removesuffix("s"), name + "s"} & passage_tokens:
        return True
    if len(name) < 6:
        return False
    prefix = name[:-2]
    return any(t.startswith(prefix) and abs(len(t) - len(name)) <= 2 for t in passage_tokens)


def _missing(sentence: str, facts: _Passages) -> list[str]:
    """Quantities and names in ``sentence`` that no passage contains."""
    missing = []
    for value, unit in sorted(quantities(sentence), key=str):
        if (value, unit) not in facts.quantities and not (unit is None and value in facts.values):
            missing.append(f"{value} {unit}" if unit else value)
    for name in sorted(names(sentence)):
        if not _name_found(name, facts.tokens):
            missing.append(name)
    missing.extend(path for path in sorted(menu_paths(sentence)) if path not in facts.text)
    return missing


def _is_claim(sentence: str) -> bool:
    if quantities(sentence):
        return True
    if sentence.rstrip().endswith("?") or _NON_CLAIM.search(sentence):
        return False
    return bool(names(sentence)) or len(content_words(sentence)) >= 3


def _lexical(sentence: str, facts: _Passages) -> float:
    words = content_words(sentence)
    if not words:
        return 1.0
    return max((len(words & p) / len(words) for p in facts.words), default=0.0)


def _quoted_unsupported(
    claims: list[str], facts: _Passages, passages: Sequence[str], similarity: Similarity | None
) -> list[str]:
    """Claims of a quoting model that share too few words with every passage (or, with
    ``similarity``, are not close to one): it recombines table cells and list items, so its
    sentences are rarely verbatim, but every word comes from a passage."""
    weak = [s for s in claims if _lexical(s, facts) < LEXICAL_THRESHOLD]
    if weak and similarity is not None and passages:
        scores = similarity(weak, list(passages))
        weak = [s for s, row in zip(weak, scores, strict=True) if max(row) < SIMILARITY_THRESHOLD]
    return weak


def check_sentences(
    claims: list[str],
    passages: Sequence[str],
    similarity: Similarity | None = None,
    question: str = "",
) -> list[ClaimCheck]:
    """One check per claim: facts absent from every passage first, then sentence-level support
    (``chains.guardrails.claims``) for the rest."""
    facts = _Passages.build(passages)
    missing = {s: _missing(s, facts) for s in claims}
    rest = [s for s in claims if not missing[s]]
    # Line by line: a table's rows would otherwise run together into one "sentence".
    sentences = [[s for line in p.splitlines() for s in split_sentences(line)] for p in passages]
    checked = dict(zip(rest, check_claims(rest, sentences, similarity, question), strict=True))
    out = []
    for s in claims:
        if missing[s]:
            kind = "number" if any(c.isdigit() for c in missing[s][0]) else "entity"
            out.append(ClaimCheck(s, (), kind, "not in the sources: " + ", ".join(missing[s])))
        else:
            out.append(checked[s])
    return out


def assess(
    answer: str,
    passages: Sequence[str],
    similarity: Similarity | None = None,
    *,
    question: str = "",
    quoted: bool = False,
) -> GroundingReport:
    """Check every factual sentence of ``answer`` against ``passages``.

    ``question`` names the terms a comparison answer must not swap ("lists" and "tuples").
    ``quoted`` answers (the extractive model's) only need their facts and words in the
    passages: they are built from passage text, so the meaning checks are not run on them.
    """
    claims = [s for s in split_sentences(answer) if _is_claim(s)]
    report = GroundingReport(checked=len(claims))
    if not claims:
        return report
    facts = _Passages.build(passages)
    for sentence in claims:
        report.missing_facts.extend(_missing(sentence, facts))
    if quoted:
        missing = [s for s in claims if _missing(s, facts)]
        weak = _quoted_unsupported([s for s in claims if s not in missing], facts, passages,
                                   similarity)  # fmt: skip
        report.unsupported = [s for s in claims if s in missing or s in weak]
    else:
        report.claims = check_sentences(claims, passages, similarity, question)
        report.unsupported = [c.sentence for c in report.claims if not c.supported]
    report.support = 1 - len(report.unsupported) / len(claims)
    return report
