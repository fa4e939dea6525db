"""Sentence-level groundedness: roles, negation, numbers, entities, semantic support, and the
citations the output guardrail enforces on a generative answer."""

from __future__ import annotations

from chains.guardrails.citations import enforce, enforce_checked
from chains.guardrails.grounding import assess, check_sentences
from chains.guardrails.verify import parse, render

TUPLES = (
    "Tuples can be thought of as being similar to Pascal records or C structs; they're small "
    "collections of related data which may be of different types. Lists, on the other hand, are "
    "more like arrays in other languages. They tend to hold a varying number of objects."
)
ARGS = (
    "Parameters are defined by the names that appear in a function definition, whereas "
    "arguments are the values actually passed to a function when calling it."
)
MONTHLY = (
    "If you pay monthly, you can ask for a refund of the most recent monthly charge within "
    "7 days of the charge date. Older monthly charges are not refundable."
)
ANNUAL = "If you pay annually, you can get a full refund within 30 days of your purchase."
RESET = (
    "The reset link is valid for 30 minutes. You can request at most 3 reset emails per hour. "
    "Personal API tokens are NOT revoked by a password reset."
)
LOCKOUT = "After 5 wrong codes in a row, sign-in is blocked for 15 minutes."
BACKUP = "When you turn on 2FA you get 10 single-use backup codes, each 8 characters long."
SORT = (
    "Therefore, list.sort() sorts the list in place. If you want to return a new list, use the "
    "built-in sorted() function instead."
)
EXIT = "Use the atexit module to run a function that will force those deletions."


def problem(sentence: str, passages: list[str], question: str = "") -> str | None:
    check = check_sentences([sentence], passages, None, question)[0]
    return None if check.supported else check.problem


def test_swapped_roles_are_caught_even_in_the_passages_own_words() -> None:
    assert problem("Tuples are more like arrays in other languages.", [TUPLES]) == "roles"
    assert problem("Lists are more like arrays in other languages.", [TUPLES]) is None
    swapped = "Arguments are defined by the names that appear in a function definition."
    assert problem(swapped, [ARGS], "What is the difference between arguments and parameters?") == (
        "roles"
    )
    # The question contrasts two things; the claim gives one the other's terms.
    asked = "What is the difference between monthly and annual refunds?"
    claim = "If you pay monthly, you can get a full refund within 30 days of your purchase."
    assert problem(claim, [MONTHLY, ANNUAL], asked) == "roles"


def test_negation_and_opposites_are_caught() -> None:
    assert problem("Personal API tokens are revoked by a password reset.", [RESET]) == "negation"
    assert problem("Older monthly charges are refundable.", [MONTHLY]) == "negation"
    assert problem("A password reset does not revoke personal API tokens.", [RESET]) is None
    efficient = "A try/except block is extremely efficient if no exceptions are raised."
    claim = "A try/except block is inefficient if no exceptions are raised."
    assert problem(claim, [efficient]) == "negation"


def test_a_number_from_another_sentence_or_count_is_wrong() -> None:
    assert problem("You can request at most 3 reset emails per hour.", [RESET, LOCKOUT]) is None
    # 5 is in the passages, but not in the sentence about reset emails.
    assert problem("You can request at most 5 reset emails per hour.", [RESET, LOCKOUT]) == (
        "number"
    )
    # 8 is in the sentence, but counts characters, not codes.
    assert problem("When you turn on 2FA you get 8 single-use backup codes.", [BACKUP]) == (
        "number"
    )
    assert problem("The reset link is valid for 60 minutes.", [RESET]) == "number"


def test_names_code_names_and_kind_named_things_must_be_in_the_passage() -> None:
    assert problem("Use the built-in ordered() function to get a new sorted list.", [SORT]) == (
        "entity"
    )
    assert problem("Use the shutdown module to run a function that forces those deletions.",
                   [EXIT]) == "entity"  # fmt: skip
    assert problem("Use the built-in sorted() function to get a new list.", [SORT]) is None


def test_semantic_support_uses_the_embedder_once() -> None:
    calls: list[tuple[list[str], list[str]]] = []

    def cosine(value: float) -> object:
        def sim(claims: list[str], units: list[str]) -> list[list[float]]:
            calls.append((claims, units))
            return [[value] * len(units) for _ in claims]

        return sim

    paraphrase = "Each reset link stays usable for half an hour after it is sent."
    assert check_sentences([paraphrase], [RESET], cosine(0.85))[0].supported
    assert not check_sentences([paraphrase], [RESET], cosine(0.2))[0].supported
    assert len(calls) == 2 and "The reset link is valid for 30 minutes." in calls[0][1]


def test_a_verbatim_quote_is_supported_by_the_passages_that_contain_it() -> None:
    check = check_sentences(["The reset link is valid for 30 minutes."], [LOCKOUT, RESET])[0]
    assert check.supported and check.passages == (1,)


PASSAGES = [LOCKOUT, RESET]


def enforced(answer: str) -> object:
    report = assess(answer, PASSAGES)
    return enforce(answer, report.claims, len(PASSAGES))


def test_an_uncited_supported_sentence_gets_its_passage() -> None:
    out = enforced("Hi! The reset link is valid for 30 minutes.")
    assert out.answer == "Hi! The reset link is valid for 30 minutes [2]."  # type: ignore[attr-defined]
    assert out.added == 1 and out.shown  # type: ignore[attr-defined]


def test_a_wrong_citation_is_corrected() -> None:
    out = enforced("The reset link is valid for 30 minutes [1]. Sign-in is blocked for 15 "
                   "minutes after 5 wrong codes in a row [1].")  # fmt: skip
    assert out.answer == (  # type: ignore[attr-defined]
        "The reset link is valid for 30 minutes [2]. Sign-in is blocked for 15 minutes after 5 "
        "wrong codes in a row [1]."
    )
    assert out.corrected == 1  # type: ignore[attr-defined]
    assert enforced("The reset link is valid for 30 minutes [7].").answer.endswith("[2].")  # type: ignore[attr-defined]


def test_unsupported_sentences_are_removed_and_nothing_left_is_not_shown() -> None:
    out = enforced("The reset link is valid for 30 minutes [2]. Tokens are revoked by a "
                   "password reset [2].")  # fmt: skip
    assert out.answer == "The reset link is valid for 30 minutes [2]."  # type: ignore[attr-defined]
    assert out.removed == ["Tokens are revoked by a password reset [2]."]  # type: ignore[attr-defined]
    nothing = enforced("Hello! The reset link is valid for 60 minutes [2].")
    assert not nothing.shown and nothing.answer == "Hello!"  # type: ignore[attr-defined]


def test_the_verifier_can_remove_a_sentence_in_one_batched_call() -> None:
    answer = "The reset link is valid for 30 minutes [2]. You can request at most 3 reset " \
        "emails per hour [2]."  # fmt: skip
    report = assess(answer, PASSAGES)
    asked: list[list[str]] = []

    def verify(sentences: list[str]) -> list[bool | None]:
        asked.append(sentences)
        return [True, False]

    out = enforce_checked(answer, report.claims, 2, verify)
    assert len(asked) == 1 and len(asked[0]) == 2
    assert out.answer == "The reset link is valid for 30 minutes [2]."
    silent = enforce_checked(answer, report.claims, 2, lambda s: [None] * len(s))
    assert silent.answer == answer


def test_verification_prompt_and_reply_parsing() -> None:
    prompt = render(["A.", "B."], ["p one", "p two"])
    assert '<passage id="2">p two</passage>' in prompt and "2. B." in prompt
    reply = 'Sure: {"verdicts": [{"n": 2, "supported": false}, {"n": 1, "supported": true}]}'
    assert parse(reply, 2) == [True, False]
    assert parse("no idea", 2) == [None, None]
    assert parse('{"verdicts": [{"n": 5, "supported": false}]}', 2) == [None, None]
