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

"How do I ..." asks for a procedure: a numbered list quoted whole (one step a line, one
citation after the last) is preferred then, and its heading ("How to reset a forgotten
password") counts in full, because it names what the steps do. Other questions are answered
by single sentences, so a list never crowds out the one step that states the asked detail.
The answer stays within ``max_chars`` (the output limit; the generate node passes the
configured one as ``additional_kwargs["max_chars"]``).
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

from chains.passage_text import ELLIPSIS, candidates
from chains.question_terms import (
    ASKS_PROCEDURE,
    ASKS_QUANTITY,
    INSTRUCTION,
    asked_topic,
    opposed,
    stem,
    stems,
    words,
)

__all__ = ["DONT_KNOW", "ExtractiveChatModel", "Passage", "passages_message", "stem", "stems"]

MODEL_NAME = "extractive"
DONT_KNOW = "I don't know: the help center articles I can search do not answer that."

_NUMBER = re.compile(r"\d")
_STEP_NUMBER = re.compile(r"^\d+\. ", re.M)
PROCEDURE_BONUS = 0.2
"""Score added to a numbered procedure when the question asks how to do something."""
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
    steps: int = 0
    heading: str = ""  # its headings as written, to tell "Turning on" from "Turning off"
    score: float = 0.0


def _units(passages: Sequence[Passage]) -> list[_Unit]:
    units = []
    for rank, passage in enumerate(passages):
        for cand in candidates(str(passage.get("text") or "")):
            seq = stems(_STEP_NUMBER.sub("", cand.text) if cand.steps else cand.text)
            terms = set(seq)
            context = set(stems(cand.context)) - terms
            units.append(
                _Unit(int(passage["n"]), rank, cand.position, cand.text, terms, context,
                      _bigrams(seq), cand.steps, cand.context)
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
    q_seq = stems(asked_topic(question))
    if not q_seq or not units:
        return
    q_terms = set(q_seq)
    # Word rarity is counted over sentences: a procedure repeats its steps' words.
    sentences = [u for u in units if not u.steps]
    df = {t: sum(t in u.terms for u in sentences) for t in q_terms}
    weight = {t: math.log(1 + len(sentences) / (df[t] or 0.5)) for t in q_terms}
    asked = q_terms & set(stems(asked_topic(focus)))
    if asked:
        weight = {t: w if t in asked else CONTEXT_WEIGHT * w for t, w in weight.items()}
    q = _Question(
        weight, _bigrams(q_seq), words(question),
        numeric=bool(ASKS_QUANTITY.search(question)),
        procedural=bool(ASKS_PROCEDURE.search(question)),
    )  # fmt: skip
    cosines = _cosines(question, units, embed) if embed else None
    for i, unit in enumerate(units):
        lexical = _lexical(unit, q)
        unit.score = 0.5 * lexical + 0.5 * max(0.0, cosines[i]) if cosines else lexical


@dataclass
class _Question:
    weight: dict[str, float]  # idf weight of each content stem
    pairs: set[tuple[str, str]]
    words: set[str]  # every word's stem, stopwords included
    numeric: bool  # asks for a quantity
    procedural: bool  # asks how to do something


def _lexical(unit: _Unit, q: _Question) -> float:
    """Weighted share of the question's terms the unit (and, discounted, its heading) has."""
    terms = set(q.weight)
    step = q.procedural and bool(unit.steps or INSTRUCTION.match(unit.text))
    if unit.steps and (not step or (unit.heading and not terms & words(unit.heading))):
        return 0.0  # a fact question is answered by a sentence; a procedure by what it does
    if q.procedural and opposed(q.words, words(unit.heading)):
        return 0.0  # "Turning on 2FA" does not answer "How do I turn off 2FA?"
    # A heading names what the sentence is about, but the sentence must say something, and
    # one shared word ("Tasklane") is no evidence it answers a longer question. A heading
    # that covers the whole question names what the steps under it do: it counts in full.
    covered = step and terms <= unit.terms | unit.context
    found = sum(q.weight[t] for t in terms & unit.terms)
    heading = sum(q.weight[t] for t in terms & unit.context)
    lexical = (found + (1.0 if covered else CONTEXT_WEIGHT) * heading) / sum(q.weight.values())
    if not (found or covered) or len(terms & (unit.terms | unit.context)) < min(2, len(terms)):
        return 0.0
    # Phrases ("reset link") count extra; ties go to the better passage.
    lexical += 0.1 * min(2, len(q.pairs & unit.pairs)) + 0.02 / (1 + unit.rank)
    lexical += 0.1 if q.numeric and _NUMBER.search(unit.text) else 0.0
    return lexical + (PROCEDURE_BONUS if unit.steps else 0.0)


def _cosines(
    question: str, units: list[_Unit], embed: Callable[[list[str]], list[list[float]]]
) -> list[float]:
    vectors = np.asarray(embed([question, *(u.text for u in units)]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return (vectors[1:] @ vectors[0]).tolist()  # type: ignore[no-any-return]


def _pick(
    units: list[_Unit], *, limit: int, min_score: float, max_chars: int = 2000
) -> list[_Unit]:
    """Best units above the floor and close to the best one, without near-duplicates.

    A procedure takes two of the ``limit`` places (its steps say more than a sentence), a
    step already quoted in a chosen procedure is not repeated, and units that would take the
    answer past ``max_chars`` are left out.
    """
    ranked = sorted(units, key=lambda u: (-u.score, u.rank, u.position))
    if not ranked or ranked[0].score < min_score:
        return []
    floor = max(min_score, 0.6 * ranked[0].score)
    chosen: list[_Unit] = []
    places = size = 0
    for unit in ranked:
        if places >= limit or unit.score < floor:
            break
        need, cost = min(2, limit) if unit.steps else 1, len(_cite(unit.text, unit.n)) + 1
        if size + cost > max_chars or places + need > limit:
            continue
        if all(_jaccard(unit.terms, c.terms) < 0.7 and not _overlaps(unit, c) for c in chosen):
            chosen.append(unit)
            places, size = places + need, size + cost
    return sorted(chosen, key=lambda u: (u.rank, u.position))


def _overlaps(a: _Unit, b: _Unit) -> bool:
    """One quotes the other (a step and its procedure)."""
    return a.n == b.n and (a.text in b.text or b.text in a.text)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _cite(sentence: str, n: int) -> str:
    """``Text [n].``: the citation goes inside the sentence's final full stop."""
    if sentence.endswith(ELLIPSIS):  # a procedure cut short: "..." is not a full stop
        return f"{sentence} [{n}]"
    if sentence.endswith((".", "!")):
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    if sentence.endswith((";", ",")):  # a list item quoted alone ends as a sentence
        return f"{sentence[:-1]} [{n}]."
    return f"{sentence} [{n}]"


class ExtractiveChatModel(BaseChatModel):
    """Deterministic, offline chat model answering only with cited passage sentences."""

    max_sentences: int = 3
    min_score: float = Field(default=0.4, description="Least question coverage to answer.")
    max_chars: int = Field(default=2000, description="Longest answer, unless the call says.")
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
        limit = _max_chars(messages) or self.max_chars
        chosen = _pick(units, limit=self.max_sentences, min_score=self.min_score, max_chars=limit)
        if not chosen:
            return self.dont_know, []
        cited = list(dict.fromkeys(u.n for u in chosen))
        return _join([_cite(u.text, u.n) for u in chosen]), cited

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


def _max_chars(messages: Sequence[BaseMessage]) -> int:
    """The output limit the caller passed with the passages, or 0."""
    for message in reversed(messages):
        if isinstance(message, SystemMessage) and message.additional_kwargs.get("max_chars"):
            return int(message.additional_kwargs["max_chars"])
    return 0


def _join(parts: list[str]) -> str:
    """Sentences run on one line; a multi-line procedure stands on lines of its own."""
    out = parts[0] if parts else ""
    for before, part in itertools.pairwise(parts):
        out += ("\n" if "\n" in before or "\n" in part else " ") + part
    return out


def _typed(messages: Sequence[BaseMessage]) -> str:
    """The last human message: what the customer typed, before any standalone rewrite."""
    return next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")


def _passages(messages: Sequence[BaseMessage]) -> list[Passage]:
    for message in reversed(messages):
        found = message.additional_kwargs.get("passages")
        if isinstance(found, list):
            return [cast(Passage, p) for p in found if isinstance(p, dict) and "n" in p]
    return []
