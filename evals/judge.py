"""Optional LLM-as-judge correctness (``--judge provider/model``); never used by default.

The judge sees the question, the reference answer and the bot's answer and replies with one
digit 1-5; the metric ``judge.correctness`` is that score mapped to 0..1. A reply without a
digit is skipped (counted in no mean) rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from langchain_core.messages import HumanMessage, SystemMessage

from loaders.errors import InvalidInput
from loaders.settings import Settings

SYSTEM = (
    "You grade a customer-support answer against a reference answer. Reply with one digit: "
    "5 = states every fact of the reference and nothing that contradicts it; 4 = minor omission; "
    "3 = partly correct; 2 = mostly wrong or missing; 1 = wrong or contradicts the reference. "
    "An honest 'I don't know' scores 1 when the reference has an answer."
)
_DIGIT = re.compile(r"\b([1-5])\b")


def make_judge(spec: str, settings: Settings) -> Callable[[str, str, str], float | None]:
    """A scoring function over the configured chat model ``spec``."""
    from chains.failover import produced_by
    from chains.providers import build_chat_runnable

    if spec.strip().lower() == "extractive":
        raise InvalidInput(
            "The extractive model cannot judge; pass a generative model.", code="EVAL_JUDGE_INVALID"
        )
    model = build_chat_runnable(spec, settings, temperature=0.0, max_tokens=8)

    def judge(question: str, reference: str, answer: str) -> float | None:
        prompt = (
            f"Question: {question}\n\nReference answer: {reference}\n\nAnswer to grade: {answer}"
        )
        reply = model.invoke([SystemMessage(content=SYSTEM), HumanMessage(content=prompt)])
        if produced_by(reply) == "extractive":  # every judge link failed: no grade, not a guess
            return None
        return parse_score(str(reply.content))

    return judge


def parse_score(text: str) -> float | None:
    m = _DIGIT.search(text)
    return None if m is None else round((int(m.group(1)) - 1) / 4, 4)
