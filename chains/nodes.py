"""The chat graph's nodes. Each reads state and returns a partial update; routing decisions are
written to state (``route``, ``verdict``) and read by the pure functions in ``chains.routing``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from chains import answers
from chains.configuration import Configuration
from chains.failover import produced_by
from chains.guardrails import check_input, check_output
from chains.guardrails.citations import Verify, enforce_checked
from chains.guardrails.injection import find_injection
from chains.handoff.state import HELD
from chains.prompting import render
from chains.providers import build_chat_runnable
from chains.resources import get_resources
from chains.standalone import standalone_hits
from chains.state import ChatState, Guardrails
from chains.timing import timed
from prompts.specs import STRICT_ANSWER_VERSION
from prompts.variables import passages_from_documents

log = logging.getLogger(__name__)


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
    if cfg.handoff_state in HELD:  # a person has the conversation: the bot only says so
        route = "held"
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
    """Output guardrails; pass, regenerate once strictly, fall back to extractive, or give up.

    A generative answer is shown only as its supported sentences, each citing a passage that
    supports it (``chains.guardrails.citations``); with none left it is regenerated.
    """
    cfg = Configuration.from_runnable_config(config)
    res = get_resources()
    docs = state["documents"]
    answer = state.get("answer", "")
    extractive = state.get("draft_model") == "extractive"
    result = check_output(
        answer,
        [d.page_content for d in docs],
        system_prompt=render(res, "system", {}, cfg.prompt_version),
        max_chars=cfg.max_output_chars,
        check_groundedness=cfg.check_groundedness,
        similarity=_similarity(res.embeddings),
        question=state.get("standalone_question") or state.get("safe_question") or "",
        quoted=extractive,
    )
    guardrails: Guardrails = {**state["guardrails"]}
    safe, enforced = result.safe, None
    only_grounding = all(v["code"] == "UNGROUNDED" for v in result.violations)
    if not extractive and cfg.check_groundedness and only_grounding:
        enforced = enforce_checked(answer, result.claims, len(docs), _verifier(cfg, res, docs))
        safe, answer = enforced.shown, enforced.answer
    violations = list(result.violations)
    if enforced is not None and enforced.removed and not violations:
        note = f"Removed {len(enforced.removed)} unsupported sentence(s) from the answer."
        violations.append({"code": "UNGROUNDED", "message": note, "stage": "output"})
    guardrails["violations"] = [*guardrails["violations"], *violations]
    if safe:
        verdict = "pass"
    else:
        verdict = (
            "retry"
            if state.get("attempts", 0) < 2 and not extractive
            else "fallback"
            if not extractive
            else "dont_know"
        )
    if verdict == "pass" and extractive and not answers.cited_numbers(answer, len(docs)):
        verdict = "dont_know"  # the extractive model found nothing to quote: say so, confidence 0
    guardrails["output_safe"] = safe
    update: dict[str, Any] = {"verdict": verdict, "guardrails": guardrails}
    if verdict == "pass":
        retrieval = state.get("retrieval_confidence", 0.0)
        score = state.get("answer_score")
        update["confidence_score"] = (
            answers.extractive_confidence(score)
            if extractive and score is not None
            else answers.confidence(retrieval, result.support)
        )
        update["answer"] = answer
        update["sources"] = answers.sources_for(answer, docs)
    return update


def _verifier(cfg: Configuration, res: Any, docs: list[Document]) -> Verify | None:
    """The optional batched claim check by a model (``verify_claims``), else None."""
    spec = cfg.judge_model or cfg.model
    if not cfg.verify_claims or spec == "extractive":
        return None
    from chains.guardrails.verify import verifier_model, verify

    try:
        model = verifier_model(spec, res.settings)
    except Exception:  # a judge that cannot be built never fails the turn: no verification
        log.warning("claim verification skipped: cannot build judge model %r", spec, exc_info=True)
        return None
    passages = [d.page_content for d in docs]
    return lambda sentences: verify(model, sentences, passages)


def _similarity(embeddings: Any) -> Callable[[list[str], list[str]], list[list[float]]]:
    def sim(a: list[str], b: list[str]) -> list[list[float]]:
        import numpy as np

        va = np.asarray(embeddings.embed_documents(a), dtype=np.float32)
        vb = np.asarray(embeddings.embed_documents(b), dtype=np.float32)
        return (va @ vb.T).tolist()  # type: ignore[no-any-return]

    return sim
