"""Which scored units make the answer, and how they are written out with citations.

The answer stays with the best unit's passage: one section answers a question, and units
borrowed from other passages mostly add noise. Another passage's unit joins only when it
scores almost as well as the best. A procedure or list takes two of the ``limit`` places
(it says more than a sentence); a step already quoted in a chosen list is not repeated, and
units that would take the answer past ``max_chars`` are left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from chains.extractive.scoring import Unit
from loaders.units import ELLIPSIS

SAME_PASSAGE, OTHER_PASSAGE = 0.75, 0.92
"""Share of the best unit's score another unit needs, from the best's passage or another."""
FOLLOW_ON = 0.55
"""Share of the best's score the unit right after it needs to continue the answer."""


def pick(
    units: list[Unit],
    *,
    limit: int,
    min_score: float,
    max_chars: int = 2000,
    shares: tuple[float, float] = (SAME_PASSAGE, OTHER_PASSAGE),
    trusted: Callable[[Unit], bool] = lambda unit: True,
) -> list[Unit]:
    """Best units above the floor, near the best one, without near-duplicates, in order.

    ``shares`` are the parts of the best score a unit of the best's passage, or of another
    passage, needs to join it; nothing is picked when the best is not ``trusted``.
    """
    ranked = [
        u for u in sorted(units, key=lambda u: (-u.score, u.rank, u.position))
        if len(cite(u.text, u.n)) <= max_chars
    ]  # fmt: skip
    if not ranked or ranked[0].score < min_score or not trusted(ranked[0]):
        return []
    best = ranked[0]
    chosen = [best]
    places, size = _need(best, limit), len(cite(best.text, best.n)) + 1
    follow = _next_in_passage(units, best)
    for unit in ranked[1:]:
        if places >= limit:
            break
        share = shares[0] if unit.n == best.n else shares[1]
        if unit.score < share * best.score and not (
            unit is follow and unit.score >= FOLLOW_ON * best.score
        ):
            continue
        need, cost = _need(unit, limit), len(cite(unit.text, unit.n)) + 1
        if size + cost > max_chars or places + need > limit:
            continue
        if all(_jaccard(unit.terms, c.terms) < 0.7 and not _overlaps(unit, c) for c in chosen):
            chosen.append(unit)
            places, size = places + need, size + cost
    return sorted(chosen, key=lambda u: (u.rank, u.position))


def _need(unit: Unit, limit: int) -> int:
    return min(2, limit) if unit.kind in ("steps", "list", "code") else 1


def _next_in_passage(units: list[Unit], best: Unit) -> Unit | None:
    """The unit just after ``best`` in its passage: often the rest of the same answer."""
    after = [u for u in units if u.n == best.n and u.position > best.position]
    return min(after, key=lambda u: u.position) if after else None


def _overlaps(a: Unit, b: Unit) -> bool:
    """One quotes the other (a step and its procedure)."""
    return a.n == b.n and (a.text in b.text or b.text in a.text)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def cite(unit: str, n: int) -> str:
    """``Text [n].``: the citation goes inside the final full stop, or after a block."""
    if unit.endswith(("```", "~~~")):  # a code block: the citation on a line of its own
        return f"{unit}\n[{n}]"
    if unit.endswith(ELLIPSIS):  # a procedure cut short: "..." is not a full stop
        return f"{unit} [{n}]"
    if unit.endswith((".", "!")):
        return f"{unit[:-1]} [{n}]{unit[-1]}"
    if unit.endswith((";", ",")):  # a list item quoted alone ends as a sentence
        return f"{unit[:-1]} [{n}]."
    return f"{unit} [{n}]"


def join(parts: list[str]) -> str:
    """Sentences run on one line; a multi-line unit (list, code) stands on lines of its own."""
    out = parts[0] if parts else ""
    for before, part in itertools.pairwise(parts):
        out += ("\n" if "\n" in before or "\n" in part else " ") + part
    return out
