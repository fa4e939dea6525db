"""The meaning checks one clause must pass against its evidence unit: numbers, entities,
negation, roles and content.

Each check returns a human-readable problem or None; ``check_clause`` runs them in a fixed
order (the cheapest, most specific first) so a claim's reported problem is its most telling one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chains.guardrails.claim_units import (
    CLAUSE,
    WORD,
    Context,
    Unit,
    score,
    terms,
)
from chains.guardrails.facts import (
    content_words,
    entity_words,
    identifiers,
    names,
    quantities,
    stem,
    tokens,
)

MIN_COVERAGE = 0.6  # share of a clause's words its unit (with neighbours) must contain...
MIN_COSINE = 0.75  # ...unless it is this close in meaning (MiniLM cosine)
WEAK_COSINE = 0.45  # below this, a clause is unsupported whatever its word overlap
MAX_UNCOVERED = 2  # words a paraphrase may add; more is an unsupported addition...
SAME_MEANING = 0.8  # ...unless the embedder finds it this close to the unit

_NEGATIONS = frozenset(
    ["not", "no", "never", "cannot", "nor", "neither", "none", "nothing", "nobody", "without"]
)
_PREFIXES = ("in", "un", "im", "ir", "il", "non", "dis")
_DISCOURSE = frozenset(
    ["therefore", "however", "instead", "also", "then", "thus", "hence", "finally", "first",
     "second", "example", "general", "generally", "usually", "actually", "simply", "otherwise"]
)  # fmt: skip
_GLUED = re.compile(r"\b\d+[A-Za-z]\w*")  # "2FA", "1Password": names, not numbers


def _polarity(text: str, around: set[str] | None = None) -> tuple[bool, set[str]]:
    """(negated?, words) of ``text``, or of its span covering ``around`` (plus 3 words before)."""
    words = WORD.findall(text)
    if around is not None:
        hits = [i for i, w in enumerate(words) if stem(w) in around]
        if hits:
            words = words[max(0, hits[0] - 3) : hits[-1] + 1]
    lowered = [w.lower() for w in words]
    negated = any(w in _NEGATIONS or w.endswith(("n't", "n’t")) for w in lowered)
    return negated, {stem(w) for w in lowered}


def _antonym(claim: set[str], evidence: set[str]) -> str | None:
    """A word of one side whose prefixed opposite ("efficient"/"inefficient") is on the other."""
    for a, b in ((claim, evidence), (evidence, claim)):
        for w in a:
            for p in _PREFIXES:
                if w.startswith(p) and w[len(p) :] in b and w not in b:
                    return w
    return None


def _negation(clause: str, unit: Unit, ctx: Context) -> str | None:
    words = terms(clause)
    neg_c, stems_c = _polarity(clause)
    neg_u, stems_u = _polarity(unit.text, words & unit.words)
    if neg_c and not neg_u and _negated_nearby(words - unit.words, unit, ctx):
        neg_u = True  # "sorts it in place and does not return it": two sentences, one claim
    if neg_c != neg_u:
        return "the passage says the opposite" + (" (no 'not')" if neg_c else " ('not')")
    flipped = _antonym(stems_c, stems_u)
    return f"'{flipped}' is the opposite of the passage" if flipped else None


def _negated_nearby(rest: set[str], unit: Unit, ctx: Context) -> bool:
    """A neighbouring sentence negates the words of the claim that ``unit`` lacks."""
    passage = ctx.sentences[unit.passage]
    for s in (unit.sentence - 1, unit.sentence + 1):
        if 0 <= s < len(passage) and rest & terms(passage[s]):
            negated, _ = _polarity(passage[s], rest)
            if negated:
                return True
    return False


def _numbers(clause: str, unit: Unit, ctx: Context) -> str | None:
    """Each number must be in the unit's own sentence, with the word it counts."""
    said = _quantities(clause)
    if not said:
        return None
    sentence = ctx.sentence_text(unit)
    if not _within(said, _quantities(sentence)):
        return "a number is not what this sentence of the passage says"
    parts = [p for p in CLAUSE.split(sentence) if p.strip()]
    if len(said) > 1 and len(parts) > 1 and not any(_within(said, _quantities(p)) for p in parts):
        return "the numbers come from different parts of the passage"
    return _counted(clause, sentence)


def _quantities(text: str) -> set[tuple[str, str | None]]:
    return quantities(_GLUED.sub(" ", text))


def _within(said: set[tuple[str, str | None]], found: set[tuple[str, str | None]]) -> bool:
    values = {v for v, _ in found}
    return all(q in found or (q[1] is None and q[0] in values) for q in said)


_COUNTED = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)?)(?:\s+|-)(?:[a-z]+[- ])?([a-z]{3,})")


def _counted(clause: str, sentence: str) -> str | None:
    """ "8 single-use codes" where the passage says 10 single-use codes, 8 characters long."""
    said = {(n, stem(w)) for n, w in _COUNTED.findall(clause.lower())}
    found = {(n, stem(w)) for n, w in _COUNTED.findall(sentence.lower())}
    for n, w in said - found:
        if any(m == n for m, _ in found) and any(x == w and m != n for m, x in found):
            return f"{n} {w}: the passage gives another number"
    return None


def _entities(clause: str, passage: str) -> str | None:
    """Names, code names and kind-named things ("the atexit module") the passage lacks."""
    passage_tokens = tokens(passage) | {t.lower() for t in tokens(passage)}
    for name in sorted(names(clause)):
        if name not in passage_tokens and name.lower() not in passage_tokens:
            return f"'{name}' is not in the passage"
    lowered = passage.lower()
    for ident in sorted(identifiers(clause)):
        if ident not in lowered:
            return f"'{ident}' is not in the passage"
    words = content_words(passage)
    for word in sorted(entity_words(clause) - words):
        return f"'{word}' is not in the passage"
    return None


def subject(text: str) -> str | None:
    """The first term of ``text``, skipping discourse words ("Therefore", "However"): its
    subject, mostly."""
    for word in WORD.findall(text):
        w = stem(word)
        if w in terms(word) and word.lower() not in _DISCOURSE:
            return w
    return None


def _roles(clause: str, words: set[str], unit: Unit, ctx: Context) -> str | None:
    """The unit says this of another subject, or its sentence of other names, than the claim.

    The claim's subject must occur in the passages: a swap takes its term from there, while a
    paraphrase ("yearly subscribers" for "if you pay annually") brings new words.
    """
    mine = subject(clause)
    known = mine in ctx.key_terms or any(mine in u.words for u in ctx.units)
    # Against the unit and, when it is a whole sentence, its best clause: "parameters are
    # defined by the names..., whereas arguments are the values passed" holds both terms.
    parts = [unit] + [
        u for u in ctx.units
        if (u.passage, u.sentence) == (unit.passage, unit.sentence) and u.text != unit.text
    ]  # fmt: skip
    for part in (unit, max(parts, key=lambda u: score(clause, words, u, ctx) * (u != unit))):
        theirs = subject(part.text)
        if mine and theirs and known and mine not in part.words and theirs not in words:
            return f"the passage says this of '{theirs}', not '{mine}'"
    lacking, extra = (words - unit.words) & ctx.asked, (unit.words - words) & ctx.asked
    if lacking and extra:  # "monthly" where the passage says "annually", both asked about
        return f"the passage says this of '{min(extra)}', not '{min(lacking)}'"
    sentence = ctx.sentence_text(unit)
    missing = {n.lower() for n in names(clause)} - {t.lower() for t in tokens(sentence)}
    # A table row or list item starts with its name ("Team $12 per user"): count it too.
    named = {n.lower() for n in names(f"x {sentence}") if content_words(n)}
    other = named - {t.lower() for t in tokens(clause)}
    if missing & ctx.key_terms and other & ctx.key_terms:
        return f"the passage says this of '{min(other)}', not '{min(missing)}'"
    return None


def _content(clause: str, words: set[str], unit: Unit, ctx: Context) -> str | None:
    window = ctx.window(unit)
    uncovered = words - window
    coverage = 1 - len(uncovered) / len(words) if words else 1.0
    cosine = ctx.cosine.get((clause, id(unit)))
    if cosine is not None and cosine < WEAK_COSINE:
        return f"not close to any passage sentence (cosine {cosine:.2f})"
    if len(uncovered) > MAX_UNCOVERED and (cosine is None or cosine < SAME_MEANING):
        return "adds what the passages do not say: " + ", ".join(sorted(uncovered)[:4])
    if coverage < MIN_COVERAGE and (cosine is None or cosine < MIN_COSINE):
        return f"few of its words are in the passages ({coverage:.0%})"
    return None


def check_clause(clause: str, unit: Unit, ctx: Context) -> tuple[str, str] | None:
    """The first problem of ``clause`` against ``unit`` as (kind, detail), or None."""
    words = terms(clause)
    checks: list[tuple[str, Callable[[], str | None]]] = [
        ("number", lambda: _numbers(clause, unit, ctx)),
        ("entity", lambda: _entities(clause, ctx.passage_text(unit.passage))),
        ("negation", lambda: _negation(clause, unit, ctx)),
        ("roles", lambda: _roles(clause, words, unit, ctx)),
        ("unsupported", lambda: _content(clause, words, unit, ctx)),
    ]
    for kind, check in checks:
        detail = check()
        if detail:
            return kind, detail
    return None
