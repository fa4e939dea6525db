"""Follow-ups made standalone without a model, and the extractive model answering the rewrite."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from chains.extractive import DONT_KNOW, ExtractiveChatModel
from chains.followups import refers_back, rewrite, topic_words


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text)}


def _answer(text: str, *sources: tuple[str, str]) -> AIMessage:
    """A bot reply as finalize stores it: cited sources (title, snippet) in additional_kwargs."""
    cited = [{"title": t, "snippet": s, "document_id": "d", "chunk_id": "c"} for t, s in sources]
    return AIMessage(content=text, additional_kwargs={"sources": cited})


BACKUP: list[BaseMessage] = [
    HumanMessage(content="How do I schedule nightly backups of my vault?"),
    _answer(
        "Open Vault > Backups and pick Nightly [1].",
        ("Vault backups", "Open Vault > Backups and pick Nightly. Backups run at 02:00 UTC."),
    ),
]


def test_pronoun_is_replaced_by_the_previous_topic() -> None:
    out = rewrite("Can I restore one file from it?", BACKUP)
    assert out.question.startswith("Can I restore one file from ")
    assert {"nightly", "backups", "vault"} <= _words(out.question)
    # Retrieval gets the whole previous question, answering gets the focused rewrite.
    assert out.query.startswith("How do I schedule nightly backups of my vault?")
    assert out.query.endswith(out.question)


def test_ellipsis_appends_the_topic() -> None:
    out = rewrite("And on weekends?", BACKUP)
    assert out.question.startswith("And on weekends? (")
    assert "backups" in out.question and "vault" in out.question


def test_contrasting_follow_up_swaps_the_modifier() -> None:
    history: list[BaseMessage] = [
        HumanMessage(content="What does the Gold tier cost?"),
        _answer("The Gold tier costs $9 a month [1].", ("Tiers", "Gold tier: $9 a month.")),
    ]
    out = rewrite("What about the Silver tier?", history)
    words = _words(out.question)
    assert "silver" in words and "cost" in words
    assert "gold" not in words


def test_a_new_question_is_left_alone() -> None:
    question = "How do I invite guests to a shared calendar?"
    out = rewrite(question, BACKUP)
    assert out.question == out.query == question


def test_pronoun_inside_a_question_that_names_the_topic_is_not_resolved() -> None:
    question = "Can backups of the vault be encrypted, and does that slow them down?"
    assert not refers_back(question, topic_words("schedule nightly backups vault"))
    assert rewrite(question, BACKUP).question == question


def test_only_topic_words_the_cited_passages_use_are_carried() -> None:
    history: list[BaseMessage] = [
        HumanMessage(content="I'd like to pause my subscription, my manager asked yesterday."),
        _answer(
            "You can pause a subscription for up to 3 months [1].",
            ("Pausing", "Pause a subscription under Billing for up to 3 months."),
        ),
    ]
    words = _words(rewrite("Is it free?", history).question)
    assert {"pause", "subscription"} <= words
    assert not {"like", "manager", "yesterday", "d"} & words


def test_a_dont_know_reply_still_carries_the_question_words() -> None:
    history: list[BaseMessage] = [
        HumanMessage(content="Does the scanner app support duplex paper?"),
        AIMessage(content=DONT_KNOW, additional_kwargs={"sources": []}),
    ]
    assert {"scanner", "duplex", "paper"} <= _words(rewrite("And on Linux?", history).question)


def test_third_turn_keeps_the_first_turns_topic() -> None:
    history = [
        *BACKUP,
        HumanMessage(content="And on weekends?"),
        _answer("Backups also run on weekends [1].", ("Vault backups", "Backups run daily.")),
    ]
    out = rewrite("How long are they kept?", history)
    assert "backups" in out.question.lower() and "vault" in out.question.lower()


def test_force_carries_the_topic_into_a_question_that_looks_standalone() -> None:
    question = "Where does the restore wizard keep temporary files?"
    assert rewrite(question, BACKUP).question == question
    forced = rewrite(question, BACKUP, force=True)
    assert forced.question != question and "vault" in forced.question.lower()


def test_no_history_no_rewrite() -> None:
    assert rewrite("Does it work offline?", []).question == "Does it work offline?"


def _ask(typed: str, standalone: str, passages: list[dict[str, Any]], most: int = 3) -> str:
    system = SystemMessage(
        content="", additional_kwargs={"passages": passages, "question": standalone}
    )
    model = ExtractiveChatModel(max_sentences=most)
    return model.answer([system, HumanMessage(content=typed)])[0]


PASSAGES = [
    {"n": 1, "title": "", "text": "Vault archives are encrypted with a workspace archive key."},
    {"n": 2, "title": "", "text": "The restore window is 14 days for every plan."},
]


def test_extractive_answers_the_standalone_rewrite() -> None:
    # The typed follow-up alone shares no word with any passage: "don't know".
    assert _ask("What is it?", "", PASSAGES) == DONT_KNOW
    answer = _ask("What is the window for that?", "What is the restore window? (vault)", PASSAGES)
    assert "14 days" in answer and "[2]" in answer


def test_typed_words_outweigh_carried_topic_words() -> None:
    # Sentence [1] has all three carried words, [2] the two the customer typed.
    standalone = "What is the restore window? (vault archive key)"
    answer = _ask("And the restore window?", standalone, PASSAGES, most=1)
    assert answer == "The restore window is 14 days for every plan [2]."
    # Without the typed question every word weighs the same, and the topic sentence wins.
    assert _ask(standalone, standalone, PASSAGES, most=1).endswith("[1].")
