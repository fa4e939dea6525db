"""The offline default chat model: a grounded answer made only of sentences from the passages.

How passages reach it (the same code path as a real LLM): the generate node sends the numbered
passages as text inside the system prompt *and* as data in
``SystemMessage.additional_kwargs["passages"]`` (see ``passages_message``). Real providers read
only ``content`` (langchain-openai forwards just ``name`` / ``__openai_role__`` from a system
message's ``additional_kwargs``; ``ChatBedrockConverse`` reads only ``content``), so the same
message list works for every model in a failover chain. This model answers the last human
message, or ``additional_kwargs["question"]`` when the graph passes a standalone rewrite.

The answer is at most ``max_sentences`` passage sentences (``chains.passage_text`` finds them:
wrapped lines joined, table rows spelled out with their column headers), scored by weighted
overlap of light stems with the question (optionally mixed with embedding cosine), each
followed by its passage number ``[n]``; below ``min_score`` it says it does not know. A
sentence's headings count at a discount, so "50 GB of storage per paid seat" under "Business"
answers a question about the Business plan. No other words are added.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field
from typing_extensions import TypedDict

from chains.passage_text import candidates

MODEL_NAME = "extractive"
DONT_KNOW = "I don't know: the help center articles I can search do not answer that."

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
_ASKS_QUANTITY = re.compile(
    r"\bhow (?:long|often|many|much|soon|quickly|fast|big|large|old|far|late|early)\b|\bwhen\b",
    re.I,
)
_NUMBER = re.compile(r"\d")
_WORD = re.compile(r"[a-z0-9]+(?:[.@][a-z0-9]+)*")  # keeps hosts, emails, 2.5 whole
_SUFFIXES = ("ations", "ation", "ingly", "ings", "ing", "edly", "ed", "ies", "es", "s", "ly")
CONTEXT_WEIGHT = 0.5
"""Share of a question term's weight earned when only the passage's heading has it."""


class Passage(TypedDict):
    """A numbered passage as the generate node hands it over; ``n`` is the citation number."""

    n: int
    title: str
    text: str


def passages_message(prompt: str, passages: Sequence[Passage]) -> SystemMessage:
    """The system message carrying ``passages`` as data beside the rendered ``prompt``."""
    return SystemMessage(
        content=prompt, additional_kwargs={"passages": [dict(p) for p in passages]}
    )


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


def _bigrams(seq: list[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(seq))


@dataclass
class _Unit:
    """One candidate: a sentence, FAQ pair or table row of one passage, and its headings."""

    n: int
    rank: int
    position: int
    text: str
    terms: set[str]
    context: set[str]
    pairs: set[tuple[str, str]]
    score: float = 0.0


def _units(passages: Sequence[Passage]) -> list[_Unit]:
    units = []
    for rank, passage in enumerate(passages):
        for cand in candidates(str(passage.get("text") or "")):
            seq = stems(cand.text)
            terms = set(seq)
            context = set(stems(cand.context)) - terms
            units.append(
                _Unit(int(passage["n"]), rank, cand.position, cand.text, terms, context,
                      _bigrams(seq))
            )  # fmt: skip
    return units


def _score(
    question: str,
    units: list[_Unit],
    embed: Callable[[list[str]], list[list[float]]] | None,
    focus: str = "",
) -> None:
    """Coverage of the question's idf-weighted terms, plus a small prior for top passages.

    ``focus`` is what the customer typed when ``question`` is a follow-up rewritten with
    earlier turns' topic: the carried words say where, the typed ones what is asked, so
    carried words weigh ``CONTEXT_WEIGHT``, like a sentence's headings.
    """
    q_seq = stems(_ASKS_QUANTITY.sub(" ", question))
    q_terms, q_pairs = set(q_seq), _bigrams(q_seq)
    numeric = bool(_ASKS_QUANTITY.search(question))
    if not q_terms or not units:
        return
    df = {t: sum(t in u.terms for u in units) for t in q_terms}
    weight = {t: math.log(1 + len(units) / (df[t] or 0.5)) for t in q_terms}
    asked = q_terms & set(stems(_ASKS_QUANTITY.sub(" ", focus)))
    if asked:
        weight = {t: w if t in asked else CONTEXT_WEIGHT * w for t, w in weight.items()}
    total = sum(weight.values())
    cosines = _cosines(question, units, embed) if embed else None
    for i, unit in enumerate(units):
        found = sum(weight[t] for t in q_terms & unit.terms)
        # A heading names what the sentence is about, but the sentence must say something,
        # and one shared word ("Tasklane") is no evidence it answers a longer question.
        lexical = (found + CONTEXT_WEIGHT * sum(weight[t] for t in q_terms & unit.context)) / total
        if not found or len(q_terms & (unit.terms | unit.context)) < min(2, len(q_terms)):
            lexical = 0.0
        if lexical > 0:  # phrases ("reset link") count extra; ties go to the better passage
            lexical += 0.1 * min(2, len(q_pairs & unit.pairs)) + 0.02 / (1 + unit.rank)
            lexical += 0.1 if numeric and _NUMBER.search(unit.text) else 0.0
        unit.score = 0.5 * lexical + 0.5 * max(0.0, cosines[i]) if cosines else lexical


def _cosines(
    question: str, units: list[_Unit], embed: Callable[[list[str]], list[list[float]]]
) -> list[float]:
    vectors = np.asarray(embed([question, *(u.text for u in units)]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return (vectors[1:] @ vectors[0]).tolist()  # type: ignore[no-any-return]


def _pick(units: list[_Unit], *, limit: int, min_score: float) -> list[_Unit]:
    """Best units above the floor and close to the best one, without near-duplicates."""
    ranked = sorted(units, key=lambda u: (-u.score, u.rank, u.position))
    if not ranked or ranked[0].score < min_score:
        return []
    floor = max(min_score, 0.6 * ranked[0].score)
    chosen: list[_Unit] = []
    for unit in ranked:
        if len(chosen) == limit or unit.score < floor:
            break
        if all(_jaccard(unit.terms, c.terms) < 0.7 for c in chosen):
            chosen.append(unit)
    return sorted(chosen, key=lambda u: (u.rank, u.position))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _cite(sentence: str, n: int) -> str:
    """``Text [n].``: the citation goes inside the sentence's final full stop."""
    if sentence.endswith((".", "!")):
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    if sentence.endswith((";", ",")):  # a list item quoted alone ends as a sentence
        return f"{sentence[:-1]} [{n}]."
    return f"{sentence} [{n}]"


class ExtractiveChatModel(BaseChatModel):
    """Deterministic, offline chat model answering only with cited passage sentences."""

    max_sentences: int = 3
    min_score: float = Field(default=0.4, description="Least question coverage to answer.")
    dont_know: str = DONT_KNOW
    embed: Callable[[list[str]], list[list[float]]] | None = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return MODEL_NAME

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"max_sentences": self.max_sentences, "min_score": self.min_score}

    def answer(self, messages: Sequence[BaseMessage]) -> tuple[str, list[int]]:
        """(answer text, cited passage numbers); no citations means "don't know"."""
        question, passages = _question(messages), _passages(messages)
        units = _units(passages)
        _score(question, units, self.embed, focus=_typed(messages))
        chosen = _pick(units, limit=self.max_sentences, min_score=self.min_score)
        if not chosen:
            return self.dont_know, []
        cited = list(dict.fromkeys(u.n for u in chosen))
        return " ".join(_cite(u.text, u.n) for u in chosen), cited

    def _metadata(self, messages: Sequence[BaseMessage], text: str, cited: list[int]) -> dict:
        prompt, completion = sum(len(m.text.split()) for m in messages), len(text.split())
        usage = UsageMetadata(
            input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
        )
        meta = {"model_provider": MODEL_NAME, "model_name": MODEL_NAME, "citations": cited,
                "finish_reason": "stop"}  # fmt: skip
        return {"usage_metadata": usage, "response_metadata": meta}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text, cited = self.answer(messages)
        message = AIMessage(content=text, **self._metadata(messages, text, cited))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop)  # CPU-only and fast: no thread hop

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        text, cited = self.answer(messages)
        for token in re.findall(r"\S+\s*", text):
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        last = AIMessageChunk(
            content="", chunk_position="last", **self._metadata(messages, text, cited)
        )
        yield ChatGenerationChunk(message=last)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


def _question(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, SystemMessage) and message.additional_kwargs.get("question"):
            return str(message.additional_kwargs["question"])
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def _typed(messages: Sequence[BaseMessage]) -> str:
    """The last human message: what the customer typed, before any standalone rewrite."""
    return next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")


def _passages(messages: Sequence[BaseMessage]) -> list[Passage]:
    for message in reversed(messages):
        found = message.additional_kwargs.get("passages")
        if isinstance(found, list):
            return [cast(Passage, p) for p in found if isinstance(p, dict) and "n" in p]
    return []
