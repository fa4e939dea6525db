"""A question's words as the extractive answerer matches them, and the answer it asks for.

Light stems map a question's words and a passage's words to the same key. "How long" asks for
a quantity and "How do I" for a procedure: those words name the kind of answer, not the topic,
so they are taken out before matching (``asked_topic``). ``opposed`` tells "Turning on 2FA"
from "How do I turn off 2FA?", which stopwords alone cannot.
"""

from __future__ import annotations

import re
from functools import lru_cache

_STOPWORD_TEXT = (
    "a about above after again all also am an and any are as at be been before being below "
    "between both but by can could did do does doing done down during each else ever every "
    "few for from further get gets go goes going got had has have having he her here hers him "
    "his how i if in into is it its itself just let like may me might more most much must my "
    "myself "
    "need no nor not now of off on once one only or other our ours out over own please same "
    "shall she should so some such than that the their theirs them then there these they "
    "this those through to too under until up us use very via want was way we were what "
    "when where which while who whom why will with would yes yet you your yours"
)  # fmt: skip
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# "How long / how often / when" name the kind of answer (a quantity), not the topic: the
# passage says "every 24 hours", never "often".
ASKS_QUANTITY = re.compile(
    r"\bhow (?:long|often|many|much|soon|quickly|fast|big|large|old|far|late|early)\b|\bwhen\b",
    re.I,
)
# Asks how to do something: the answer is a procedure ("How can I export...", "steps to...").
ASKS_PROCEDURE = re.compile(
    r"\bhow (?:do|can|could|should|would|may|might|shall) (?:i|we|you|one|someone|they)\b"
    r"|\bhow to\b|\bsteps?\b|\bprocedure\b|\binstructions?\b",
    re.I,
)
# A sentence that tells the reader what to do: a step even when not in a numbered list.
INSTRUCTION = re.compile(
    r"^(?:go to|click|tap|open|select|choose|enter|type|press|navigate|visit|scan|confirm"
    r"|copy|paste|upload|download|save|sign in|log in)\b",
    re.I,
)
# "Turning on 2FA" must not answer "How do I turn off 2FA?": "on" and "off" are stopwords, so
# without this the heading covers the question in full.
_OPPOSITES = (("on", "off"), ("in", "out"), ("enable", "disable"), ("add", "remove"),
              ("connect", "disconnect"), ("install", "uninstall"), ("upgrade", "downgrade"),
              ("lock", "unlock"), ("activate", "deactivate"), ("subscribe", "unsubscribe"),
              ("archive", "unarchive"), ("start", "stop"), ("open", "close"))  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+(?:[.@][a-z0-9]+)*")  # keeps hosts, emails, 2.5 whole
_SUFFIXES = ("ations", "ation", "ingly", "ings", "ing", "edly", "ed", "ies", "es", "s", "ly")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light stemming: one suffix off, then a final ``e`` and a doubled consonant.

    Crude on purpose (``charges``/``charge`` -> ``charg``, ``billing``/``bill`` -> ``bil``):
    it only has to map a question's words and a passage's words to the same key.
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def stems(text: str) -> list[str]:
    """Stems of the content words of ``text``, in order."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def words(text: str) -> set[str]:
    """Light stems of every word of ``text``, stopwords included."""
    return {stem(w) for w in _WORD.findall(text.lower())}


def opposed(question: set[str], heading: set[str]) -> bool:
    """The question asks one action of an opposite pair and the heading names the other."""
    for pair in _OPPOSITES:
        a, b = stem(pair[0]), stem(pair[1])
        for asked, other in ((a, b), (b, a)):
            if {asked} <= question - heading and {other} <= heading - question:
                return True
    return False


def asked_topic(question: str) -> str:
    """The question without the words that name the kind of answer ("how often", "steps")."""
    return ASKS_PROCEDURE.sub(" ", ASKS_QUANTITY.sub(" ", question))


_WHY = re.compile(r"^\W*(?:why\b|how come\b|what(?:'s| is) the (?:reason|point)\b)", re.I)
_YES_NO = re.compile(
    r"^\W*(?:is|are|can|could|does|do|did|will|would|should|has|have|was|were|may|must|shall"
    r"|isn't|aren't|can't|doesn't|don't|won't)\b",
    re.I,
)


def question_kind(question: str) -> str:
    """``howto`` (steps, commands), ``why`` (an explanation), ``yesno`` or ``what`` (a fact)."""
    if ASKS_PROCEDURE.search(question):
        return "howto"
    if _WHY.search(question):
        return "why"
    if _YES_NO.search(question):
        return "yesno"
    return "what"
