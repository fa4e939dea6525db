"""Follow-up questions made standalone without a model (the extractive default's condense step).

A follow-up leaves its topic in earlier turns: "What happens if I go over it?", "And for the
whole year?", "What about the Business plan?". A generative model rewrites it with the
``condense_question`` prompt; the extractive default cannot, so the topic is carried in words:

* the topic of the previous turn is the content words of its own standalone question (so a
  third turn still knows what the first one was about), minus framing ("I'd like", "yesterday");
* only words the previous answer's cited passages (title, snippet) or the answer itself also
  use are carried: those name the topic the knowledge base talks about, and a carried word no
  passage contains would only dilute retrieval and the extractive model's term coverage;
* a word the follow-up contrasts ("the Business plan" after "the Team plan") replaces the
  previous modifier of the shared head word instead of joining it;
* the first referring pronoun ("it", "that") is replaced by the topic; otherwise the topic is
  appended in parentheses.

A question that names a topic of its own (enough content words, no referring word, no leading
"and"/"what about") is a new question and stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.messages import BaseMessage

from chains.extractive import stem, stems

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.@-][A-Za-z0-9]+)*")
_PRONOUN = re.compile(r"\b(it|that|this|those|these|they|them)\b", re.I)
_REFERS = re.compile(r"\b(it|its|that|this|those|these|they|them|one|ones|same)\b", re.I)
_ELLIPSIS = re.compile(
    r"^\W*(and|but|also|so|then|ok|okay|or|plus|what about|how about|what if|what of)\b", re.I
)
# Words that frame a question rather than name its topic; never carried to the next turn.
_FRAMING_TEXT = (
    "like want wanted wants need needs would could tell know help thanks thank hi hello hey "
    "question ask asking just still really actually yesterday today tomorrow anyway "
    "happen happens happened long often many much soon quickly"
)  # fmt: skip
_FRAMING = frozenset(_FRAMING_TEXT.split())
OWN_TOPIC_MIN = 3
"""A question with at least this many topic words of its own (and no referring word) is new."""


def topic_words(text: str) -> list[str]:
    """Content words of ``text`` in order, one per stem; no stopwords, framing or stray letters."""
    seen: set[str] = set()
    out: list[str] = []
    for word in _TOKEN.findall(text):
        low = word.lower()
        if (len(low) < 2 and not low.isdigit()) or low in _FRAMING or not stems(low):
            continue
        key = _key(low)
        if key not in seen:
            seen.add(key)
            out.append(word)
    return out


def continues(question: str) -> bool:
    """Opens like a continuation ("and for the whole year?", "what about Business?")."""
    return bool(_ELLIPSIS.search(question))


def refers_back(question: str, topic: Sequence[str] = ()) -> bool:
    """The question leans on an earlier turn about ``topic`` (that turn's topic words).

    It does when it opens with "and"/"what about", or has too few topic words of its own to
    stand alone, or has a referring word ("it", "that") and does not name the topic itself
    (in "can we move our workspace, and how long would that take?" "that" is the move).
    """
    own = topic_words(question)
    if _ELLIPSIS.search(question) or len(own) < OWN_TOPIC_MIN:
        return True
    names_topic = bool({_key(w) for w in own} & {_key(w) for w in topic})
    return bool(_REFERS.search(question)) and not names_topic


@dataclass(frozen=True)
class Standalone:
    """A follow-up made standalone: ``question`` is what gets answered, ``query`` what gets
    searched (the previous question in full: embeddings match whole sentences better)."""

    question: str
    query: str


def rewrite(question: str, history: Sequence[BaseMessage], *, force: bool = False) -> Standalone:
    """``question`` with the previous turn's topic resolved into it (see the module docstring).

    Args:
        question: the customer's latest message.
        history: earlier messages, oldest first.
        force: carry the topic even when the question looks standalone (the caller found
            nothing for it on its own, so it probably leaves its subject implicit).
    """
    turn = _previous_turn(history)
    if turn is None:
        return Standalone(question, question)
    index, answer = turn
    previous = lexical_standalone(str(history[index].content), history[:index])
    if not (force or refers_back(question, topic_words(previous))):
        return Standalone(question, question)
    topic = _carried(previous, answer, question)
    if not topic:
        return Standalone(question, question)
    phrase = " ".join(topic)
    if _PRONOUN.search(question):
        resolved = _PRONOUN.sub(phrase, question, count=1)
    else:
        resolved = f"{question} ({phrase})"
    return Standalone(resolved, f"{previous} {resolved}")


def lexical_standalone(
    question: str, history: Sequence[BaseMessage], *, force: bool = False
) -> str:
    """The standalone question to answer (``rewrite(...).question``)."""
    return rewrite(question, history, force=force).question


def _key(word: str) -> str:
    return " ".join(stems(word)) or stem(word.lower())


def _previous_turn(history: Sequence[BaseMessage]) -> tuple[int, BaseMessage | None] | None:
    """Index of the last customer message and the bot reply that followed it, if any."""
    answer: BaseMessage | None = None
    for i in range(len(history) - 1, -1, -1):
        message = history[i]
        if message.type == "human":
            return i, answer
        if message.type == "ai" and answer is None:
            answer = message
    return None


def _carried(previous: str, answer: BaseMessage | None, question: str) -> list[str]:
    """Topic words of ``previous`` the follow-up lacks, grounded in the previous answer."""
    words = topic_words(previous)
    grounding = _grounding(answer)
    if grounding:
        # When nothing was grounded (a "don't know" reply) the question's words are all we have.
        words = [w for w in words if _key(w) in grounding] or words
    own = topic_words(question)
    own_keys = {_key(w) for w in own}
    # Only a contrasting follow-up ("what about the Business plan?") swaps a modifier.
    replaced = _contrasted(words, own, own_keys) if _ELLIPSIS.search(question) else set()
    return [w for w in words if _key(w) not in own_keys and w not in replaced]


def _grounding(answer: BaseMessage | None) -> set[str]:
    """Stems the previous answer and the passages it cited use (empty when it cited none)."""
    if answer is None:
        return set()
    sources = answer.additional_kwargs.get("sources") or []
    if not sources:
        return set()
    parts = [str(answer.content)]
    for s in sources:
        if isinstance(s, dict):
            parts += [str(s.get("title") or ""), str(s.get("snippet") or "")]
    return {_key(w) for w in _TOKEN.findall(" ".join(parts).lower())}


def _contrasted(words: list[str], own: list[str], own_keys: set[str]) -> set[str]:
    """Previous modifiers the follow-up replaces: "Business plan" after "Team plan" drops
    "Team" (the word before a head both share, when the follow-up puts another word there)."""
    own_index = {_key(w): i for i, w in enumerate(own)}
    dropped: set[str] = set()
    for i, word in enumerate(words[1:], start=1):
        j = own_index.get(_key(word))
        before = _key(words[i - 1])
        if j and _key(own[j - 1]) != before and before not in own_keys:
            dropped.add(words[i - 1])
    return dropped


TOPIC_SHIFT = 0.3
"""Below this cosine with the previous question, a follow-up without "and"/"what about" may
be a new topic (then ``retrieve`` tries it on its own)."""


def new_topic(question: str, history: list[BaseMessage], embeddings: Any) -> bool:
    """The question changes the subject, so the previous turn's topic must not be carried."""
    previous = next((str(m.content) for m in reversed(history) if m.type == "human"), "")
    if not previous or continues(question):
        return False
    a, b = (np.asarray(embeddings.embed_query(t), dtype=np.float64) for t in (question, previous))
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    cosine = float(a @ b) / max(norm, 1e-12)
    return cosine < TOPIC_SHIFT
