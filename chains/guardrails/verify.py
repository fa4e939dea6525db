"""Optional model verification of an answer's claims: one batched call, within a time budget.

Off by default (``Configuration.verify_claims``). After the offline gate, the sentences it
would show go to a chat model (``judge_model``, else the answering model) in one request with
the numbered passages; it returns one verdict per sentence. Only an explicit "unsupported"
removes a sentence: a slow, failed or unreadable reply changes nothing (the offline gate
already ran), so verification can add caution but never an outage.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

PROMPT = """You check a support answer against its sources. For each numbered statement, decide
whether the passages fully support it: same subject, same numbers, same names and settings, and
the same meaning (not negated, not swapped between two things, nothing added).

<passages>
{passages}
</passages>

<statements>
{statements}
</statements>

Reply with JSON only: {{"verdicts": [{{"n": 1, "supported": true}}, ...]}}, one per statement."""

_JSON = re.compile(r"\{.*\}", re.S)


def render(sentences: Sequence[str], passages: Sequence[str]) -> str:
    """The one verification prompt for all ``sentences``."""
    ps = "\n".join(f'<passage id="{i}">{p}</passage>' for i, p in enumerate(passages, 1))
    ss = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences, 1))
    return PROMPT.format(passages=ps, statements=ss)


def parse(text: str, count: int) -> list[bool | None]:
    """Per statement: True supported, False not, None when the reply does not say."""
    out: list[bool | None] = [None] * count
    match = _JSON.search(text)
    if not match:
        return out
    try:
        verdicts = json.loads(match.group(0)).get("verdicts") or []
    except (json.JSONDecodeError, AttributeError):
        return out
    for v in verdicts:
        n = v.get("n") if isinstance(v, dict) else None
        if isinstance(n, int) and 1 <= n <= count and isinstance(v.get("supported"), bool):
            out[n - 1] = v["supported"]
    return out


def verify(model: Any, sentences: Sequence[str], passages: Sequence[str]) -> list[bool | None]:
    """Ask ``model`` (a LangChain chat model built with the turn's timeouts) once.

    Any failure, a timeout included, gives no verdicts: the offline gate's stand.
    """
    if not sentences:
        return []
    from langchain_core.messages import HumanMessage

    try:
        reply = model.invoke([HumanMessage(content=render(sentences, passages))])
    except Exception as exc:  # verification must never fail the turn
        log.warning("claim verification skipped: %s", type(exc).__name__)
        return [None] * len(sentences)
    return parse(str(reply.content), len(sentences))


def verifier_model(spec: str, settings: Any) -> Any:
    """The verifying chat model: deterministic, short replies, the turn's timeouts, no retry.

    The read timeout is the turn's (admin or per-request ``read_timeout``), else the
    provider's, so one verification call never waits longer than one answer call may.
    """
    from chains import provider_timeouts
    from chains.providers import load_chat_model, parse_chat_spec

    provider, _ = parse_chat_spec(spec)
    connect, read = provider_timeouts.turn_overrides()
    waits = provider_timeouts.for_provider(provider, settings, connect=connect, read=read)
    return load_chat_model(spec, settings, temperature=0.0, max_tokens=256, timeout=waits)
