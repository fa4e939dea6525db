"""Splitters measured with the real all-MiniLM-L6-v2 tokenizer on real help-centre text."""

from __future__ import annotations

import itertools
import re

import pytest
from langchain_core.documents import Document

from loaders.errors import InvalidInput, SupportbotError
from loaders.splitters import CHUNKING_STRATEGIES, split_documents
from loaders.tokens import TokenCounter, load_tokenizer

ARTICLE = """\
Your invoice is generated automatically on the first business day of every month. It lists \
each seat, add-on and usage-based charge (for example API calls above your plan's quota of \
250,000 requests) together with VAT where applicable. Invoices are issued in the currency of \
your billing country: EUR for Deutschland, Österreich and France, GBP for the United Kingdom, \
and USD everywhere else.

To download an invoice, open Settings → Billing → Invoices and click the PDF icon next to the \
month you need. Accountants often ask for a CSV export instead; choose "Export all (CSV)" and \
we'll e-mail a link to billing-exports@example.com within about ten minutes. The link expires \
after 72 hours for security reasons.

Why was I charged twice? Usually it isn't a double charge at all! A pre-authorisation hold of \
€1.00 appears when you update a card, and your bank releases it within 3–5 working days. If you \
really see two identical settled payments, contact us with both transaction IDs (they look like \
ch_3NqL9d2eZvKYlo2C1xq8w7Rz) and we will refund the duplicate immediately.

Refunds follow our fair-use policy: annual plans cancelled within 30 days are refunded in full; \
after that we refund the unused months pro rata, minus any discounts that were conditional on an \
annual commitment. Monthly plans are not refunded, but you keep access until the end of the \
period you paid for. Refunds go back to the original payment method; re-routing them to another \
card or to a bank account is not possible because of anti-money-laundering regulations.

Changing plans mid-cycle is prorated to the second. Upgrades take effect immediately and the \
difference is charged at once, whereas downgrades apply from the next renewal so you never lose \
features you have already paid for. Enterprise customers with purchase orders should ask their \
account manager; self-service changes are disabled on invoiced contracts to keep procurement \
records consistent.

Troubleshooting checklist: make sure pop-ups are allowed for app.example.com, clear the cache, \
try a private window, and check https://status.example.com/incidents?component=billing for \
ongoing incidents. Still stuck? Write to support@example.com and include your workspace ID, the \
browser version and a screenshot; our team answers within four business hours, Monday to Friday.
"""

LONG_SENTENCE = " ".join(
    f"step{n} requires reconfiguration of the authentication middleware" for n in range(60)
)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter.from_model_dir()


def sections() -> list[Document]:
    def doc(text: str, path: str, **extra: object) -> Document:
        return Document(
            page_content=text, metadata={"source": "billing.md", "heading_path": path, **extra}
        )

    return [
        doc(ARTICLE, "Billing > Invoices", page_number=3),
        doc(LONG_SENTENCE, ""),
        doc("Yes.", "FAQ > Can I cancel?"),
    ]


def body_of(chunk: Document) -> str:
    path = chunk.metadata["heading_path"]
    text = chunk.page_content
    if chunk.metadata["chunking_strategy"] == "structure" and path:
        return text.split("\n", 1)[1]
    return text


@pytest.mark.parametrize("strategy", CHUNKING_STRATEGIES)
@pytest.mark.parametrize(("size", "overlap"), [(32, 8), (100, 30), (254, 0)])
def test_every_chunk_fits_in_real_tokens(
    counter: TokenCounter, strategy: str, size: int, overlap: int
) -> None:
    chunks = split_documents(
        sections(), strategy=strategy, chunk_size=size, chunk_overlap=overlap, counter=counter
    )
    assert chunks
    for chunk in chunks:
        assert counter(chunk.page_content) <= size
        assert chunk.metadata["token_count"] == counter(chunk.page_content)
    assert [c.metadata["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert {c.metadata["chunking_strategy"] for c in chunks} == {strategy}


@pytest.mark.parametrize("strategy", CHUNKING_STRATEGIES)
@pytest.mark.parametrize("overlap", [0, 12])
def test_no_text_lost_and_positions_exact(
    counter: TokenCounter, strategy: str, overlap: int
) -> None:
    docs = sections()[:2]
    chunks = split_documents(
        docs, strategy=strategy, chunk_size=48, chunk_overlap=overlap, counter=counter
    )
    for index, section in enumerate(docs):
        text = section.page_content
        covered = [False] * len(text)
        mine = [c for c in chunks if c.metadata["source"] == "billing.md"]
        mine = [c for c in mine if c.metadata["heading_path"] == section.metadata["heading_path"]]
        assert mine, f"section {index} produced no chunks"
        for chunk in mine:
            start, end = chunk.metadata["start_position"], chunk.metadata["end_position"]
            assert text[start:end] == body_of(chunk)
            covered[start:end] = [True] * (end - start)
        lost = "".join(ch for ch, hit in zip(text, covered, strict=True) if not hit)
        assert not lost.strip(), f"lost text: {lost.strip()[:80]!r}"


def test_structure_prefixes_heading_path_and_never_merges_sections(counter: TokenCounter) -> None:
    docs = [
        Document(
            page_content="Refunds take five working days.", metadata={"heading_path": "B > R"}
        ),
        Document(page_content="Invoices are sent monthly.", metadata={"heading_path": "B > I"}),
    ]
    chunks = split_documents(
        docs, strategy="structure", chunk_size=200, chunk_overlap=0, counter=counter
    )
    assert [c.page_content for c in chunks] == [
        "B > R\nRefunds take five working days.",
        "B > I\nInvoices are sent monthly.",
    ]
    assert chunks[1].metadata["heading_path"] == "B > I"


def test_structure_keeps_short_answer_thanks_to_prefix(counter: TokenCounter) -> None:
    chunks = split_documents(
        sections()[2:], strategy="structure", chunk_size=64, chunk_overlap=0, counter=counter
    )
    assert [c.page_content for c in chunks] == ["FAQ > Can I cancel?\nYes."]
    fixed = split_documents(
        sections()[2:], strategy="fixed", chunk_size=64, chunk_overlap=0, counter=counter
    )
    assert fixed == []  # 2 tokens < min_tokens and nothing in the section to merge with


def test_structure_long_section_every_chunk_has_prefix(counter: TokenCounter) -> None:
    chunks = split_documents(
        sections()[:1], strategy="structure", chunk_size=64, chunk_overlap=10, counter=counter
    )
    assert len(chunks) > 3
    assert all(c.page_content.startswith("Billing > Invoices\n") for c in chunks)
    assert all(c.metadata["page_number"] == 3 for c in chunks)


def test_structure_shortens_a_huge_heading_path(counter: TokenCounter) -> None:
    path = " > ".join(f"Chapter {n} about interoperability" for n in range(20))
    doc = Document(page_content=ARTICLE, metadata={"heading_path": path})
    chunks = split_documents(
        [doc], strategy="structure", chunk_size=40, chunk_overlap=0, counter=counter
    )
    assert chunks and all(counter(c.page_content) <= 40 for c in chunks)
    assert chunks[0].page_content.startswith("Chapter 19 about interoperability\n")


def test_fixed_windows_overlap_by_tokens(counter: TokenCounter) -> None:
    chunks = split_documents(
        sections()[:1], strategy="fixed", chunk_size=50, chunk_overlap=10, counter=counter
    )
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.metadata["start_position"] < prev.metadata["end_position"]
        shared = ARTICLE[nxt.metadata["start_position"] : prev.metadata["end_position"]]
        assert 8 <= counter(shared) <= 11


def test_semantic_chunks_end_on_sentence_boundaries(counter: TokenCounter) -> None:
    chunks = split_documents(
        sections()[:1], strategy="semantic", chunk_size=80, chunk_overlap=20, counter=counter
    )
    assert len(chunks) > 3
    for chunk in chunks:
        assert re.search(r"[.!?:]$", chunk.page_content), chunk.page_content[-40:]


def test_semantic_cuts_an_overlong_sentence_by_tokens(counter: TokenCounter) -> None:
    chunks = split_documents(
        sections()[1:2], strategy="semantic", chunk_size=64, chunk_overlap=0, counter=counter
    )
    assert len(chunks) >= counter(LONG_SENTENCE) // 64
    assert all(c.metadata["token_count"] <= 64 for c in chunks)


@pytest.mark.parametrize(
    ("size", "overlap", "code"),
    [
        (31, 0, "CHUNK_SIZE_OUT_OF_RANGE"),
        (255, 0, "CHUNK_SIZE_OUT_OF_RANGE"),
        (100, -1, "CHUNK_OVERLAP_OUT_OF_RANGE"),
        (100, 51, "CHUNK_OVERLAP_OUT_OF_RANGE"),
    ],
)
def test_out_of_range_sizes_refused(
    counter: TokenCounter, size: int, overlap: int, code: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        split_documents(
            sections(), strategy="fixed", chunk_size=size, chunk_overlap=overlap, counter=counter
        )
    assert err.value.code == code


def test_300_token_window_refused_with_model_limit(counter: TokenCounter) -> None:
    with pytest.raises(InvalidInput) as err:
        split_documents(
            sections(),
            strategy="structure",
            chunk_size=300,
            chunk_overlap=0,
            counter=counter,
            max_tokens=counter.max_tokens,
        )
    assert err.value.code == "CHUNK_SIZE_OUT_OF_RANGE"
    assert "256" in err.value.message and "254" in err.value.message
    assert "truncated" in err.value.message


def test_unknown_strategy_refused(counter: TokenCounter) -> None:
    with pytest.raises(InvalidInput) as err:
        split_documents(
            sections(), strategy="magic", chunk_size=100, chunk_overlap=0, counter=counter
        )
    assert err.value.code == "UNKNOWN_CHUNKING_STRATEGY"


def test_token_counter_counts_word_pieces_without_specials(counter: TokenCounter) -> None:
    assert counter("hello world") == 2
    assert counter.max_tokens == 254
    text = "Reconfiguration works."
    offsets = counter.encode_offsets(text)
    assert len(offsets) == counter(text)
    assert text[offsets[0][0] : offsets[-1][1]] == text
    assert load_tokenizer() is load_tokenizer()


def test_missing_tokenizer_dir_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(SupportbotError) as err:
        load_tokenizer(str(tmp_path))
    assert err.value.code == "TOKENIZER_NOT_FOUND"


# --- code blocks, lead-ins and navigation (issue 9) ---------------------------------------

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)
CODE = "\n".join(f"    step_{n} = configure(option_{n}, retries={n})" for n in range(24))
HOWTO = (
    "The agent reads its settings at start-up and keeps them until it restarts, so any change "
    "to the configuration file needs a restart before it takes effect on the running service.\n\n"
    "To apply the new configuration, run:\n\n```bash\nsudo systemctl restart agent\n"
    "agent status --verbose\n```\n\n"
    "The status command prints the loaded settings; compare them with the file you edited."
)


def chunk_text(section: Document, chunk: Document) -> str:
    """What a chunk must read: heading prefix, re-opened fence, its exact span, closing fence."""
    text = section.page_content
    start, end = chunk.metadata["start_position"], chunk.metadata["end_position"]
    before = list(FENCE.finditer(text[:start]))
    head = text[before[-1].start() :].split("\n", 1)[0] + "\n" if len(before) % 2 else ""
    tail = "\n```" if len(FENCE.findall(text[:end])) % 2 else ""
    path = chunk.metadata["heading_path"]
    prefix = path + "\n" if chunk.metadata["chunking_strategy"] == "structure" and path else ""
    return prefix + head + text[start:end] + tail


def test_structure_keeps_a_fitting_code_block_whole_with_its_lead_in(
    counter: TokenCounter,
) -> None:
    doc = Document(page_content=HOWTO, metadata={"heading_path": "Agent > Restart"})
    chunks = split_documents(
        [doc], strategy="structure", chunk_size=40, chunk_overlap=0, counter=counter
    )
    assert len(chunks) == 3
    assert chunks[1].page_content == (
        "Agent > Restart\nTo apply the new configuration, run:\n\n"
        "```bash\nsudo systemctl restart agent\nagent status --verbose\n```"
    )
    for chunk in chunks:
        assert chunk.page_content == chunk_text(doc, chunk)


def test_structure_cuts_a_long_code_block_at_lines_and_reopens_fences(
    counter: TokenCounter,
) -> None:
    text = f"Add these lines to the file:\n\n```python\n{CODE}\n```\n\nSave the file."
    doc = Document(page_content=text, metadata={"heading_path": "Setup"})
    chunks = split_documents(
        [doc], strategy="structure", chunk_size=80, chunk_overlap=10, counter=counter
    )
    assert len(chunks) >= 4
    assert chunks[0].page_content.startswith("Setup\nAdd these lines to the file:\n\n```python\n")
    code_lines = set(CODE.split("\n"))
    seen: set[str] = set()
    for chunk in chunks:
        body = chunk.page_content.split("\n", 1)[1]
        assert len(FENCE.findall(body)) % 2 == 0, body
        assert counter(chunk.page_content) <= 80
        assert chunk.page_content == chunk_text(doc, chunk)
        lines = body.split("\n")
        if any(line in code_lines for line in lines):
            assert lines[0] in ("```python", "Add these lines to the file:")
            assert lines[-1] == "```" or lines[-1] == "Save the file."
        seen |= {line for line in lines if line in code_lines}  # whole lines, never cut
    assert seen == code_lines


@pytest.mark.parametrize("strategy", CHUNKING_STRATEGIES)
@pytest.mark.parametrize("size", [32, 64, 200])
def test_every_strategy_balances_fences_and_fits(
    counter: TokenCounter, strategy: str, size: int
) -> None:
    text = f"{HOWTO}\n\nThe full example:\n\n```python\n{CODE}\n```\n\n{ARTICLE}"
    doc = Document(page_content=text, metadata={"heading_path": "Agent"})
    chunks = split_documents(
        [doc], strategy=strategy, chunk_size=size, chunk_overlap=size // 4, counter=counter
    )
    for chunk in chunks:
        assert len(FENCE.findall(chunk.page_content)) % 2 == 0, chunk.page_content
        assert counter(chunk.page_content) <= size
        assert chunk.metadata["token_count"] == counter(chunk.page_content)
        start, end = chunk.metadata["start_position"], chunk.metadata["end_position"]
        assert text[start:end] in chunk.page_content


def test_semantic_keeps_code_block_and_lead_in_together(counter: TokenCounter) -> None:
    doc = Document(page_content=HOWTO, metadata={"heading_path": ""})
    chunks = split_documents(
        [doc], strategy="semantic", chunk_size=40, chunk_overlap=0, counter=counter
    )
    assert any(
        c.page_content.startswith("To apply the new configuration, run:\n\n```bash\n")
        and c.page_content.endswith("agent status --verbose\n```")
        for c in chunks
    )


def test_structure_keeps_a_lead_in_with_the_list_it_introduces(counter: TokenCounter) -> None:
    steps = "\n".join(f"{n}. Open panel {n} and confirm the change." for n in range(1, 5))
    text = f"{ARTICLE.split(chr(10))[0]}\n\nTo reset the workspace:\n\n{steps}"
    doc = Document(page_content=text, metadata={"heading_path": "Reset"})
    chunks = split_documents(
        [doc], strategy="structure", chunk_size=100, chunk_overlap=0, counter=counter
    )
    assert len(chunks) == 2
    assert chunks[-1].page_content == f"Reset\nTo reset the workspace:\n\n{steps}"


def navigation_of(text: str, **meta: object) -> list[bool]:
    doc = Document(page_content=text, metadata={"heading_path": "Help", **meta})
    counter = TokenCounter.from_model_dir()
    chunks = split_documents(
        [doc], strategy="structure", chunk_size=200, chunk_overlap=0, counter=counter
    )
    assert all("link_spans" not in c.metadata for c in chunks)
    return [c.metadata["navigation"] for c in chunks]


def test_navigation_marks_a_sphinx_like_contents_list() -> None:
    from loaders.parsers import load_document

    page = b"""<h1>Library FAQ</h1><div class="contents topic"><p class="topic-title">Contents</p>
    <ul><li><p><a href="#g">General Library Questions</a></p><ul>
    <li><p><a href="#f">How do I find a module or application to perform task X?</a></p></li>
    <li><p><a href="#m">Where is the math.py source file?</a></p></li></ul></li>
    <li><p><a href="#t">Threads</a></p><ul><li><p><a href="#p">How do I program using
    threads?</a></p></li></ul></li></ul></div>
    <h2>General Library Questions</h2><p>Check <a href="/lib">the Library Reference</a> to see
    if there is a relevant standard library module before you search anywhere else.</p>"""
    sections = load_document(page, "faq.html").sections
    counter = TokenCounter.from_model_dir()
    chunks = split_documents(
        sections, strategy="structure", chunk_size=200, chunk_overlap=0, counter=counter
    )
    assert [(c.metadata["heading_path"], c.metadata["navigation"]) for c in chunks] == [
        ("Library FAQ", True),
        ("Library FAQ > General Library Questions", False),
    ]


def test_navigation_marks_markdown_link_lists_and_text_tables_of_contents() -> None:
    links = "- [Installing](install.md)\n- [Upgrading](upgrade.md)\n- [Removing](remove.md)"
    assert navigation_of(f"Related articles\n\n{links}") == [True]
    dotted = "Introduction ........ 3\nInstalling the agent ....... 5\nTroubleshooting ..... 9"
    assert navigation_of(dotted) == [True]
    numbered = (
        "9. Updating\n9.1. How can I keep the agent up to date?\n"
        "9.1.1. Automatic updates\n9.2. How do I hold back a version?"
    )
    assert navigation_of(numbered) == [True]


def test_navigation_leaves_answers_and_procedures_unmarked() -> None:
    answer = (
        "Invoices are generated on the first business day of every month. You can download "
        "them from [the billing page](/billing) as PDF files."
    )
    assert navigation_of(answer) == [False]
    procedure = (
        "1. Open Settings and choose Security.\n2. Click Reset password.\n"
        "3. Follow the link in the email."
    )
    assert navigation_of(procedure) == [False]
    assert navigation_of(answer, link_spans=[[0, 8], [40, 60]]) == [False]
