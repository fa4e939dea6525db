"""The chat graph's nodes. Each reads state and returns a partial update; routing decisions are
written to state (``route``, ``verdict``) and read by the pure functions in ``chains.routing``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from chains import answers
from chains.configuration import Configuration
from chains.failover import produced_by
from chains.guardrails import check_input, check_output
from chains.guardrails.injection import find_injection
from chains.prompting import render
from chains.providers import build_chat_runnable
from chains.resources import get_resources
from chains.standalone import standalone_hits
from chains.state import ChatState, Guardrails
from prompts.specs import STRICT_ANSWER_VERSION
from prompts.variables import passages_from_documents

Node = Callable[[ChatState, RunnableConfig], dict[str, Any]]


def timed(name: str) -> Callable[[Node], Node]:
    """Adds the node's wall time (ms) to ``timings`` so every turn reports where time went."""

    def wrap(fn: Node) -> Node:
        @wraps(fn)
        def inner(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
            start = time.perf_counter()
            update = fn(state, config)
            timings = dict(state.get("timings") or {})
            timings[name] = round(timings.get(name, 0.0) + (time.perf_counter() - start) * 1000, 2)
            return {**update, "timings": timings}

        return inner

    return wrap


@timed("guard")
def guard(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """Input guardrails; decides refuse / handoff / retrieve."""
    cfg = Configuration.from_runnable_config(config)
    question = state.get("question") or ""
    verdict = check_input(
        question,
        max_chars=cfg.max_input_chars,
        mask_pii=cfg.mask_pii,
        check_injection=cfg.check_injection,
        check_toxicity=cfg.check_toxicity,
    )
    violations = list(verdict.violations)
    if not question.strip():
        violations.append(
            {"code": "EMPTY_INPUT", "message": "The message is empty.", "stage": "input"}
        )
    safe = verdict.safe and bool(question.strip())
    guardrails: Guardrails = {
        "input_safe": safe,
        "output_safe": True,
        "pii_detected": verdict.pii_detected,
        "violations": violations,
    }
    route = "refuse" if not safe else "handoff" if answers.wants_human(verdict.text) else "retrieve"
    return {
        "safe_question": verdict.text,
        "guardrails": guardrails,
        "route": route,
        "attempts": 0,
        "usage": {"prompt_tokens": 0, "completion_tokens": 0},
    }


@lru_cache(maxsize=4096)
def _without_planted_instructions(text: str) -> tuple[str, int]:
    """Cached per passage text: the same chunks come back turn after turn, and scanning one
    for instructions costs about a millisecond."""
    return answers.strip_planted_instructions(text, find_injection)


@timed("retrieve")
def retrieve(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """Standalone question from the history, then hybrid retrieval above the relevance floor."""
    cfg = Configuration.from_runnable_config(config)
    res = get_resources()
    question = state["safe_question"]
    history = state.get("history") or []
    rewritten, hits = standalone_hits(question, history, cfg, config, res)
    standalone = rewritten.question
    documents, planted = [], 0
    for h in hits:
        # Retrieved text is data: instructions planted in a document never reach the model.
        text, dropped = _without_planted_instructions(h.document.page_content)
        planted += dropped
        if text.strip():
            metadata = {**h.document.metadata, "relevance_score": h.relevance_score}
            documents.append(Document(id=h.chunk_id, page_content=text, metadata=metadata))
    top = float(documents[0].metadata["relevance_score"]) if documents else 0.0
    update: dict[str, Any] = {
        "standalone_question": standalone,
        "documents": documents,
        "retrieval_confidence": top,
    }
    if planted:
        guardrails: Guardrails = {**state["guardrails"]}
        note = f"Ignored {planted} instruction(s) found in retrieved documents."
        guardrails["violations"] = [
            *guardrails["violations"],
            {"code": "INDIRECT_INJECTION", "stage": "input", "message": note},
        ]
        update["guardrails"] = guardrails
    return update


@timed("generate")
def generate(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """Prompt (system + passages + windowed history + question) -> model with failover."""
    cfg = Configuration.from_runnable_config(config)
    res = get_resources()
    verdict = state.get("verdict")
    spec = "extractive" if verdict == "fallback" else cfg.model
    version = STRICT_ANSWER_VERSION if verdict == "retry" else cfg.prompt_version
    ps = answers.passages(state["documents"])
    system = render(res, "system", {}, cfg.prompt_version)
    instructions = render(
        res,
        "answer",
        {
            "passages": passages_from_documents(state["documents"]),
            "question": state["safe_question"],
        },
        version,
    )
    messages: list[BaseMessage] = [
        # The extractive model reads the standalone rewrite from here; providers ignore it.
        SystemMessage(
            content=f"{system}\n\n{instructions}",
            additional_kwargs={
                "passages": ps,
                "question": state.get("standalone_question"),
                "max_chars": cfg.max_output_chars,
            },
        ),
        *(state.get("history") or [])[-cfg.history_window :],
        HumanMessage(content=state["safe_question"]),
    ]
    model = build_chat_runnable(
        spec,
        res.settings,
        fallback_spec=cfg.fallback_model,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        embed=res.unit_vectors,
    )
    reply = model.invoke(messages, config)
    before = state.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0}
    meta = getattr(reply, "usage_metadata", None) or {}
    usage = {
        "prompt_tokens": before["prompt_tokens"] + int(meta.get("input_tokens", 0)),
        "completion_tokens": before["completion_tokens"] + int(meta.get("output_tokens", 0)),
    }
    provider = produced_by(reply) or spec
    return {
        "answer": str(reply.content).strip(),
        "answer_score": reply.response_metadata.get("answer_score"),
        "draft_model": provider,
        "attempts": state.get("attempts", 0) + 1,
        "usage": usage,
    }


@timed("validate")
def validate(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """Output guardrails; pass, regenerate once strictly, fall back to extractive, or give up."""
    cfg = Configuration.from_runnable_config(config)
    res = get_resources()
    docs = state["documents"]
    result = check_output(
        state.get("answer", ""),
        [d.page_content for d in docs],
        system_prompt=render(res, "system", {}, cfg.prompt_version),
        max_chars=cfg.max_output_chars,
        check_groundedness=cfg.check_groundedness,
        similarity=_similarity(res.embeddings),
    )
    guardrails: Guardrails = {**state["guardrails"]}
    extractive = state.get("draft_model") == "extractive"
    if result.safe:
        verdict = "pass"
    else:
        guardrails["violations"] = [*guardrails["violations"], *result.violations]
        verdict = (
            "retry"
            if state.get("attempts", 0) < 2 and not extractive
            else "fallback"
            if not extractive
            else "dont_know"
        )
    if verdict == "pass" and extractive and not answers.cited_numbers(state["answer"], len(docs)):
        verdict = "dont_know"  # the extractive model found nothing to quote: say so, confidence 0
    guardrails["output_safe"] = result.safe
    update: dict[str, Any] = {"verdict": verdict, "guardrails": guardrails}
    if verdict == "pass":
        retrieval = state.get("retrieval_confidence", 0.0)
        score = state.get("answer_score")
        update["confidence_score"] = (
            answers.extractive_confidence(score)
            if extractive and score is not None
            else answers.confidence(retrieval, result.support)
        )
        update["sources"] = answers.sources_for(state["answer"], docs)
    return update


def _similarity(embeddings: Any) -> Callable[[list[str], list[str]], list[list[float]]]:
    def sim(a: list[str], b: list[str]) -> list[list[float]]:
        import numpy as np

        va = np.asarray(embeddings.embed_documents(a), dtype=np.float32)
        vb = np.asarray(embeddings.embed_documents(b), dtype=np.float32)
        return (va @ vb.T).tolist()  # type: ignore[no-any-return]

    return sim


@timed("refuse")
def refuse(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """A polite refusal naming the reason code of the first violation."""
    cfg = Configuration.from_runnable_config(config)
    res = get_resources()
    violations = state["guardrails"]["violations"]
    code = violations[0]["code"] if violations else "POLICY"
    text = render(
        res, "refusal", {"reason": code, "max_input_chars": cfg.max_input_chars}, cfg.prompt_version
    )
    return {"answer": text, "sources": [], "confidence_score": 0.0}


@timed("no_answer")
def no_answer(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """Nothing relevant (or nothing safe to say): say so plainly and offer a person."""
    cfg = Configuration.from_runnable_config(config)
    res = get_resources()
    text = render(res, "no_answer", {}, cfg.prompt_version)
    return {"answer": text, "sources": [], "confidence_score": 0.0}


@timed("handoff")
def handoff(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """The customer asked for a person: confirm and escalate with a note for the agent."""
    cfg = Configuration.from_runnable_config(config)
    res = get_resources()
    text = render(res, "handoff", {"reason": "customer_request"}, cfg.prompt_version)
    history = state.get("history") or []
    escalation = {
        "reason": "customer_request",
        "summary": answers.summary_for_agent(state["safe_question"], history, "customer_request"),
    }
    return {"answer": text, "sources": [], "confidence_score": 0.0, "escalation": escalation}


@timed("finalize")
def finalize(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    """Escalate after two low-confidence turns in a row; attach the bot message for history."""
    cfg = Configuration.from_runnable_config(config)
    history = state.get("history") or []
    score = float(state.get("confidence_score", 0.0))
    escalation = state.get("escalation")
    previous = answers.previous_confidence(history)
    low = score < answers.LOW_CONFIDENCE
    if escalation is None and low and previous is not None and previous < answers.LOW_CONFIDENCE:
        escalation = {
            "reason": "low_confidence",
            "summary": answers.summary_for_agent(
                state.get("safe_question", ""), history, "low_confidence"
            ),
        }
    sources = state.get("sources", [])
    usage = state.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0}
    timings = state.get("timings") or {}
    message = AIMessage(
        content=state.get("answer", ""),
        additional_kwargs={
            "confidence_score": score,
            "sources": sources,
            "escalated": escalation is not None,
            "escalation": escalation,
            "ai_metadata": {
                "model_used": cfg.model,
                "provider": state.get("draft_model", "none"),
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": usage["completion_tokens"],
                "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
                "response_time_ms": round(sum(timings.values()), 2),
                "confidence_score": score,
                "answer_score": state.get("answer_score"),
                "temperature": cfg.temperature,
            },
            "context_used": {
                "conversation_history_length": len(history),
                "retrieved_documents": [
                    {k: s[k] for k in ("document_id", "chunk_id", "relevance_score", "title")}
                    for s in sources
                ],
                "retrieved_count": len(state.get("documents") or []),
            },
            "guardrails": state.get("guardrails"),
        },
    )
    return {
        "escalation": escalation,
        "message": message,
        "sources": sources,
        "confidence_score": score,
    }
