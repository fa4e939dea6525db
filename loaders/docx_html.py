"""DOCX to HTML with mammoth, so Word files get the HTML path's headings, lists, tables and code.

Word has no "code" element: a paragraph is code when its style name says so (``Code``,
``HTML Preformatted``, ``Source Code``...) or when every run is set in a monospace font; a
monospace run inside ordinary text is inline code. A table's first row is its header when Word
marks it as a repeating header row or when every cell of it is bold (how most authors mark one).
"""

from __future__ import annotations

import io
import re
from typing import Any

import cobble
import mammoth
from mammoth import documents

from loaders.code_text import MONOSPACE_FONT

_CODE_STYLE = re.compile(r"code|source|preformatted|macro|verbatim|listing", re.I)
_CODE_PARAGRAPH = "supportbot code block"
_CODE_RUN = "supportbot inline code"
_STYLE_MAP = f"""
p[style-name='{_CODE_PARAGRAPH}'] => pre:separator('\\n')
r[style-name='{_CODE_RUN}'] => code
"""


def docx_to_html(data: bytes) -> str:
    """The document body as HTML; images are left out (their bytes are never decoded)."""
    result = mammoth.convert_to_html(
        io.BytesIO(data),
        style_map=_STYLE_MAP,
        include_embedded_style_map=False,  # an uploaded file must not restyle our parsing
        external_file_access=False,  # nor make us read files it links to (mammoth >= 1.11)
        ignore_empty_paragraphs=False,  # blank lines inside code blocks are content
        transform_document=_mark_code,
        convert_image=mammoth.images.img_element(lambda image: {"alt": image.alt_text or ""}),
    )
    return str(result.value)


def _mark_code(element: Any) -> Any:
    """Rename code paragraphs and monospace runs to the styles the style map turns into code."""
    if isinstance(element, documents.Paragraph):
        if _is_code_paragraph(element):
            return cobble.copy(element, style_name=_CODE_PARAGRAPH, numbering=None)
        children = [_mark_code(child) for child in element.children]
        return cobble.copy(element, children=children)
    if isinstance(element, documents.Run):
        code = _is_code_run(element)
        return cobble.copy(element, style_name=_CODE_RUN) if code else element
    if isinstance(element, documents.Table):
        rows = [_mark_code(row) for row in element.children]
        if rows and isinstance(rows[0], documents.TableRow) and _all_bold(rows[0]):
            rows[0] = cobble.copy(rows[0], is_header=True)
        return cobble.copy(element, children=rows)
    if isinstance(element, documents.HasChildren):
        return cobble.copy(element, children=[_mark_code(child) for child in element.children])
    return element


def _is_code_paragraph(paragraph: Any) -> bool:
    if _CODE_STYLE.search(paragraph.style_name or ""):
        return True
    runs = [r for r in _runs(paragraph) if _text(r).strip()]
    return bool(runs) and all(_is_code_run(r) for r in runs)


def _is_code_run(run: Any) -> bool:
    return bool(_CODE_STYLE.search(run.style_name or "") or MONOSPACE_FONT.search(run.font or ""))


def _all_bold(row: Any) -> bool:
    runs = [r for r in _runs(row) if _text(r).strip()]
    return bool(runs) and all(r.is_bold for r in runs)


def _runs(element: Any) -> list[Any]:
    if isinstance(element, documents.Run):
        return [element]
    children = getattr(element, "children", None) or []
    return [run for child in children for run in _runs(child)]


def _text(element: Any) -> str:
    if isinstance(element, documents.Text):
        return str(element.value)
    return "".join(_text(child) for child in getattr(element, "children", None) or [])
