"""What an upload really is: safe file names, format sniffing, zip-bomb guard, text cleaning.

The client's file name is untrusted and its extension may lie, so the format comes from the
bytes; the extension only breaks ties between text formats and catches files that lie. Text
decoding lives in ``loaders.text_decoding``; ``decode_text`` is re-exported here for parsers.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath

from loaders.errors import DocumentRejected, InvalidInput, UnsupportedFormat
from loaders.text_decoding import BOMS, bom_encoding, decode_text, recording_encodings

__all__ = [
    "SUPPORTED_FORMATS",
    "check_zip_bomb",
    "decode_text",
    "detect_format",
    "normalize_text",
    "recording_encodings",
    "safe_filename",
]

SUPPORTED_FORMATS: tuple[str, ...] = ("pdf", "docx", "html", "markdown", "text")
_SUPPORTED_TEXT = "PDF, DOCX, HTML, Markdown or plain text"
DOCX_MAX_UNCOMPRESSED = 50 * 1024 * 1024
DOCX_MAX_RATIO = 100
DOCX_MAX_ENTRIES = 5000

_EXTENSIONS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".mkd": "markdown",
    ".txt": "text",
    ".text": "text",
}
_TEXT_FORMATS = frozenset({"html", "markdown", "text"})

# Known binary types we refuse, by magic number at offset 0.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an executable program"),
    (b"MZ", "a Windows executable"),
    (b"\xca\xfe\xba\xbe", "a compiled program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.xls/.ppt)"),
    (b"{\\rtf", "an RTF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"OggS", "an audio/video file"),
    (b"ID3", "an MP3 audio file"),
    (b"%!PS", "a PostScript file"),
    (b"\x00asm", "a WebAssembly binary"),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ZIP_KINDS: tuple[tuple[str, str], ...] = (
    ("word/document.xml", "docx"),
    ("xl/workbook.xml", "an XLSX spreadsheet"),
    ("ppt/presentation.xml", "a PPTX presentation"),
    ("mimetype", "an OpenDocument or EPUB file"),
)
_HTML_START = re.compile(
    r"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html)\b", re.I | re.S
)
_HTML_TAG = re.compile(
    r"<(html|head|body|title|p|div|span|a|ul|ol|li|table|tr|td|h[1-6]|br|section|article|"
    r"nav|header|footer|main|img|meta|link|script|style)\b[^>]*>",
    re.I,
)
_MD_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S|^\S[^\n]*\n {0,3}(=+|-+)[ \t]*$", re.M)
_MD_LIST = re.compile(r"^ {0,3}([-*+]|\d+[.)])[ \t]+\S", re.M)
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.M)
# C0 (but tab and newlines), DEL, C1 (latin-1 misreadings of cp1252), BOM, zero-width space.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u200b]")


def safe_filename(name: str) -> str:
    """Return the plain base name of an upload, refusing traversal and nonsense.

    Relative folders ("docs/guide.md") are reduced to the base name; absolute paths, ``..``
    parts, control characters and names that are empty or longer than 255 chars are refused.
    """
    if not isinstance(name, str) or not name.strip():
        raise _bad_name("The file name is empty.")
    if len(name) > 255:
        raise _bad_name("The file name is longer than 255 characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise _bad_name("The file name contains control characters.")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise _bad_name("The file name must not be an absolute path.")
    parts = re.split(r"[/\\]", name)
    if any(part.strip() == ".." for part in parts):
        raise _bad_name("The file name must not contain '..' path parts.")
    base = unicodedata.normalize("NFC", parts[-1].strip())
    if not base.strip(". "):
        raise _bad_name("The file name has no usable base name.")
    return base


def _bad_name(message: str) -> InvalidInput:
    return InvalidInput(message, code="INVALID_FILENAME")


def detect_format(data: bytes, filename: str) -> str:
    """Return one of ``SUPPORTED_FORMATS`` for ``data``, deciding by content first.

    Raises:
        DocumentRejected: EMPTY_FILE for 0 bytes, CORRUPT_FILE for a broken ``.docx`` zip.
        UnsupportedFormat: UNSUPPORTED_FORMAT for other content, EXTENSION_MISMATCH when the
            extension names a supported format the content is not.
    """
    if not data:
        raise DocumentRejected("The file is empty (0 bytes).", code="EMPTY_FILE")
    ext = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    claimed = _EXTENSIONS.get(ext)
    kind = _binary_kind(data, claimed)
    if kind in SUPPORTED_FORMATS:
        if claimed is not None and claimed != kind:
            raise _mismatch(ext, f"a {kind.upper()} document")
        return kind
    if kind is not None:
        if claimed is not None:
            raise _mismatch(ext, kind)
        raise UnsupportedFormat(
            f"The file looks like {kind}, which is not supported. Upload {_SUPPORTED_TEXT}."
        )
    if claimed in ("pdf", "docx"):
        raise _mismatch(ext, "text")
    return _text_kind(data, claimed)


def _mismatch(ext: str, looks_like: str) -> UnsupportedFormat:
    return UnsupportedFormat(
        f"The file is named '{ext}' but its content looks like {looks_like}. "
        f"Rename it correctly or upload {_SUPPORTED_TEXT}.",
        code="EXTENSION_MISMATCH",
        status=415,
        details={"extension": ext, "detected": looks_like},
    )


def _binary_kind(data: bytes, claimed: str | None) -> str | None:
    """A supported binary format name, a description of an unsupported one, or None for text."""
    if data[:1024].lstrip()[:5] == b"%PDF-":
        return "pdf"
    if data.startswith(_ZIP_MAGIC):
        return _zip_kind(data, claimed)
    if data.startswith(b"RIFF") and data[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return "a RIFF media file"
    if data[4:8] == b"ftyp":
        return "an MP4/MOV video or HEIC image"
    for magic, description in _MAGIC:
        # Short printable magics ("MZ", "ID3") also start ordinary text: demand binary bytes.
        weak = len(magic) <= 3 and magic.isalnum()
        if data.startswith(magic) and (not weak or b"\x00" in data[:1024]):
            return description
    if any(data.startswith(bom) for bom, _ in BOMS):
        return None
    head = data[:8192]
    if head.count(0) and _looks_utf16(head):
        raise DocumentRejected(
            "The file looks like UTF-16 text without a byte-order mark. "
            "Save it as UTF-8 and upload it again.",
            code="ENCODING_ERROR",
        )
    # A stray NUL or BEL in a text file is cleaned later; binary formats are full of them.
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    nuls = head.count(0)
    if controls > len(head) * 0.05 or (nuls > 2 and nuls > len(head) * 0.01):
        return "binary data"
    return None


def _looks_utf16(head: bytes) -> bool:
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) > len(head) * 0.4 and min(even, odd) < len(head) * 0.05


def _zip_kind(data: bytes, claimed: str | None) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        if claimed == "docx":
            raise DocumentRejected(
                "The DOCX file is damaged (its zip structure cannot be read). "
                "Open and save it again in Word, then upload it.",
                code="CORRUPT_FILE",
            ) from exc
        return "a damaged ZIP archive"
    for entry, kind in _ZIP_KINDS:
        if entry in names:
            return kind
    return "a ZIP archive"


def check_zip_bomb(archive: zipfile.ZipFile) -> None:
    """Refuse archives whose directory promises too much data; never decompresses anything.

    Reading is safe afterwards because ``zipfile`` stops each member at its declared size.
    """
    infos = archive.infolist()
    total = sum(info.file_size for info in infos)
    ratios = (
        info.file_size / max(info.compress_size, 1)
        for info in infos
        if info.file_size > 2 * 1024 * 1024
    )
    if (
        len(infos) > DOCX_MAX_ENTRIES
        or total > DOCX_MAX_UNCOMPRESSED
        or max(ratios, default=0) > DOCX_MAX_RATIO
    ):
        raise DocumentRejected(
            f"The DOCX expands to {total // (1024 * 1024)} MB in {len(infos)} parts, beyond the "
            f"{DOCX_MAX_UNCOMPRESSED // (1024 * 1024)} MB limit or an extreme compression ratio; "
            "it looks like a zip bomb and was not opened.",
            code="ZIP_BOMB",
        )


def _text_kind(data: bytes, claimed: str | None) -> str:
    """Pick html, markdown or text for text content; the extension only breaks ties."""
    encoding, skip = bom_encoding(data)
    sample = data[skip:65536].decode(encoding, errors="replace").lstrip("\ufeff")
    if _HTML_START.match(sample):
        return "html"
    tags = {m.group(1).lower() for m in _HTML_TAG.finditer(sample)}
    if claimed == "html" and tags:
        return "html"
    structural = {"html", "body"} & tags or len(tags) >= 3
    if claimed != "markdown" and structural and sample.lstrip().startswith("<"):
        return "html"
    if claimed == "markdown":
        return "markdown"
    headings = len(_MD_HEADING.findall(sample))
    signals = len(_MD_LIST.findall(sample)) >= 2 or bool(_MD_FENCE.search(sample))
    if headings >= 2 or (headings and signals):
        return "markdown"
    return "text"


def normalize_text(text: str) -> str:
    """NFC, no control characters, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n\n").replace("\xa0", " ")
    text = _CONTROL.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
