"""The binary "correct" metric, confident-wrong, and calibration (reliability bins, ECE) on
hand-made turns; no model, no servers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from evals import correct as cr
from evals.calibration import bin_of, calibration, ece, reliability
from evals.datasets import EvalItem
from evals.scoring import score_item
from evals.turns import Passage, Turn

SECTION = "How do I make an executable from a Python script?"
PASSAGES = [
    Passage(
        1,
        "c1",
        "programming.html",
        "Programming FAQ",
        "Use a freezing tool such as PyInstaller to build an executable.",
        0.9,
        heading_path=f"Programming FAQ ¶ > General Questions ¶ > {SECTION} ¶",
    ),
    Passage(
        2,
        "c2",
        "programming.html",
        "Programming FAQ",
        "Profile first; then optimise the hot loop.",
        0.7,
        heading_path="Programming FAQ > Performance > My program is too slow",
    ),
    Passage(
        3,
        "c3",
        "windows.html",
        "Python on Windows FAQ",
        "Scripts can be made executable with py.exe.",
        0.6,
        heading_path=f"Python on Windows FAQ > {SECTION}",
    ),
]
RIGHT = "Use a freezing tool such as PyInstaller to build an executable [1]."
WRONG_SECTION = "Profile first; then optimise the hot loop [2]."
REFUSAL = "I don't know: the help center articles I can search do not answer that."


def passage(n: int) -> Passage | None:
    return next((p for p in PASSAGES if p.n == n), None)


def on_target(answer: str, sections: tuple[str, ...] = (SECTION,)) -> bool:
    return cr.is_on_target(answer, passage, ("programming.html",), sections)


def test_on_target_needs_the_expected_source_and_section() -> None:
    assert on_target(RIGHT)
    assert not on_target(WRONG_SECTION)  # right file, wrong section
    assert not on_target(
        "Scripts can be made executable with py.exe [3]."
    )  # right heading, wrong file
    assert not on_target(REFUSAL)
    assert not on_target("Use PyInstaller [7].")  # a passage that does not exist
    assert not on_target("Use a freezing tool such as PyInstaller.")  # cites nothing
    # without expected sections (kb_qa) the source alone decides
    assert on_target(WRONG_SECTION, sections=())


def test_headings_compare_case_and_space_insensitively_without_pilcrow() -> None:
    assert cr.in_sections(
        "A > B >  how DO i make an executable  from a python script? ¶", [SECTION]
    )
    assert cr.in_sections("A > How do I make an executable from a Python script?¶", [SECTION])
    assert not cr.in_sections("How do I make an executable", [SECTION])  # a prefix is not it
    assert not cr.in_sections("", [SECTION])


def test_half_the_characters_must_cite_the_right_passage() -> None:
    long_right = "Use a freezing tool such as PyInstaller or Nuitka to build an executable [1]."
    short_wrong = "Profile it [2]."
    assert (
        cr.on_target_share(f"{long_right} {short_wrong}", passage, ["programming.html"], [SECTION])
        > 0.5
    )
    assert on_target(f"{long_right} {short_wrong}")
    assert not on_target(f"Use PyInstaller [1]. {WRONG_SECTION} Then measure it again, twice [2].")
    # uncited text counts against the share
    assert not on_target(f"{RIGHT} " + "This closing remark cites nothing at all and is long. " * 3)


def test_a_citation_covers_the_list_or_code_block_before_it() -> None:
    steps = "Steps:\n- install PyInstaller\n- run pyinstaller app.py\n- open dist/ [1]."
    assert cr.cited_spans(steps)[0][1] == [1]
    assert cr.on_target_share(steps, passage, ["programming.html"], [SECTION]) == pytest.approx(1.0)
    code = "Run this:\n```\npyinstaller --onefile app.py\nargs = sys.argv[1]\n```\n[1]"
    assert cr.cited_spans(code)[0][1] == [1]  # argv[1] in the code block is no citation
    assert on_target(code)
    assert on_target("Freeze it with `pyinstaller` and read `sys.argv[2]` [1].")


def test_correct_is_on_target_and_similar_or_covering() -> None:
    assert cr.is_correct(True, similarity=0.5, coverage=0.0)
    assert cr.is_correct(True, similarity=0.1, coverage=cr.COVERAGE_MIN)
    assert not cr.is_correct(True, similarity=0.49, coverage=0.49)
    assert not cr.is_correct(False, similarity=1.0, coverage=1.0)
    assert cr.SIMILARITY_MIN == 0.5 and cr.COVERAGE_MIN == 0.5 and cr.CONFIDENT == 0.5


def similar(value: float) -> Any:
    return lambda a, b: [[value] * len(b) for _ in a]


def turn(answer: str, confidence: float | None) -> Turn:
    return Turn(
        answer=answer,
        passages=PASSAGES,
        sources=[],
        guardrails={},
        usage={},
        timings={},
        latency_ms=5.0,
        confidence=confidence,
    )


ANSWERABLE = EvalItem(
    id="pf1",
    dataset="python_faq",
    turns=("how do I turn my script into an exe?",),
    reference_answer="Use a freezing tool such as PyInstaller.",
    expected_sources=("programming.html",),
    expected_sections=(SECTION,),
    answerable=True,
    split="dev",
)
UNANSWERABLE = EvalItem(id="pf2", dataset="python_faq", turns=("C64?",), answerable=False)


def scored(item: EvalItem, answer: str, confidence: float | None, sim: float = 0.8) -> Any:
    return score_item(item, [turn(answer, confidence)], similar(sim))


def test_item_metrics_correct_answered_and_confident_wrong() -> None:
    good = scored(ANSWERABLE, RIGHT, 0.9)
    assert good["metrics"]["answer.correct_rate"] == 1.0
    assert good["metrics"]["answer.on_target_rate"] == 1.0
    assert good["metrics"]["answer.answered_rate"] == 1.0
    assert good["metrics"]["answer.confident_wrong"] == 0.0
    assert good["correct"] is True and good["confidence"] == 0.9 and good["split"] == "dev"
    assert good["cited_sections"] == [f"programming.html: {PASSAGES[0].heading_path}"]
    off = scored(ANSWERABLE, WRONG_SECTION, 0.8)
    assert off["metrics"]["answer.correct_rate"] == 0.0
    assert off["metrics"]["answer.confident_wrong"] == 1.0
    assert scored(ANSWERABLE, WRONG_SECTION, 0.3)["metrics"]["answer.confident_wrong"] == 0.0
    other = replace(ANSWERABLE, reference_answer="Nuitka translates Python to C; needs gcc 11.")
    unlike = scored(other, RIGHT, 0.9, sim=0.2)  # right place, says something else
    assert unlike["metrics"]["answer.on_target_rate"] == 1.0
    assert unlike["metrics"]["answer.correct_rate"] == 0.0
    # "I don't know" to an answerable question, said with confidence, is confident-wrong
    sure_refusal = scored(ANSWERABLE, REFUSAL, 0.7)
    assert sure_refusal["metrics"]["answer.answered_rate"] == 0.0
    assert sure_refusal["metrics"]["answer.confident_wrong"] == 1.0
    assert "answer.confident_wrong" not in scored(ANSWERABLE, RIGHT, None)["metrics"]


def test_unanswerable_items_are_correct_when_refused() -> None:
    refused = scored(UNANSWERABLE, REFUSAL, 0.0)
    assert refused["correct"] is True
    assert refused["metrics"]["answer.confident_wrong"] == 0.0
    assert "answer.correct_rate" not in refused["metrics"]
    assert "answer.groundedness" not in refused["metrics"]  # a refusal claims nothing
    guessed = scored(UNANSWERABLE, RIGHT, 0.7)
    assert guessed["correct"] is False
    assert guessed["metrics"]["answer.confident_wrong"] == 1.0
    assert scored(UNANSWERABLE, RIGHT, 0.4)["metrics"]["answer.confident_wrong"] == 0.0


def test_confidence_bins() -> None:
    assert [bin_of(c) for c in (0.0, 0.05, 0.1, 0.3, 0.7, 0.9, 0.9999, 1.0)] == [
        0,
        0,
        1,
        3,
        7,
        9,
        9,
        9,
    ]
    rows = reliability([(0.05, False), (0.05, True), (0.95, True), (0.95, True), (1.0, False)])
    assert [r["count"] for r in rows] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 3]
    assert rows[0] == {
        "low": 0.0,
        "high": 0.1,
        "count": 2,
        "mean_confidence": 0.05,
        "share_correct": 0.5,
    }
    assert rows[9]["mean_confidence"] == pytest.approx(0.9667, abs=1e-4)
    assert rows[9]["share_correct"] == pytest.approx(0.6667, abs=1e-4)
    assert rows[1]["mean_confidence"] is None and rows[1]["share_correct"] is None
    # ECE = (2 * |0.05 - 0.5| + 3 * |0.9667 - 0.6667|) / 5 = 0.36
    assert ece(rows) == pytest.approx(0.36, abs=1e-3)


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    records = [{"confidence": 0.8, "correct": i < 4} for i in range(5)]
    records += [{"confidence": None, "correct": True}, {"confidence": 0.9, "correct": None}]
    cal = calibration(records)
    assert cal is not None and cal["n"] == 5 and cal["ece"] == pytest.approx(0.0)
    assert calibration([{"confidence": None, "correct": True}]) is None
    assert ece(reliability([])) is None


def test_refusals_are_left_out_of_calibration() -> None:
    from evals.calibration import pairs

    refused = scored(UNANSWERABLE, REFUSAL, 0.0)
    dont_know = scored(ANSWERABLE, REFUSAL, 0.0)
    guessed = scored(UNANSWERABLE, RIGHT, 0.7)
    answered = scored(ANSWERABLE, RIGHT, 0.9)
    assert pairs([refused, dont_know, guessed, answered]) == [(0.7, False), (0.9, True)]
