"""Parsing each supported format from small generated files: text, sections and metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import FileTooLarge
from loaders.parsers import (
    DocxBytesLoader,
    HtmlBytesLoader,
    MarkdownBytesLoader,
    PdfBytesLoader,
    TextBytesLoader,
    load_document,
)
from loaders.pdf_text import page_text
from loaders.sniff import detect_format, safe_filename
from tests.files import (
    docx_without_body,
    make_code_pdf,
    make_docx,
    make_lines_pdf,
    make_pdf,
    make_rich_docx,
)

HTML = b"""<!DOCTYPE html>
<html><head><title>Help Centre</title>
<meta name="description" content="secret meta description">
<style>.secret { color: red }</style>
<script>var secret = "do not index";</script>
</head><body>
<p>Welcome to the help centre.</p>
<!-- a secret comment -->
<h1>Billing</h1>
<h2>Invoices</h2>
<p>You can download invoices from the Billing page.</p>
<ul><li>PDF invoices</li><li>CSV exports</li></ul>
<h2>Refunds</h2>
<p>Refunds take five working days.</p>
<noscript>secret noscript</noscript>
<h1>Account</h1>
<p>Change your email under Profile.</p>
<script>console.log("secret");</script>
</body></html>"""

MARKDOWN = b"""---
title: Front Matter Title
owner: front-matter-value
---
A short preface before any heading.

# Getting started

Install the client:

```bash
# this is a shell comment, not a heading
pip install supportbot
```

## Configuration

Set the environment variables.

### Advanced

Tune the chunk size.
"""


def test_pdf_one_section_per_page_with_page_number_and_title(tmp_path: Path) -> None:
    data = make_pdf(tmp_path, ["First page about invoices", "Second page about refunds"], "Manual")
    parsed = load_document(data, "manual.pdf")
    assert parsed.format == "pdf"
    assert parsed.title == "Manual"
    assert [s.metadata["page_number"] for s in parsed.sections] == [1, 2]
    assert "refunds" in parsed.sections[1].page_content
    assert all(s.metadata["source"] == "manual.pdf" for s in parsed.sections)
    assert parsed.word_count == 8


def test_pdf_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    parsed = load_document(make_pdf(tmp_path, ["Just text"]), "user-guide.pdf")
    assert parsed.title == "user-guide"


def test_docx_text_and_core_title(tmp_path: Path) -> None:
    parsed = load_document(make_docx(tmp_path, "Password Guide"), "guide.docx")
    assert parsed.format == "docx"
    assert parsed.title == "Password Guide"
    assert "Click Reset password and follow the email link." in parsed.text
    assert "Resetting your password" in parsed.text
    assert len(parsed.sections) == 1


def test_html_sections_keyed_by_heading_path() -> None:
    parsed = load_document(HTML, "help.html")
    paths = [s.metadata["heading_path"] for s in parsed.sections]
    assert parsed.format == "html"
    assert parsed.title == "Help Centre"
    assert paths == ["", "Billing > Invoices", "Billing > Refunds", "Account"]
    invoices = parsed.sections[1].page_content
    assert "You can download invoices from the Billing page." in invoices
    assert "- PDF invoices\n- CSV exports" in invoices


def test_html_table_header_row_is_marked_like_markdown() -> None:
    html = (
        b"<h2>Prices</h2><table><thead><tr><th>Plan</th><th>Monthly</th></tr></thead>"
        b"<tbody><tr><td>Team</td><td>$12</td></tr><tr><td>Business</td><td>$24</td></tr>"
        b"</tbody></table><table><tr><td>no</td><td>header</td></tr>"
        b"<tr><th>late</th><th>th row</th></tr></table>"
    )
    text = load_document(html, "p.html").sections[0].page_content
    assert text.startswith("Plan | Monthly\n--- | ---\nTeam | $12\nBusiness | $24")
    assert text.count("---") == 2  # only a first row made of header cells is a header


def test_html_never_outputs_script_style_comments_or_head() -> None:
    parsed = load_document(HTML, "help.html")
    everything = parsed.text + "".join(s.page_content for s in parsed.sections)
    assert "secret" not in everything.lower()
    assert "Refunds take five working days." in everything


def test_html_title_falls_back_to_first_h1() -> None:
    parsed = load_document(b"<html><body><h1>Shipping</h1><p>We ship worldwide.</p>", "s.htm")
    assert parsed.title == "Shipping"
    assert parsed.sections[0].metadata["heading_path"] == "Shipping"


def test_markdown_sections_front_matter_and_fences() -> None:
    parsed = load_document(MARKDOWN, "guide.md")
    paths = [s.metadata["heading_path"] for s in parsed.sections]
    assert parsed.format == "markdown"
    assert parsed.title == "Front Matter Title"
    assert paths == [
        "",
        "Getting started",
        "Getting started > Configuration",
        "Getting started > Configuration > Advanced",
    ]
    assert "front-matter-value" not in parsed.text
    started = parsed.sections[1].page_content
    assert "# this is a shell comment, not a heading" in started
    assert "pip install supportbot" in started


def test_markdown_title_from_first_h1_without_front_matter() -> None:
    parsed = load_document(b"Preface.\n\n# Returns policy\n\nReturn within 30 days.\n", "r.md")
    assert parsed.title == "Returns policy"


def test_text_is_cleaned_and_whole() -> None:
    raw = "Cafe\u0301 opens at 9.  \n\n\n\n\nClosed\x00 on Sundays.\x07\r\nTabs\tstay.\n"
    parsed = load_document(raw.encode("utf-8"), "hours.txt")
    assert parsed.format == "text"
    assert parsed.text == "Café opens at 9.\n\nClosed on Sundays.\nTabs\tstay."
    assert parsed.sections[0].metadata["heading_path"] == ""
    assert parsed.title == "hours"


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        ("\ufeffBOM UTF-8 café".encode(), "a.txt"),
        ("\ufeffUTF-16 café".encode("utf-16"), "b.txt"),
        ("\ufeffUTF-32 café".encode("utf-32"), "c.txt"),
    ],
)
def test_text_decodes_utf8_bom_and_utf16_32_with_bom(encoded: bytes, name: str) -> None:
    parsed = load_document(encoded, name)
    assert parsed.text.endswith("café")
    assert not parsed.text.startswith("\ufeff")


def test_caller_metadata_merged_but_positions_kept(tmp_path: Path) -> None:
    data = make_pdf(tmp_path, ["Page one text"])
    meta = {"document_id": "d1", "tags": ["billing"], "page_number": 99, "title": "Given"}
    parsed = load_document(data, "m.pdf", metadata=meta)
    section = parsed.sections[0]
    assert section.metadata["document_id"] == "d1"
    assert section.metadata["tags"] == ["billing"]
    assert section.metadata["page_number"] == 1
    assert parsed.title == "Given"
    section.metadata["tags"].append("x")
    assert meta["tags"] == ["billing"]


def test_content_decides_between_text_formats() -> None:
    page = b"<!DOCTYPE html><html><body><h1>Hi</h1><p>Body text.</p></body></html>"
    assert detect_format(page, "page.txt") == "html"
    assert detect_format(b"# One\n\ntext\n\n## Two\n\n- a\n- b\n", "notes") == "markdown"
    assert detect_format(b"Plain words, nothing else.\n", "notes") == "text"
    assert detect_format(b"Use <b>bold</b> in markdown.\n", "x.md") == "markdown"
    assert detect_format(b"MZ-400 manual: press the red button.", "m.txt") == "text"
    assert detect_format("<!DOCTYPE html><p>Hi</p>".encode("utf-16"), "page") == "html"


def test_loaders_are_langchain_loaders(tmp_path: Path) -> None:
    from langchain_core.document_loaders import BaseLoader

    for cls in (PdfBytesLoader, DocxBytesLoader, HtmlBytesLoader, MarkdownBytesLoader):
        assert issubclass(cls, BaseLoader)
    docs = TextBytesLoader(b"hello there", source="x.txt").load()
    assert docs[0].page_content == "hello there"
    assert docs[0].metadata["source"] == "x.txt"


def test_safe_filename_keeps_base_name() -> None:
    assert safe_filename("docs/billing guide.md") == "billing guide.md"
    assert safe_filename("Café.pdf") == "Café.pdf"


def test_max_bytes_refused() -> None:
    with pytest.raises(FileTooLarge) as err:
        load_document(b"x" * 2048, "big.txt", max_bytes=1024)
    assert err.value.code == "FILE_TOO_LARGE"


# --- code, structure and navigation chrome (issue 9) -------------------------------------

SPHINX_LIKE = b"""<!DOCTYPE html><html><head><title>Library FAQ</title></head><body>
<nav class="menu"><h3>Table of Contents</h3><ul><li><a href="#a">Side</a></li></ul></nav>
<div class="related" role="navigation"><h3>Navigation</h3><a href="x.html">next</a></div>
<div class="body" role="main">
<section><h1>Library FAQ<a class="headerlink" href="#l">\xc2\xb6</a></h1>
<section><h2>Scripts<a class="headerlink" href="#s">\xc2\xb6</a></h2>
<section><h3>How do I make a script executable?<a class="headerlink" href="#e">#</a></h3>
<p>Run <code class="docutils literal"><span class="pre">chmod</span> <span class="pre">+x</span>
<span class="pre">script.py</span></code> and press <kbd>Enter</kbd>. Put this first:</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span>def main():
    if ready:

        run()
</pre></div></div>
<pre>plain   block</pre>
<span aria-hidden="true">decorative icon</span>
</section></section></section>
</div>
<div class="footer">Site footer text</div>
<footer>Copyright footer</footer>
</body></html>"""


def test_html_code_fenced_verbatim_inline_code_backticked_and_chrome_dropped() -> None:
    parsed = load_document(SPHINX_LIKE, "faq.html")
    assert [s.metadata["heading_path"] for s in parsed.sections] == [
        "Library FAQ > Scripts > How do I make a script executable?"
    ]
    assert parsed.sections[0].page_content == (
        "Run `chmod +x script.py` and press `Enter`. Put this first:\n\n"
        "```python\ndef main():\n    if ready:\n\n        run()\n```\n\n"
        "```\nplain   block\n```"
    )
    everything = parsed.text + "".join(s.page_content for s in parsed.sections)
    for chrome in ("¶", "Side", "Navigation", "next", "decorative", "footer", "Table of"):
        assert chrome not in everything


def test_html_fence_is_longer_than_backtick_lines_in_the_code() -> None:
    page = b"<h2>Fences</h2><pre><code class='language-markdown'>```\nx\n```</code></pre>"
    text = load_document(page, "f.html").sections[0].page_content
    assert text == "````markdown\n```\nx\n```\n````"


def test_html_list_items_with_paragraphs_stay_on_one_line_each() -> None:
    page = b"<ol><li><p>Open the app.</p></li><li><p>Click <b>Save</b>.</p></li></ol>"
    assert load_document(page, "l.html").sections[0].page_content == (
        "1. Open the app.\n2. Click Save."
    )


def test_html_link_text_positions_recorded_for_navigation() -> None:
    page = b'<p>See <a href="/a">the guide</a> or <a href="/b"> the FAQ </a>.</p>'
    section = load_document(page, "n.html").sections[0]
    text = section.page_content
    assert text == "See the guide or the FAQ ."  # one space between text nodes, as browsers do
    assert [text[a:b] for a, b in section.metadata["link_spans"]] == ["the guide", "the FAQ"]


def test_markdown_fences_blank_code_lines_and_inline_code_survive() -> None:
    source = (
        "# Setup\n\nRun `make install`, then:\n\n```python\ndef f():\n\n\n    return 1\n```\n"
        "\n\n\n\nDone.\n"
    )
    section = load_document(source.encode(), "s.md").sections[0]
    assert section.page_content == (
        "Run `make install`, then:\n\n```python\ndef f():\n\n\n    return 1\n```\n\nDone."
    )


def test_docx_headings_lists_table_and_code_through_mammoth(tmp_path: Path) -> None:
    parsed = load_document(make_rich_docx(tmp_path), "agent.docx")
    assert parsed.title == "Installing the agent"
    by_path = {s.metadata["heading_path"]: s.page_content for s in parsed.sections}
    assert by_path == {
        "Installing the agent": "Before you start, check these points:\n\n"
        "- You are an administrator\n- Port 8443 is open",
        "Installing the agent > On Linux": "1. Open a terminal\n2. Run the installer\n\n"
        "Run this command:\n\n"
        "```\ncurl -sSL https://example.com/install.sh | sh\nagent --version\n```\n\n"
        "Then restart it with `systemctl restart agent`.\n\n"
        "```\n    agent status --verbose\n```",
        "Installing the agent > Settings": "Key | Default\n--- | ---\nport | 8443\nlog | info",
    }


def test_docx_that_mammoth_refuses_falls_back_to_docx2txt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="loaders.parsers"):
        parsed = load_document(docx_without_body(), "odd.docx")
    assert [s.page_content for s in parsed.sections] == ["Words without a body."]
    assert len([r for r in caplog.records if "mammoth" in r.getMessage()]) == 1


def test_pdf_monospace_lines_fenced_bullets_and_inline_code(tmp_path: Path) -> None:
    parsed = load_document(make_code_pdf(tmp_path), "code.pdf")
    assert parsed.sections[0].page_content == (
        "To install the client, run:\n"
        "```\npip install supportbot\n    --upgrade\n```\n"
        "- Works on Linux\n- Works on macOS\n"
        "Use `supportbot --help`."
    )


def test_pdf_set_wholly_in_courier_is_prose_not_one_code_block(tmp_path: Path) -> None:
    lines = [[("Courier", f"Line {n} of a letter typed on a typewriter.")] for n in range(9)]
    text = load_document(make_lines_pdf(tmp_path, lines), "letter.pdf").sections[0].page_content
    assert "```" not in text and "`" not in text
    assert text.split("\n")[8] == "Line 8 of a letter typed on a typewriter."


def test_pdf_font_path_failure_falls_back_to_plain_text() -> None:
    class Page:  # pypdf's page, whose font-reporting extraction breaks
        def extract_text(self, visitor_text: object = None) -> str:
            if visitor_text is not None:
                raise KeyError("/Widths")
            return "\u2022 Plain text survives"

    assert page_text(Page()) == "- Plain text survives"


FAQ_PAGE = Path("/usr/share/doc/python3.11/html/faq/library.html")


@pytest.mark.skipif(not FAQ_PAGE.is_file(), reason="Debian's python3.11-doc is not installed")
def test_real_sphinx_faq_page_parses_to_clean_fenced_sections() -> None:
    from loaders.splitters import split_documents
    from loaders.tokens import TokenCounter

    parsed = load_document(FAQ_PAGE.read_bytes(), FAQ_PAGE.name)
    paths = [s.metadata["heading_path"] for s in parsed.sections]
    assert paths[0] == (
        "Library and Extension FAQ > General Library Questions > "
        "How do I find a module or application to perform task X?"
    )
    chunks = split_documents(
        parsed.sections,
        strategy="structure",
        chunk_size=200,
        chunk_overlap=30,
        counter=TokenCounter.from_model_dir(),
    )
    texts = [c.page_content for c in chunks]
    assert any("```python\nimport sys\nprint(sys.builtin_module_names)\n```" in t for t in texts)
    assert any("`chmod +x scriptfile`" in t for t in texts)
    assert not any("¶" in t or "Previous topic" in t or "Copyright" in t for t in texts)
    assert not any(c.metadata["navigation"] for c in chunks)  # its TOC is a <nav>: dropped
