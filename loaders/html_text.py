"""HTML to section texts: page chrome dropped, code fenced, lists, tables and links kept visible.

Only generic signals decide what is chrome: ``<nav>``, ARIA ``navigation``/``contentinfo``
landmarks, ``aria-hidden``, heading permalinks, and everything outside a single ``main``
landmark. DOCX reuses this path through mammoth's HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, ProcessingInstruction, Tag

from loaders.code_text import fenced, inline_code, language_from_classes, normalize_code
from loaders.sniff import normalize_text

HEADING_SEPARATOR = " > "
_DROP = (
    "script", "style", "noscript", "template", "iframe", "svg", "head", "title", "meta", "link",
    "base", "object", "embed", "canvas", "math",
)  # fmt: skip
_BLOCKS = (
    "p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "li", "ul",
    "ol", "dl", "dt", "dd", "tr", "table", "blockquote", "pre", "figure", "figcaption", "form",
    "hr", "address", "details", "summary",
)  # fmt: skip
_INLINE_CODE = ("code", "kbd", "samp", "tt")
_PERMALINKS = frozenset({"¶", "#", "§"})
_SECTIONING = ("article", "aside", "main", "nav", "section")
_ITEMS = ("li", "dd", "dt", "td", "th")
# Private-use characters cannot occur in cleaned text: they mark headings, code blocks and
# link text in the flattened page until sections are cut.
_MARK, _CODE, _LINK_OPEN, _LINK_CLOSE = "\ue000", "\ue001", "\ue002", "\ue003"
_PRIVATE = re.compile("[\ue000-\ue004]")
_HEADING = re.compile(f"{_MARK}([1-6]){_MARK}(.*?){_MARK}")
_CODE_SLOT = re.compile(f"{_CODE}(\\d+){_CODE}")


@dataclass
class HtmlSection:
    """One heading section: its path, its text, and where link text sits in that text."""

    heading_path: str
    text: str
    link_spans: list[list[int]] = field(default_factory=list)


def html_sections(markup: str) -> tuple[str, list[HtmlSection]]:
    """The page title (``<title>`` or first ``<h1>``) and its sections in document order."""
    soup = BeautifulSoup(markup, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    _strip(soup)
    root = _main_landmark(soup) or soup
    codes: list[str] = []
    text = normalize_text(_marked_text(root, codes))
    text = "\n".join(line.strip() for line in text.split("\n"))
    if not title:
        first_h1 = re.search(f"{_MARK}1{_MARK}(.*?){_MARK}", text)
        title = first_h1.group(1) if first_h1 else ""
    sections: list[HtmlSection] = []
    stack: list[tuple[int, str]] = []
    start = 0
    for match in _HEADING.finditer(text):
        sections.append(_section(text[start : match.start()], stack, codes))
        stack = push_heading(stack, int(match.group(1)), match.group(2))
        start = match.end()
    sections.append(_section(text[start:], stack, codes))
    return title, sections


def _section(raw: str, stack: list[tuple[int, str]], codes: list[str]) -> HtmlSection:
    body = _CODE_SLOT.sub(lambda m: codes[int(m.group(1))], normalize_text(raw))
    text, spans = _take_links(body)
    return HtmlSection(heading_path(stack), text, spans)


def push_heading(stack: list[tuple[int, str]], level: int, label: str) -> list[tuple[int, str]]:
    """The heading stack after a heading of ``level``: deeper and equal levels are closed."""
    kept = [(lvl, text) for lvl, text in stack if lvl < level]
    return [*kept, (level, label.strip())] if label.strip() else kept


def heading_path(stack: list[tuple[int, str]]) -> str:
    return HEADING_SEPARATOR.join(label for _, label in stack)


def _strip(soup: BeautifulSoup) -> None:
    """Remove what is never content: scripts, head, comments, and navigation chrome."""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for node in soup.find_all(
        string=lambda s: isinstance(s, Comment | Declaration | Doctype | ProcessingInstruction)
    ):
        node.extract()
    for tag in soup.find_all(_is_chrome):
        if not tag.decomposed:
            tag.decompose()


def _is_chrome(tag: Tag) -> bool:
    role = str(tag.get("role") or "").lower()
    if tag.name == "nav" or role in ("navigation", "contentinfo"):
        return True
    if str(tag.get("aria-hidden") or "").lower() == "true":
        return True
    if tag.name == "footer" and tag.find_parent(_SECTIONING) is None:
        return True  # a footer outside any sectioning element is the page's contentinfo
    return tag.name == "a" and tag.get_text(strip=True) in _PERMALINKS


def _main_landmark(soup: BeautifulSoup) -> Tag | None:
    """The one ``main`` landmark, if the page has exactly one: all else is page chrome."""
    found = soup.find_all(lambda t: t.name == "main" or str(t.get("role") or "") == "main")
    ids = {id(t) for t in found}
    outer = [t for t in found if not any(id(p) in ids for p in t.parents)]
    if len(outer) == 1 and outer[0].get_text(strip=True):
        return outer[0]
    return None


def _marked_text(root: Tag, codes: list[str]) -> str:
    """Text with HTML whitespace rules, block breaks, and markers for headings, code, links."""
    for node in root.find_all(string=True):
        cleaned = _PRIVATE.sub("", str(node))
        node.replace_with(cleaned if node.find_parent("pre") else re.sub(r"\s+", " ", cleaned))
    for pre in root.find_all("pre"):
        if isinstance(pre, Tag) and pre.find_parent("pre") is None:
            _slot_code(pre, codes)
    for br in root.find_all("br"):
        br.replace_with("\n")
    for heading in root.find_all(re.compile(r"^h[1-6]$")):
        label = heading.get_text(" ", strip=True)
        heading.replace_with(f"\n{_MARK}{heading.name[1]}{_MARK}{label}{_MARK}\n")
    for code in root.find_all(_INLINE_CODE):
        if isinstance(code, Tag) and code.find_parent(_INLINE_CODE) is None:
            content = code.get_text().strip()
            code.replace_with(inline_code(content) if content else "")
    for link in root.find_all("a", href=True):
        link.insert(0, _LINK_OPEN)
        link.append(_LINK_CLOSE)
    _mark_blocks(root)
    text = root.get_text()
    text = re.sub(f"{_LINK_OPEN}(\\s+)", f"\\1{_LINK_OPEN}", text)
    text = re.sub(f"(\\s+){_LINK_CLOSE}", f"{_LINK_CLOSE}\\1", text)
    text = text.replace(_LINK_OPEN + _LINK_CLOSE, "")
    return re.sub(r"[ \t]{2,}", " ", text)  # spaces of adjacent text nodes, as browsers do


def _slot_code(pre: Tag, codes: list[str]) -> None:
    """Replace a ``<pre>`` by a slot for its fenced code (kept verbatim, restored last)."""
    classes: list[str] = []
    for tag in [pre, *pre.find_all("code"), *list(pre.parents)[:3]]:
        if isinstance(tag, Tag):
            classes += list(tag.get("class") or [])
    code = normalize_code(pre.get_text())
    if not code.strip():
        pre.decompose()
        return
    codes.append(fenced(code, language_from_classes(classes)))
    pre.replace_with(f"\n\n{_CODE}{len(codes) - 1}{_CODE}\n\n")


def _mark_blocks(root: Tag) -> None:
    for block in root.find_all(_BLOCKS):
        if not isinstance(block, Tag):
            continue
        if block.name == "li":  # an ordered list keeps its numbers: steps are read in order
            _item_start(block).insert(0, _list_marker(block))
        holder = block.parent.name if isinstance(block.parent, Tag) else ""
        if block.name in ("p", "div") and holder in _ITEMS:
            # Paragraphs inside an item or cell keep it on one line: "1. text", "a | b".
            if block.find_previous_sibling(True) is not None:
                block.insert_before(" " if holder in ("td", "th") else "\n")
            continue
        if block.name not in ("li", "tr", "dt", "dd"):  # list rows: no blank line between
            block.insert_before("\n")
        block.insert_after("\n")
    for row in root.find_all("tr"):
        if isinstance(row, Tag) and _is_header_row(row):
            # A Markdown separator marks the header, so a reader of the text (the extractive
            # answerer, an LLM) can name every cell of the rows below by its column.
            cells = len(row.find_all(["td", "th"], recursive=False))
            row.insert_after("\n" + " | ".join(["---"] * cells))
    for cell in root.find_all(["td", "th"]):
        if cell.find_next_sibling(["td", "th"]):
            cell.insert_after(" | ")


def _item_start(item: Tag) -> Tag:
    """Where a list item's marker goes: inside a leading ``<p>`` so "1." stays on its line."""
    first = next((c for c in item.children if not (isinstance(c, str) and not c.strip())), None)
    return first if isinstance(first, Tag) and first.name in ("p", "div") else item


def _list_marker(item: Tag) -> str:
    """``"3. "`` for the third item of an ``<ol>`` (``start`` respected), else ``"- "``."""
    parent = item.parent
    if not isinstance(parent, Tag) or parent.name != "ol":
        return "- "
    start = str(parent.get("start") or "1")
    siblings = item.find_previous_siblings("li")
    return f"{(int(start) if start.isdigit() else 1) + len(siblings)}. "


def _is_header_row(row: Tag) -> bool:
    """Only ``th`` cells, at least two, in the first row of its table."""
    cells = row.find_all(["td", "th"], recursive=False)
    table = row.find_parent("table")
    first = table.find("tr") if table is not None else None
    return len(cells) >= 2 and all(c.name == "th" for c in cells) and first is row


def _take_links(text: str) -> tuple[str, list[list[int]]]:
    """The text without link markers, and the ``[start, end)`` of each link's text in it."""
    out: list[str] = []
    spans: list[list[int]] = []
    length, opened = 0, -1
    for piece in re.split(f"([{_LINK_OPEN}{_LINK_CLOSE}])", text):
        if piece == _LINK_OPEN:
            opened = length
        elif piece == _LINK_CLOSE:
            if 0 <= opened < length:
                spans.append([opened, length])
            opened = -1
        else:
            out.append(piece)
            length += len(piece)
    return "".join(out), spans
