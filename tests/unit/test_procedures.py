"""How-to questions are answered with the numbered procedure, fact questions with a sentence."""

from __future__ import annotations

import re
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from chains.extractive import DONT_KNOW, ExtractiveChatModel, Passage, passages_message
from loaders.parsers import load_document
from loaders.units import ELLIPSIS, candidates

KB = Path(__file__).resolve().parents[2] / "loaders" / "sample_kb"
CITATION = re.compile(r" \[(\d+)\]")

EXPORT = Passage(
    n=1,
    title="Exporting projects",
    text="Exporting projects > How to export a project\n"
    "Owners can export any project on every plan.\n"
    "1. Open the project and click **Project menu > Export**.\n"
    "2. Pick CSV or JSON as the file format.\n"
    "3. Click Start. We email you a download link when the file is ready.\n"
    "The download link stays valid for 5 days.",
)
FAQ = Passage(
    n=2,
    title="Exporting projects",
    text="Exporting projects > FAQ\nCan support export my project for me?\n"
    "No. Support staff cannot export a project on your behalf.",
)
BOARD = Passage(
    n=3,
    title="Boards",
    text="Boards > Turning on the board view\n"
    "1. Open the project settings and choose Views.\n"
    "2. Switch the board view on and click Save.\n\n"
    "Boards > Turning off the board view\n"
    "Go to the project settings, choose Views and switch the board view off.",
)


def ask(question: str, passages: list[Passage], **kwargs: object) -> str:
    system = passages_message("Answer.", passages)
    system.additional_kwargs.update(kwargs)
    out = ExtractiveChatModel().invoke([system, HumanMessage(question)])
    return str(out.content)


def test_a_numbered_list_is_one_candidate_with_its_numbers_and_heading() -> None:
    found = candidates(EXPORT["text"])
    procedures = [c for c in found if c.steps]
    assert len(procedures) == 1
    proc = procedures[0]
    assert proc.steps == 3 and proc.context == "Exporting projects > How to export a project"
    assert proc.text.splitlines() == [
        "1. Open the project and click Project menu > Export.",
        "2. Pick CSV or JSON as the file format.",
        "3. Click Start. We email you a download link when the file is ready.",
    ]
    # Each step stays a candidate of its own, after the procedure, for detail questions.
    texts = [c.text for c in found]
    assert texts.index(proc.text) < texts.index("Pick CSV or JSON as the file format.")
    # A bulleted list is a list of facts, not a procedure.
    bullets = "Limits\n- One export per day is allowed.\n- Exports expire after a week."
    assert not any(c.steps for c in candidates(bullets))


def test_lists_that_restart_are_two_procedures_and_a_long_one_is_cut() -> None:
    two = "Setup\n1. Open the admin page now.\n2. Click the Create button.\n" \
          "1. Open the member list now.\n2. Click the Invite button."  # fmt: skip
    assert [c.text[:4] for c in candidates(two) if c.steps] == ["1. O", "1. O"]

    steps = "\n".join(f"{i}. Click the button number {i} " + "and wait a while. " * 8
                      for i in range(1, 10))  # fmt: skip
    proc = next(c for c in candidates("Long setup\n" + steps) if c.steps)
    assert proc.text.endswith(f"\n{ELLIPSIS}") and 2 <= proc.steps < 9
    assert len(proc.text) <= 1000


def test_a_step_cut_off_by_the_chunk_end_is_left_out_of_the_procedure() -> None:
    text = (
        "Setup\n1. Open the admin page now.\n2. Click the Create button.\n3. Enter the name of the"
    )
    proc = next(c for c in candidates(text) if c.steps)
    assert proc.steps == 2 and "Enter the name" not in proc.text


def test_how_do_i_is_answered_with_the_whole_procedure_and_one_citation() -> None:
    # The FAQ shares the phrase "export my project" with the question; the steps do not.
    answer = ask("How do I export my project?", [EXPORT, FAQ])
    lines = answer.splitlines()
    assert lines[0] == "Owners can export any project on every plan [1]."  # reading order
    assert lines[1:] == [
        "1. Open the project and click Project menu > Export.",
        "2. Pick CSV or JSON as the file format.",
        "3. Click Start. We email you a download link when the file is ready [1].",
    ]
    # A step already quoted in the procedure is not repeated on its own, given room to.
    messages = [passages_message("Answer.", [EXPORT, FAQ]), HumanMessage("How do I export?")]
    roomy = str(ExtractiveChatModel(max_sentences=6).invoke(messages).content)
    assert roomy.count("Project menu > Export") == 1 and "Support staff" in roomy
    for question in ("What are the steps to export a project?", "how to export a project"):
        assert "2. Pick CSV or JSON" in ask(question, [EXPORT, FAQ])


def test_a_fact_question_gets_the_sentence_not_the_list() -> None:
    answer = ask("Which file formats can a project export use?", [EXPORT, FAQ])
    assert answer == "Pick CSV or JSON as the file format [1]."
    assert "\n" not in ask("How long is the export download link valid?", [EXPORT])


def test_the_opposite_action_is_not_an_answer() -> None:
    on = ask("How do I turn on the board view?", [BOARD])
    assert on.startswith("1. Open the project settings and choose Views.\n2. Switch")
    off = ask("How do I turn off the board view?", [BOARD])
    # The instruction sentence under "Turning off" counts its heading; the "on" list is out.
    assert off == "Go to the project settings, choose Views and switch the board view off [3]."


def test_the_answer_stays_within_the_callers_output_limit() -> None:
    full = ask("How do I export my project?", [EXPORT, FAQ])
    assert len(full) > 150
    short = ask("How do I export my project?", [EXPORT, FAQ], max_chars=150)
    assert short != DONT_KNOW and len(short) <= 150 and "\n" not in short
    assert ask("How do I export my project?", [EXPORT], max_chars=20) == DONT_KNOW


def test_the_sample_password_article_answers_how_do_i_reset_my_password() -> None:
    text = (KB / "password-reset.txt").read_text()
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    # Chunks as the splitter cuts them: the steps sit in the first, the FAQ in the last.
    passages = [
        Passage(n=1, title="Password", text="\n\n".join(paragraphs[:5])),
        Passage(n=2, title="Password", text="\n\n".join(paragraphs[5:10])),
        Passage(n=3, title="Password", text="\n\n".join(paragraphs[-8:])),
    ]
    answer = ask("How do I reset my password?", passages)
    steps = [line for line in answer.splitlines() if re.match(r"\d\. ", line)]
    assert [s[:2] for s in steps] == ["1.", "2.", "3.", "4."]
    assert 'click "Forgot password?"' in steps[0] and steps[3].endswith("breach lists [1].")
    # Every quoted line is the article's own words.
    for line in answer.splitlines():
        assert CITATION.sub("", line).rstrip(".") in text, line


def test_a_title_ending_in_a_bracket_is_not_quoted() -> None:
    sso = Passage(
        n=1,
        title="SSO",
        text="Setting up single sign-on (SSO)\nSingle sign-on is available on the Business plan.",
    )
    assert ask("Which plan has single sign-on (SSO)?", [sso]) == (
        "Single sign-on is available on the Business plan [1]."
    )


def test_the_generate_node_passes_the_output_limit_to_the_model() -> None:
    message = SystemMessage("x", additional_kwargs={"passages": [EXPORT], "max_chars": 150})
    out = ExtractiveChatModel().invoke([message, HumanMessage("How do I export my project?")])
    assert isinstance(out, AIMessage) and len(str(out.content)) <= 150


def test_html_ordered_lists_keep_their_numbers() -> None:
    html = (
        b"<html><body><h1>Export</h1><ol><li>Open the project.</li><li>Click Export.</li></ol>"
        b'<ol start="3"><li>Download it.</li></ol><ul><li>One per day.</li></ul></body></html>'
    )
    text = load_document(html, "export.html").text
    assert "1. Open the project.\n2. Click Export." in text
    assert "3. Download it." in text and "- One per day." in text
