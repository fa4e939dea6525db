"""Answer units: whole code blocks with their lead-in, lists, navigation dropped, code masked."""

from __future__ import annotations

from loaders.code_text import mask_code
from loaders.unit_vectors import embedding_text, embedding_texts
from loaders.units import candidates

SECTION = """Library FAQ > How do I install a package?
To install the package, run the command:
```bash
pip install foo
```
Then check that it imports. You can also pin versions as follows:
- use `foo==1.2`, the exact release.
- use `foo>=1.2` for a minimum release.
"""


def test_a_lead_in_and_its_code_block_are_one_unit() -> None:
    units = candidates(SECTION)
    code = next(u for u in units if u.kind == "code")
    assert code.text == "To install the package, run the command:\n```bash\npip install foo\n```"
    assert code.context == "Library FAQ > How do I install a package?"
    # The lead-in never stands alone: it would cite "the command" without the command.
    assert not any(u.text == "To install the package, run the command:" for u in units)


def test_a_pointing_sentence_without_its_thing_is_no_unit() -> None:
    cut = "Setup\nRun the installer first and wait for it. Then execute the command\n"
    assert [u.text for u in candidates(cut)] == ["Run the installer first and wait for it."]
    assert candidates("Setup\nThe settings are as follows:") == []


def test_a_bulleted_run_is_a_list_unit_with_its_lead_in_and_items_stay_units() -> None:
    units = candidates(SECTION)
    listed = next(u for u in units if u.kind == "list")
    assert listed.text.splitlines() == [
        "You can also pin versions as follows:",
        "- use `foo==1.2`, the exact release.",
        "- use `foo>=1.2` for a minimum release.",
    ]
    assert "use `foo>=1.2` for a minimum release." in [u.text for u in units]
    assert "Then check that it imports." in [u.text for u in units]


def test_a_table_of_contents_list_is_never_a_unit() -> None:
    toc = "FAQ\nContents\n- 9.1. How can I do a?\n- 9.2. How can I do b?\n- How can I do c?\n" \
          "- How can I do d?\nThe rest of the page explains each topic in turn."  # fmt: skip
    texts = [u.text for u in candidates(toc)]
    assert texts == ["The rest of the page explains each topic in turn."]


def test_sentences_do_not_split_inside_inline_code() -> None:
    units = candidates("Paths\nCall `os.path.join(a. B)` to join parts. It returns a string path.")
    assert [u.text for u in units] == [
        "Call `os.path.join(a. B)` to join parts.",
        "It returns a string path.",
    ]


def test_a_code_block_cut_by_the_chunk_end_is_closed() -> None:
    units = candidates("Example\nUse this code:\n```\nimport sys\nprint(sys.argv)")
    assert units[0].kind == "code" and units[0].text.endswith("print(sys.argv)\n```")


def test_units_are_embedded_with_their_heading_and_without_fences() -> None:
    code = next(u for u in candidates(SECTION) if u.kind == "code")
    assert embedding_text(code) == (
        "How do I install a package?: To install the package, run the command:\npip install foo"
    )
    assert len(embedding_texts(SECTION)) == len(candidates(SECTION))


def test_mask_code_hides_brackets_inside_code_only() -> None:
    text = "Use `a[0]` here [1].\n```\nx = b[2]\n```\n[3]"
    masked = mask_code(text)
    assert len(masked) == len(text)
    assert "[1]" in masked and "[3]" in masked and "[0]" not in masked and "[2]" not in masked


def test_emphasis_is_dropped_but_not_inside_inline_code() -> None:
    units = candidates("Args\nCollect them with `*args` and `**kwargs` in the **parameter** list.")
    assert [u.text for u in units] == [
        "Collect them with `*args` and `**kwargs` in the parameter list."
    ]
