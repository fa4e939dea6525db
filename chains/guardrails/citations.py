"""Citations enforced on a generative answer: every shown claim cites a passage that supports it.

Given the sentence checks of the groundedness gate (``ClaimCheck``: which passages support each
claim), :func:`enforce` rewrites the answer: a supported claim without a citation gets one (its
best passage), a citation to a passage that does not support its sentence is replaced by one
that does, and an unsupported claim is removed. Greetings and "let me connect you" sentences
stay as written. When no supported claim is left, the answer is not to be shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chains.guardrails.claims import ClaimCheck
from chains.guardrails.grounding import split_sentences

_MARKER = re.compile(r"\s*\[(\d{1,2})\]")
_END = re.compile(r"(?<=[.!?\]])(\s+)(?=[\"'(*]?[A-Z0-9\[])")
_LEADING_MARKERS = re.compile(r"^((?:\s*\[\d{1,2}\])+)\s*")
_TRAILING = re.compile(r"([.!?:;]*)(\s*)$")


@dataclass
class Enforced:
    """The rewritten answer and what was changed; ``shown`` is False when nothing is left."""

    answer: str
    supported: int = 0
    added: int = 0
    corrected: int = 0
    removed: list[str] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        return self.supported > 0


def segments(answer: str) -> list[tuple[str, str]]:
    """``(sentence as written, separator after it)``; a citation opening a sentence ("... end.
    [2] Next") goes back to the sentence before it."""
    out: list[tuple[str, str]] = []
    for line, newline in _lines(answer):
        start = 0
        parts: list[tuple[str, str]] = []
        for m in _END.finditer(line):
            parts.append((line[start : m.start()], m.group(1)))
            start = m.end()
        parts.append((line[start:], newline))
        for text, sep in parts:
            lead = _LEADING_MARKERS.match(text)
            if lead and out:
                prev, prev_sep = out[-1]
                out[-1] = (prev + lead.group(1), prev_sep)
                text = text[lead.end() :]
            out.append((text, sep))
    return out


def _lines(answer: str) -> list[tuple[str, str]]:
    pieces = re.split(r"(\n+)", answer)
    return [(pieces[i], pieces[i + 1] if i + 1 < len(pieces) else "")
            for i in range(0, len(pieces), 2)]  # fmt: skip


def cited(text: str) -> list[int]:
    """Passage numbers (1-based) a sentence cites, in order."""
    return list(dict.fromkeys(int(n) for n in _MARKER.findall(text)))


def recite(text: str, numbers: Sequence[int]) -> str:
    """``text`` with its citations replaced by ``numbers``, placed before the final stop."""
    bare = _MARKER.sub("", text).rstrip()
    m = _TRAILING.search(bare)
    head, stop = (bare[: m.start()], m.group(1)) if m else (bare, "")
    markers = "".join(f"[{n}]" for n in numbers)
    return f"{head} {markers}{stop}" if markers else bare


def _fix(text: str, checks: list[ClaimCheck], limit: int, out: Enforced) -> str | None:
    """The sentence with right citations, or None to remove it."""
    if any(not c.supported for c in checks):
        out.removed.append(text.strip())
        return None
    if not checks:  # a greeting or a hand-over offer: no claim, nothing to cite
        return text
    out.supported += 1
    supporting = [p + 1 for p in checks[0].passages if p < limit]
    for c in checks[1:]:
        supporting = [n for n in supporting if n - 1 in c.passages] or supporting
    have = [n for n in cited(text) if 1 <= n <= limit]
    keep = [n for n in have if all(n - 1 in c.passages for c in checks)]
    if keep and len(keep) == len(cited(text)):
        return text
    if not cited(text):
        out.added += 1
    else:
        out.corrected += 1
    return recite(text, keep or supporting[:1])


def enforce(answer: str, checks: Sequence[ClaimCheck], limit: int) -> Enforced:
    """Rewrite ``answer`` so that each claim cites a passage (1..``limit``) supporting it.

    ``checks`` are the gate's checks of the answer's claims (``GroundingReport.claims``); a
    sentence is matched to them by its text, as :func:`split_sentences` gives it.
    """
    by_text = {c.sentence: c for c in checks}
    out = Enforced(answer="")
    parts: list[str] = []
    for text, sep in segments(answer):
        mine = [by_text[s] for s in split_sentences(text) if s in by_text]
        fixed = _fix(text, mine, limit, out) if text.strip() else text
        if fixed is not None:
            parts.append(fixed + sep)
    out.answer = "".join(parts).strip()
    return out


Verify = Callable[[list[str]], list[bool | None]]


def enforce_checked(
    answer: str, checks: Sequence[ClaimCheck], limit: int, verify: Verify | None = None
) -> Enforced:
    """:func:`enforce`, after an optional model ``verify`` of the claims the gate would show
    (one call; a sentence it calls unsupported is removed, silence keeps it)."""
    checks = list(checks)
    if verify is not None:
        shown = [c for c in checks if c.supported]
        verdicts = verify([c.sentence for c in shown]) if shown else []
        refuted = {c.sentence for c, v in zip(shown, verdicts, strict=False) if v is False}
        checks = [
            ClaimCheck(c.sentence, (), "verified", "the verifying model found it unsupported")
            if c.sentence in refuted
            else c
            for c in checks
        ]
    return enforce(answer, checks, limit)
