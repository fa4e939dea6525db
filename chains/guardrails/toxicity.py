"""Toxic and harmful language: profanity, slurs, threats and hate, and harmful instructions.

Word lists match whole words on the folded, de-spaced and leetspeak-decoded views of a text
(see :mod:`chains.guardrails.text`), and a token with ``*`` in it ("f*ck", "sh**") matches a
listed word with the same first and last letters. Mild frustration ("damn", "crap", "this bug
is killing me") is not toxic: customers are allowed to be annoyed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chains.guardrails.text import fold, unleet, views

# Stems; inflections (s, es, ed, er, ers, ing, in, y) are added by the pattern.
_PROFANITY = (
    "fuck",
    "fuk",
    "fck",
    "fcking",
    "fkn",
    "motherfuck",
    "motherfucker",
    "shit",
    "bullshit",
    "shithead",
    "bitch",
    "asshole",
    "arsehole",
    "dumbass",
    "jackass",
    "bastard",
    "cunt",
    "dickhead",
    "cocksucker",
    "twat",
    "wanker",
    "whore",
    "slut",
    "stfu",
    "gtfo",
)
_SLURS = (
    "nigger",
    "nigga",
    "faggot",
    "fag",
    "retard",
    "retarded",
    "kike",
    "spic",
    "chink",
    "tranny",
    "raghead",
    "wetback",
    "gook",
)
_INFLECTION = r"(?:s|es|ed|er|ers|ing|in|y|face|heads?|wit)?"
_WORDS = re.compile(
    r"(?<![a-z])(?:"
    + "|".join(sorted(_PROFANITY + _SLURS, key=len, reverse=True))
    + ")"
    + _INFLECTION
    + r"(?![a-z])"
)
# A starred token starts and ends with a letter ("f*ck", "sh**ty"), so "task*" is not one.
_STARRED = re.compile(r"(?<![\w*])[a-z][a-z*]*\*[a-z*]*[a-z](?![\w*])")
_THREATS = re.compile(
    r"\bi(?:'ll| will|'m going to| am going to| am gonna|'m gonna| gonna| want to| will come and)"
    r" (?:kill|murder|hurt|shoot|stab|beat|strangle|rape|destroy) (?:you|your|all of you|him|her)\b"
    r"|\b(?:kill|hang|shoot) yourself\b|\bkys\b|\bgo die\b|\bi know where you live\b"
    r"|\byou (?:should|deserve to|will|are going to) (?:die|be killed|get hurt|suffer)\b"
    r"|\b(?:bomb|burn down|shoot up|blow up) (?:your|the|their) (?:office|building|company|"
    r"headquarters|hq|school)\b"
    r"|\b(?:all|those|these) (?:\w+ )?(?:people|immigrants|jews|muslims|christians|gays|women|"
    r"blacks|whites|asians|arabs|mexicans) (?:should|must|deserve to) (?:die|be killed|be "
    r"exterminated|be gassed|burn)\b"
)
_HARMFUL = re.compile(
    r"\b(?:how to|steps? to|instructions? (?:to|for)|guide to|recipe for|ways? to|here's how to)"
    r" (?:make|build|assemble|create|synthesi[sz]e|cook|manufacture|3d print)"
    r" (?:an? |the |your own )?(?:bomb|pipe bomb|explosive|ied|molotov|napalm|thermite|"
    r"nerve agent|sarin|ricin|anthrax|poison gas|chlorine gas|ghost gun|silencer|suppressor|"
    r"untraceable gun|meth|methamphetamine|fentanyl)\w*"
    r"|\b(?:mix|combine) (?:bleach|ammonia) (?:and|with) (?:ammonia|bleach)\b.{0,40}\b(?:gas|toxic)"
    r"|\b(?:suicide|self[- ]harm|cutting) (?:methods|techniques|instructions|guide|tips)\b"
    r"|\b(?:best|easiest|painless|quickest) (?:way|ways|method|methods) to (?:kill|hurt|harm) "
    r"(?:yourself|myself|oneself|someone)\b"
    r"|\b(?:detonator|blasting cap|fuse)\b.{0,60}\b(?:wire|connect|attach|pack)\b"
)


@dataclass(frozen=True)
class ToxicHit:
    """One finding: ``kind`` is profanity, slur, threat or harmful; ``evidence`` is the match."""

    kind: str
    evidence: str


def _word_kind(word: str) -> str:
    return "slur" if any(word.startswith(s) for s in _SLURS) else "profanity"


def _starred_word(token: str) -> str | None:
    """The listed word a starred token hides ("f*ck" -> "fuck"), if any."""
    pattern = re.compile(re.sub(r"\*+", "[a-z]{1,3}", re.escape(token).replace(r"\*", "*")))
    for word in _PROFANITY + _SLURS:
        for form in (word, *(word + s for s in ("s", "es", "ing", "er", "ed", "y", "ty"))):
            if pattern.fullmatch(form):
                return form
    return None


def find_toxicity(text: str) -> ToxicHit | None:
    """The first profanity, slur or threat in ``text`` (obfuscations included), else None."""
    all_views = views(text)
    for view in all_views:
        m = _THREATS.search(view)
        if m:
            return ToxicHit("threat", m.group(0))
    for view in all_views:
        m = _WORDS.search(view)
        if m:
            return ToxicHit(_word_kind(m.group(0)), m.group(0))
    for token in _STARRED.findall(unleet(fold(text)).replace("#", "*")):
        word = _starred_word(token)
        if word:
            return ToxicHit(_word_kind(word), token)
    return None


def find_harmful(text: str) -> ToxicHit | None:
    """Toxic language or instructions for weapons, drugs or self-harm, else None."""
    hit = find_toxicity(text)
    if hit:
        return hit
    for view in views(text):
        m = _HARMFUL.search(view)
        if m:
            return ToxicHit("harmful", m.group(0))
    return None
