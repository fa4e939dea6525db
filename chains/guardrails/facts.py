"""Checkable facts in a sentence: quantities with units, product-like names, content words.

The same extractors run on answers and passages, so the comparison is symmetric: "30-day",
"30 days" and "thirty days" all become ``(30, "day")``, "$12" and "12 USD" both ``(12, "$")``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

Quantity = tuple[str, str | None]

_NUMBER_TEXT = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = dict(zip(_NUMBER_TEXT.split(), range(21), strict=True)) | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}
_UNITS = {
    "second": "second",
    "sec": "second",
    "minute": "minute",
    "min": "minute",
    "hour": "hour",
    "hr": "hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
    "%": "%",
    "percent": "%",
    "per cent": "%",
    "usd": "$",
    "dollar": "$",
    "eur": "€",
    "euro": "€",
    "gbp": "£",
    "pound": "£",
    "kb": "kb",
    "mb": "mb",
    "gb": "gb",
    "tb": "tb",
}
_CURRENCY_SIGNS = {"$": "$", "€": "€", "£": "£", "usd": "$", "eur": "€", "gbp": "£"}
_UNIT_RE = (
    r"(?:per cent|percent|%|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|"
    r"months?|years?|usd|dollars?|eur|euros?|gbp|pounds?|kb|mb|gb|tb)"
)
_QUANTITY = re.compile(
    r"(?i)(?P<cur>[$€£]|\b(?:usd|eur|gbp) ?)?(?<![\w.])(?P<num>\d+(?:[.,]\d+)*)"
    r"(?:(?:\s?|-)(?:(?P<unit>" + _UNIT_RE + r")(?![a-z])|[a-z]+[ -](?P<unit2>" + _UNIT_RE + r")"
    r"(?![a-z])))?"
)
_WORD_QUANTITY = re.compile(
    r"(?i)\b(?P<tens>twenty|thirty|forty|fifty|sixty|ninety)?[- ]?(?P<word>"
    + "|".join(_NUMBER_WORDS)
    + r")(?:[ -][a-z]+)?[ -](?P<unit>"
    + _UNIT_RE
    + r")(?![a-z])"
)
_NAME = re.compile(r"\b(?:[A-Z][A-Za-z0-9]*|[a-z]+[A-Z][A-Za-z0-9]*)\b")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SEGMENT = r"[A-Z][\w-]*(?: [A-Z][\w-]*){0,2}"
_MENU_PATH = re.compile(_SEGMENT + r"(?:\s*(?:>|→|->|»)\s*" + _SEGMENT + ")+")
_ARROW = re.compile(r"\s*(?:>|→|->|»)\s*")
_NOT_NAMES = frozenset({"I", "OK", "Ok", "A", "An", "The", "USD", "EUR", "GBP"})
_STOPWORD_TEXT = """a about above after again all also am an and any are as at be because been
before being below between both but by can could did do does doing don done down during each
either else etc even ever every few for from further get gets got had has have having he her here
hers him his how however i if in into is it its itself just let like may me might more most much
must my no nor not now of off often on once one only or other our ours out over own per please
same shall she should so some such than that the their them then there these they this those
through to too under until up upon us use used very via was we were what when where which while
who whom why will with within without would yes yet you your yours"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def canonical_number(raw: str) -> str:
    """``"1,200.00"`` -> ``"1200"``; anything else numeric-looking ("2.4.1") stays as is."""
    text = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) else raw
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return raw
    return format(value.normalize(), "f")


def _unit(raw: str | None) -> str | None:
    if not raw:
        return None
    key = raw.lower().strip()
    key = key if key in _UNITS else key.rstrip("s")
    return _UNITS.get(key)


def quantities(text: str) -> set[Quantity]:
    """Numbers in ``text`` with their unit (or None): ``{("30", "day"), ("12", "$")}``."""
    out: set[Quantity] = set()
    for m in _QUANTITY.finditer(text):
        value = canonical_number(m.group("num"))
        cur = m.group("cur")
        unit = _CURRENCY_SIGNS[cur.strip().lower()] if cur else None
        out.add((value, unit or _unit(m.group("unit") or m.group("unit2"))))
    for m in _WORD_QUANTITY.finditer(text):
        number = _NUMBER_WORDS[m.group("word").lower()]
        if m.group("tens") and number < 10:
            number += _NUMBER_WORDS[m.group("tens").lower()]
        out.add((str(number), _unit(m.group("unit"))))
    return out


def names(text: str) -> set[str]:
    """Product-like names: capitalised or camel-case words that do not start a sentence.

    The first word of ``text`` is kept only when it looks like a name anywhere (an acronym
    such as "SSO", or camel case such as "iOS"), because every sentence starts with a capital.
    """
    found: set[str] = set()
    for m in _NAME.finditer(text):
        word = m.group(0)
        starts = not text[: m.start()].strip(" \"'(*_-•")
        looks_like_name = (word.isupper() and len(word) > 1) or any(c.isupper() for c in word[1:])
        if word not in _NOT_NAMES and (not starts or looks_like_name):
            found.add(word)
    return found


def menu_paths(text: str) -> set[str]:
    """Navigation paths such as "Settings > Billing > Invoices", arrows normalised to " > "."""
    return {_ARROW.sub(" > ", m.group(0)) for m in _MENU_PATH.finditer(text)}


def normalize_paths(text: str) -> str:
    """``text`` with every arrow written " > ", for substring lookups of :func:`menu_paths`."""
    return _ARROW.sub(" > ", text)


def tokens(text: str) -> set[str]:
    """Case-sensitive word tokens, for looking names up in passages."""
    return set(_TOKEN.findall(text))


def identifiers(text: str) -> set[str]:
    """Emails, web addresses and code names (``sorted()``, ``copy.deepcopy``) in ``text``.

    Lower-case, so names() misses them, yet one wrong letter makes the answer wrong.
    """
    return {m.group(0).rstrip(".").lower() for m in _IDENTIFIER.finditer(text)}


def entity_words(text: str) -> set[str]:
    """Lower-case words naming a thing by its kind: "the atexit module", "the Team plan".

    Stemmed, like :func:`content_words`, so they are looked up in a passage's words.
    """
    return {
        stem(m.group(1)) for m in _ENTITY.finditer(text) if m.group(1).lower() not in _STOPWORDS
    }


_IDENTIFIER = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b(?:https?://)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|"
    r"example)(?:/[\w./-]*)?|\b[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*\(\)|\b[a-z_]\w*\.[a-z_]\w*\b"
)
_ENTITY = re.compile(
    r"(?i)\b([a-z][\w-]+)\s+(?:module|method|function|class|package|library|keyword|statement|"
    r"command|setting|option|button|menu|tab|page|plan|integration|role|permission|app)s?\b"
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix strip so "refunds", "refunded" and "refunding" compare equal."""
    w = word.lower()
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        w = w[:-1]
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
    elif w.endswith("ly") and len(w) > 5:
        w = w[:-2]  # "annually" and "annual" compare equal
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning (stopwords, single letters and numbers dropped)."""
    return {
        stem(w)
        for w in _TOKEN.findall(text)
        if len(w) > 1 and not w.isdigit() and w.lower() not in _STOPWORDS
    }
