"""Text normalisation shared by the guardrail detectors: cleaning, folding and de-obfuscation.

Detectors match on *views* of a message (folded, leetspeak-decoded, de-spaced) so that
"I g n o r e", "1gn0re" and Cyrillic look-alikes are caught by the same plain patterns, while
spans reported to callers always refer to the cleaned text returned by :func:`clean`.
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls (except tab, newline, carriage return) and bidirectional overrides, which are
# invisible and used to hide text from reviewers ("trojan source").
_UNSAFE_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Zero-width characters split words without being visible; removed only in detection views
# because ZWJ/ZWNJ are legitimate in emoji and some scripts.
_ZERO_WIDTH = re.compile(r"[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
# Cyrillic and Greek letters that look like Latin ones.
_CONFUSABLES = str.maketrans(
    "аеорсухіјѕԁԛԝкмнтвАЕОРСУХІЈЅКМНТВαεοιυνκρτχΑΕΟΙΥΝΚΡΤΧ",
    "aeopcyxijsdqwkmhtbAEOPCYXIJSKMHTBaeoiuvkptxAEOIYNKPTX",
)
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
    }
)
# Runs of single characters separated by one space, dot, dash or underscore: "i g n o r e".
_SPACED = re.compile(r"(?<![^\W_])(?:[^\W_][ ._\-*]){2,}[^\W_](?![^\W_])")
_SEPARATORS = re.compile(r"[ ._\-*]")
_WHITESPACE = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r" ?\n[\s]*")
_NON_LETTERS = re.compile(r"[^a-z]+")


def clean(text: str) -> str:
    """Drop control and bidi-override characters; the result is what the bot works with."""
    return _UNSAFE_CHARS.sub("", text)


def _fold_raw(text: str) -> str:
    """Lower-case, strip accents and zero-width characters, map look-alikes; keep spacing."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)).translate(_CONFUSABLES)
    if text.isascii():  # nothing to decompose: the per-character pass below is the hot spot
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _squeeze(text: str) -> str:
    # Newlines survive: fake "system:" headers are only suspicious at the start of a line.
    return _NEWLINES.sub("\n", _WHITESPACE.sub(" ", text)).strip()


def fold(text: str) -> str:
    """Lower-case, strip accents and zero-width characters, map look-alikes, squeeze spaces."""
    return _squeeze(_fold_raw(text))


def unleet(folded: str) -> str:
    """Decode leetspeak digits and symbols ("1gn0r3" -> "ignore") in a folded text."""
    return folded.translate(_LEET)


def despace(raw: str) -> str:
    """Join letters written one by one ("i g n o r e  a l l" -> "ignore all").

    A single separator joins letters; two or more spaces still separate words.
    """
    return _SPACED.sub(lambda m: _SEPARATORS.sub("", m.group(0)), raw)


def compact(folded: str) -> str:
    """Only the letters of a folded text, leetspeak decoded: what survives any spacing trick."""
    return _NON_LETTERS.sub("", unleet(folded))


def views(text: str) -> list[str]:
    """The distinct detection views of ``text``: folded, de-spaced, and leetspeak-decoded."""
    raw = _fold_raw(text)
    folded = _squeeze(raw)
    spaced = _squeeze(despace(raw))
    out = [folded, spaced, unleet(folded), _squeeze(despace(unleet(raw)))]
    return list(dict.fromkeys(out))
