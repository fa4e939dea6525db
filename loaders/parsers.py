"""Uploaded bytes to LangChain Documents: one loader per format and ``load_document``.

Sections (PDF pages, HTML/DOCX/Markdown heading sections) are the unit the splitters respect;
each carries ``source``, ``format``, ``title``, ``heading_path``, for PDF ``page_number``, and
for HTML/DOCX ``link_spans`` (where link text sits, so the splitter can mark link lists as
navigation). Code is fenced and inline code backticked in every format (``code_text``).
"""

from __future__ import annotations

import copy
import io
import logging
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, ClassVar

import docx2txt
from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from pypdf import PdfReader

from loaders.code_text import FENCE_LINE, normalize_keeping_code
from loaders.docx_html import docx_to_html
from loaders.errors import DocumentRejected, FileTooLarge
from loaders.html_text import heading_path, html_sections, push_heading
from loaders.pdf_text import page_text
from loaders.sniff import (
    check_zip_bomb,
    decode_text,
    detect_format,
    normalize_text,
    safe_filename,
)

_log = logging.getLogger(__name__)
# RuntimeError covers password-protected members and unsupported compression methods.
_DOCX_ERRORS = (zipfile.BadZipFile, KeyError, ET.ParseError, zlib.error, OSError, EOFError,
                ValueError, RuntimeError)  # fmt: skip
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(---|\.\.\.)[ \t]*(\n|\Z)", re.S)
_NOT_PARAGRAPH = re.compile(r"^ {0,3}([-*+][ \t]|\d+[.)][ \t]|>|#|\||`{3}|~{3})")


@dataclass
class ParsedDocument:
    """A parsed upload: its sections for splitting and its whole cleaned text for MongoDB."""

    format: str
    title: str
    sections: list[Document] = field(default_factory=list)
    text: str = ""
    word_count: int = 0


class _BytesLoader(BaseLoader):
    """Base for loaders built from bytes (uploads never touch the disk)."""

    format: ClassVar[str] = "text"

    def __init__(self, data: bytes, source: str = "document") -> None:
        self.data = data
        self.source = source

    def _doc(
        self, text: str, *, title: str | None, heading_path: str = "", **extra: Any
    ) -> Document:
        meta = {"source": self.source, "format": self.format, "title": title or ""}
        meta.update(heading_path=heading_path, **extra)
        return Document(page_content=text, metadata=meta)

    def lazy_load(self) -> Iterator[Document]:
        raise NotImplementedError


class PdfBytesLoader(_BytesLoader):
    """One Document per PDF page (``page_number`` is 1-based).

    Every encrypted PDF is refused, even one that opens with an empty user password: such files
    carry the author's copy restrictions, decrypting AES needs an extra crypto dependency, and
    one clear rule ("remove the password, then upload") is easier for a support team to follow.
    """

    format = "pdf"

    def lazy_load(self) -> Iterator[Document]:
        reader = self._open()
        title = _pdf_title(reader)
        found = False
        for number in range(1, len(reader.pages) + 1):
            try:
                text = page_text(reader.pages[number - 1])
            except Exception as exc:  # pypdf raises many types on damaged content streams
                raise _corrupt("PDF", f"page {number} cannot be read") from exc
            found = found or bool(text.strip())
            yield self._doc(text, title=title, page_number=number)
        if not found:
            raise DocumentRejected(
                "The PDF has no extractable text (it is probably scanned images). "
                "Run it through OCR or upload the original document.",
                code="NO_TEXT_CONTENT",
            )

    def _open(self) -> PdfReader:
        try:
            reader = PdfReader(io.BytesIO(self.data))
            encrypted = reader.is_encrypted
            pages = 0 if encrypted else len(reader.pages)
        except Exception as exc:  # untrusted input: any parser failure means a broken file
            raise _corrupt("PDF", "it is damaged or truncated") from exc
        if encrypted:
            raise DocumentRejected(
                "The PDF is password-protected or encrypted. Remove the protection (for "
                "example, save or print it as a new PDF without a password) and upload it again.",
                code="ENCRYPTED_PDF",
            )
        if pages == 0:
            raise _corrupt("PDF", "it has no pages")
        return reader


def _pdf_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # broken info dictionaries are common and never fatal
        return None
    cleaned = normalize_text(str(title or "")).strip()
    cleaned = re.sub(r"^Microsoft (Word|PowerPoint) - ", "", cleaned)
    # Generators stamp placeholders ("untitled", "Document1"); the file name says more.
    placeholder = re.fullmatch(r"(untitled.*|document\d*|title)?", cleaned, re.I)
    return None if placeholder else cleaned


def _corrupt(kind: str, why: str) -> DocumentRejected:
    return DocumentRejected(
        f"The {kind} file cannot be read: {why}. Export it again and upload the new file.",
        code="CORRUPT_FILE",
    )


class HtmlBytesLoader(_BytesLoader):
    """One Document per heading section; chrome dropped, code fenced (see ``html_text``)."""

    format = "html"

    def lazy_load(self) -> Iterator[Document]:
        yield from self._sections(decode_text(self.data))

    def _sections(self, markup: str, title: str | None = None) -> Iterator[Document]:
        found, sections = html_sections(markup)
        for section in sections:
            yield self._doc(
                section.text,
                title=title if title is not None else found,
                heading_path=section.heading_path,
                link_spans=section.link_spans,
            )


class DocxBytesLoader(HtmlBytesLoader):
    """DOCX through mammoth's HTML: one Document per heading section, lists, tables and code.

    The zip directory is checked for a zip bomb before anything is decompressed. A file that
    mammoth cannot convert falls back to docx2txt's plain text as one Document.
    """

    format = "docx"

    def lazy_load(self) -> Iterator[Document]:
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                check_zip_bomb(archive)
                title = _docx_title(archive)
        except _DOCX_ERRORS as exc:
            raise _corrupt("DOCX", "its content is damaged") from exc
        try:
            markup = docx_to_html(self.data)
        except Exception as exc:  # untrusted input: mammoth raises many types on odd files
            _log.warning("mammoth cannot convert %s (%s); reading its plain text", self.source, exc)
        else:
            sections = [d for d in self._sections(markup, title or "") if d.page_content.strip()]
            if sections:
                yield from sections
                return
            _log.warning("mammoth found no text in %s; reading its plain text", self.source)
        try:
            text = docx2txt.process(io.BytesIO(self.data))
        except _DOCX_ERRORS as exc:
            raise _corrupt("DOCX", "its content is damaged") from exc
        yield self._doc(normalize_text(text), title=title)


def _docx_title(archive: zipfile.ZipFile) -> str | None:
    try:
        root = ET.fromstring(archive.read("docProps/core.xml"))
    except (KeyError, ET.ParseError):
        return None
    node = root.find("{http://purl.org/dc/elements/1.1/}title")
    cleaned = normalize_text(node.text or "").strip() if node is not None else ""
    return cleaned or None


class MarkdownBytesLoader(_BytesLoader):
    """One Document per ATX/Setext heading section; front matter stripped, code fences kept."""

    format = "markdown"

    def lazy_load(self) -> Iterator[Document]:
        text = normalize_keeping_code(decode_text(self.data))
        title = ""
        front = _FRONT_MATTER.match(text)
        if front:
            found = re.search(r"^title:[ \t]*(.+)$", front.group(1) or "", re.M)
            title = found.group(1).strip().strip("\"'") if found else ""
            text = text[front.end() :]
        sections = list(_markdown_sections(text.split("\n")))
        if not title:
            title = next((label for level, label, _, _ in sections if level == 1), "")
        for _, _, path, body in sections:
            yield self._doc(normalize_keeping_code("\n".join(body)), title=title, heading_path=path)


def _markdown_sections(lines: list[str]) -> Iterator[tuple[int, str, str, list[str]]]:
    """Yield (next heading level, its label, path of the section, section body lines)."""
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    fence = ""
    for line in lines:
        opener = FENCE_LINE.match(line)
        if fence:  # the same rule as ``find_fences``: a closer is as long, with no info string
            closes = opener and opener.group(1).startswith(fence) and not opener.group(2).strip()
            fence = "" if closes else fence
        elif opener:
            fence = opener.group(1)
        else:
            heading = _heading(line, body)
            if heading:
                level, label = heading
                yield level, label, heading_path(stack), body
                stack, body = push_heading(stack, level, label), []
                continue
        body.append(line)
    yield 0, "", heading_path(stack), body


def _heading(line: str, body: list[str]) -> tuple[int, str] | None:
    """ATX heading on ``line``, or Setext underline turning the last body line into one."""
    atx = _ATX.match(line)
    if atx:
        return len(atx.group(1)), (atx.group(2) or "").strip()
    setext = _SETEXT.match(line)
    if setext and body and body[-1].strip() and not _NOT_PARAGRAPH.match(body[-1]):
        label = body.pop().strip()
        return (1 if setext.group(1)[0] == "=" else 2), label
    return None


class TextBytesLoader(_BytesLoader):
    """The whole plain text as one Document."""

    format = "text"

    def lazy_load(self) -> Iterator[Document]:
        yield self._doc(normalize_text(decode_text(self.data)), title=None)


LOADERS: dict[str, type[_BytesLoader]] = {
    "pdf": PdfBytesLoader,
    "docx": DocxBytesLoader,
    "html": HtmlBytesLoader,
    "markdown": MarkdownBytesLoader,
    "text": TextBytesLoader,
}


def load_document(
    data: bytes,
    filename: str,
    *,
    metadata: dict[str, Any] | None = None,
    max_bytes: int | None = None,
) -> ParsedDocument:
    """Sniff, parse and clean an upload into sections plus its whole text.

    The caller's ``metadata`` is merged into every section and may override ``source`` or
    ``title`` but never the positional ``page_number``/``heading_path``.

    Raises:
        InvalidInput, UnsupportedFormat, DocumentRejected, FileTooLarge: with stable codes.
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(
            f"The file is {len(data) / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.1f} MB."
        )
    name = safe_filename(filename)
    fmt = detect_format(data, name)
    extra = metadata or {}
    sections: list[Document] = []
    for doc in LOADERS[fmt](data, source=name).lazy_load():
        if not doc.page_content.strip():
            continue
        positional = {
            k: doc.metadata[k]
            for k in ("page_number", "heading_path", "link_spans")
            if k in doc.metadata
        }
        doc.metadata.update(copy.deepcopy(extra), **positional)
        sections.append(doc)
    if not sections:
        raise DocumentRejected(f"'{name}' contains no readable text.", code="NO_TEXT_CONTENT")
    text = "\n\n".join(_with_heading(doc) for doc in sections)
    title = str(sections[0].metadata.get("title") or PurePosixPath(name).stem)
    return ParsedDocument(fmt, title, sections, text, len(text.split()))


def _with_heading(doc: Document) -> str:
    path = doc.metadata.get("heading_path") or ""
    return f"{path}\n{doc.page_content}" if path else doc.page_content
