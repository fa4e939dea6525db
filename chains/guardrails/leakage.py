"""What an answer must not leak: personal data absent from the sources, and the system prompt.

Quoting a passage is never a leak: PII printed in a help-centre article (a billing address)
and wording the system prompt shares with a passage are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from chains.guardrails.pii import PiiMatch, find_pii, normalized_value

LEAK_NGRAM = 8

_WORD = re.compile(r"[a-z0-9]+")
_SELF_DISCLOSURE = re.compile(
    r"(?i)\bmy (?:system )?(?:instructions|guidelines|directives) (?:are|say|state|tell|were|"
    r"read)\b|\bmy (?:system prompt|system message|initial prompt|pre-?prompt)\b"
    r"|\bmy (?:hidden|secret|original|initial|internal) (?:instructions|prompt|rules)\b"
    r"|\bhere(?: is|'s| are) (?:my|the) (?:system prompt|instructions i was given|hidden "
    r"instructions|prompt)\b|\bi (?:was|have been|am) (?:instructed|told|programmed|prompted) "
    r"(?:to|not to)\b|\baccording to my (?:instructions|system prompt|guidelines|programming)\b"
    r"|\bthe system prompt (?:says|is|reads|states)\b"
)


def pii_leaks(answer: str, passages: Sequence[str]) -> list[PiiMatch]:
    """Personal data in ``answer`` that none of the passages contains."""
    found = find_pii(answer)
    if not found:
        return []
    joined = "\n".join(passages)
    known = {normalized_value(m) for m in find_pii(joined)}
    return [m for m in found if normalized_value(m) not in known and m.value not in joined]


def _ngrams(text: str) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    n = LEAK_NGRAM
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


# The system prompt is the same for every turn of a prompt version: tokenise it once.
_prompt_ngrams = lru_cache(maxsize=16)(_ngrams)


def system_prompt_leak(answer: str, system_prompt: str, passages: Sequence[str]) -> str | None:
    """Evidence that ``answer`` discloses the system prompt, else None.

    Either a run of :data:`LEAK_NGRAM` consecutive words shared with the system prompt (and
    not with any passage), or the bot talking about its own instructions.
    """
    m = _SELF_DISCLOSURE.search(answer)
    if m:
        return m.group(0)
    if not system_prompt.strip():
        return None
    shared = _ngrams(answer) & _prompt_ngrams(system_prompt)
    if shared and passages:
        shared -= _ngrams("\n".join(passages))
    return " ".join(min(shared)) if shared else None
