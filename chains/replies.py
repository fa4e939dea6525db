"""The graph's closing nodes: refuse, no_answer and handoff say what the bot can't do; finalize
applies the escalation rule and attaches the bot message that history and analytics store."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from chains import answers
from chains.configuration import Configuration
from chains.prompting import render
from chains.resources import get_resources
from chains.state import ChatState
from chains.timing import timed


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
            "held": state.get("route") == "held",  # a person has it: relay the question
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
