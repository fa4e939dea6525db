"""Which question a turn answers and which passages it answers from.

A follow-up leaves its topic in earlier turns. A generative model rewrites it with the
``condense_question`` prompt; the extractive default carries the topic in words
(``chains.followups``). Either way, a change of subject that finds at least as good passages
on its own is answered on its own, and a question that finds nothing on its own is tried once
more with the previous topic, keeping only passages that still hold half of its own words.
Navigation chunks (tables of contents) are dropped: they name topics, they answer none.
"""

from __future__ import annotations

from functools import partial

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from chains import followups
from chains.configuration import Configuration
from chains.extractive import stems
from chains.failover import produced_by
from chains.prompting import render
from chains.providers import build_chat_runnable
from chains.resources import ChatResources
from loaders.retrieval import SearchHit
from prompts.variables import history_from_messages

NAVIGATION_SLACK = 3
"""Extra hits fetched per turn, so dropping navigation chunks still leaves ``top_k``."""


def standalone_hits(
    question: str,
    history: list[BaseMessage],
    cfg: Configuration,
    config: RunnableConfig,
    res: ChatResources,
) -> tuple[followups.Standalone, list[SearchHit]]:
    """The standalone question and its hits, best first, at most ``cfg.top_k``."""
    found = partial(
        res.searcher.search,
        top_k=cfg.top_k + NAVIGATION_SLACK,
        filters=cfg.filters,
        min_relevance=cfg.min_relevance_score,
        rerank=cfg.rerank,
    )

    def search(query: str) -> list[SearchHit]:
        content = [h for h in found(query) if not h.document.metadata.get("navigation")]
        return content[: cfg.top_k]

    rewritten = condense(question, history, cfg, config, res)
    hits = search(rewritten.query)
    if rewritten.question != question and followups.new_topic(question, history, res.embeddings):
        # A change of subject that finds at least as good passages on its own is answered on
        # its own: carrying the last topic would answer the previous question again.
        alone = search(question)
        if alone and (not hits or alone[0].relevance_score >= hits[0].relevance_score):
            rewritten, hits = followups.Standalone(question, question), alone
    if not hits and history and rewritten.question == question:
        # Nothing on its own ("How long will the download link work?"): the subject is
        # probably left implicit, so try once more with the previous turn's topic.
        forced = followups.rewrite(question, history, force=True)
        if forced.question != question:
            # The previous topic only says where to look: a passage must still hold at least
            # half the words asked, or an unrelated question would get the last topic's answer.
            own = set(stems(" ".join(followups.topic_words(question))))
            kept = [
                h
                for h in search(forced.query)
                if 2 * len(own & set(stems(h.document.page_content))) >= max(1, len(own))
            ]
            if kept:
                rewritten, hits = forced, kept
    return rewritten, hits


def condense(
    question: str,
    history: list[BaseMessage],
    cfg: Configuration,
    config: RunnableConfig,
    res: ChatResources,
) -> followups.Standalone:
    """A generative model rewrites follow-ups; the extractive default uses the lexical rule."""
    if not history or cfg.model == "extractive":
        return followups.rewrite(question, history)
    prompt = render(
        res,
        "condense_question",
        {
            "history": history_from_messages(history[-cfg.history_window :]),
            "question": question,
        },
        cfg.prompt_version,
    )
    model = build_chat_runnable(
        cfg.model, res.settings, fallback_spec=cfg.fallback_model, temperature=0.0, max_tokens=128
    )
    out = model.invoke([HumanMessage(content=prompt)], config)
    text = str(out.content).strip()
    # The extractive fallback cannot rewrite: it answers, so keep the lexical rule then.
    if not text or produced_by(out) == "extractive":
        return followups.rewrite(question, history)
    return followups.Standalone(text, text)
