"""Upload bytes to text: byte-order marks, UTF-8, HTML's ``<meta charset>``, legacy encodings.

Order of trust: a BOM (UTF-8/16/32) is authoritative; then UTF-8, because text in a legacy
encoding is almost never valid UTF-8 by accident; then an HTML page's own declaration; then
charset-normalizer for legacy encodings (cp1252, latin-1, cp1251, Shift-JIS...). A guess is kept
only when it reads as text, so binary garbage ends as ENCODING_ERROR, never as nonsense text.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from loaders.errors import DocumentRejected

BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
# Further than a browser's 1024 bytes: exported help pages often open with long comments.
_PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
# WHATWG: pages labelled latin-1 or ASCII are decoded as windows-1252 by every browser.
_AS_CP1252 = frozenset(
    {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819",
     "ascii", "us-ascii", "ansi_x3.4-1968", "windows-1252", "x-cp1252", "cp1252"}
)  # fmt: skip
# On a tie (charset-normalizer cannot tell look-alike code pages apart), the commoner family
# wins: cp1252 first, then other Windows and ISO code pages, last Mac and DOS ones.
_PREFERRED = "cp1252"
_RARE = re.compile(r"mac.*|cp[4-8]\d\d|hp-roman8|cp1006|cp1125|kz1048|ptcp154|koi8-t")
_TIE_CHAOS = 0.02
_TIE_COHERENCE = 0.05
MAX_CHAOS = 0.2  # charset-normalizer's "mess" ratio above which text is not text
MAX_BAD_SHARE = 0.01  # control, private-use and replacement characters in decoded text
MIN_COHERENCE = 0.01  # short, mostly non-ASCII text must read as some language
# From about 100 bytes on, charset-normalizer's chaos alone refused every random blob tried.
SHORT_BYTES = 128
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"

_seen: ContextVar[list[str] | None] = ContextVar("supportbot_decoded_encodings", default=None)


@dataclass(frozen=True)
class DecodedText:
    """Decoded text and the codec that explained the bytes (``utf-8``, ``utf-16``, ``cp1252``)."""

    text: str
    encoding: str


def decode_text(data: bytes) -> str:
    """Decode an upload's text; the encoding found goes to an active ``recording_encodings``.

    Raises:
        DocumentRejected: ENCODING_ERROR when no encoding explains the bytes.
    """
    decoded = decode_bytes(data)
    seen = _seen.get()
    if seen is not None:
        seen.append(decoded.encoding)
    return decoded.text


@contextmanager
def recording_encodings() -> Iterator[list[str]]:
    """Collect the encodings ``decode_text`` finds in this context (thread- and task-local).

    Parsers return text only; this lets the ingestion pipeline name the encoding in the job
    result without decoding the upload twice.
    """
    seen: list[str] = []
    token = _seen.set(seen)
    try:
        yield seen
    finally:
        _seen.reset(token)


def bom_encoding(data: bytes) -> tuple[str, int]:
    """The encoding named by a byte-order mark (UTF-8 without one) and the mark's length."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return "utf-8", 0


def decode_bytes(data: bytes) -> DecodedText:
    """Decode by BOM, UTF-8, HTML declaration, then detection (see the module docstring)."""
    encoding, skip = bom_encoding(data)
    if skip:
        # The BOM fixes the byte order, so "utf-16" says all a reader needs.
        return DecodedText(_strict(data[skip:], encoding, skip), encoding[:6].rstrip("-"))
    declared = declared_charset(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    else:
        # Pure ASCII reads the same in the declared encoding; non-ASCII valid UTF-8 under a
        # legacy label is a page re-saved as UTF-8 that kept its old <meta>.
        if declared and declared != "utf-8" and text.isascii():
            return DecodedText(text, declared)
        return DecodedText(text, "utf-8")
    if declared and declared != "utf-8":
        try:
            return DecodedText(data.decode(declared), declared)
        except UnicodeDecodeError:
            pass  # a wrong declaration: detect instead
    guess = detect_legacy(data)
    if guess is None:
        raise _undecodable(utf8_error.start)
    return guess


def declared_charset(data: bytes) -> str | None:
    """The codec an HTML ``<meta charset>`` (or ``http-equiv`` content type) names, if usable."""
    found = _META_CHARSET.search(data[:_PRESCAN_BYTES])
    if not found:
        return None
    label = found.group(1).decode("ascii").lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # WHATWG: a page read as ASCII cannot be UTF-16; treat as UTF-8
    return name if _ascii_compatible(name) else None


@lru_cache(maxsize=256)
def _ascii_compatible(name: str) -> bool:
    """A real charset (charset-normalizer's list) that reads ASCII bytes as ASCII."""
    try:
        codec = codecs.lookup(name).name
        return codec in _charsets() and _PRINTABLE.decode(codec) == _PRINTABLE.decode("ascii")
    except (LookupError, UnicodeError):
        return False


@lru_cache(maxsize=1)
def _charsets() -> frozenset[str]:
    from charset_normalizer.constant import IANA_SUPPORTED

    return frozenset(codecs.lookup(n).name for n in IANA_SUPPORTED)


def detect_legacy(data: bytes) -> DecodedText | None:
    """charset-normalizer's reading of non-UTF-8 bytes, or ``None`` when it is not text."""
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(data) if _ascii_compatible(m.encoding)]
    if not matches:
        return None
    top = matches[0]  # charset-normalizer sorts by chaos, then coherence
    tied = [
        (_rank(m), i, m)
        for i, m in enumerate(matches)
        if m.chaos <= top.chaos + _TIE_CHAOS and m.coherence >= top.coherence - _TIE_COHERENCE
    ]
    rank, _, best = min(tied, key=lambda t: t[:2])
    codec = _PREFERRED if rank == 0 else codecs.lookup(best.encoding).name
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    readable = reads_as_text(text, best.chaos, best.coherence, short=len(data) < SHORT_BYTES)
    return DecodedText(text, codec) if readable else None


def _rank(match: Any) -> int:
    """0 for a reading cp1252 gives too, 1 for Windows/ISO/CJK code pages, 2 for Mac and DOS."""
    names = [codecs.lookup(n).name for n in (match.encoding, *match.could_be_from_charset)]
    if _PREFERRED in names:
        return 0
    return 2 if _RARE.fullmatch(names[0]) and names[0] != "cp874" else 1


def reads_as_text(text: str, chaos: float, coherence: float, *, short: bool) -> bool:
    """The sanity rule: little mess, few control/private/replacement characters, and a short
    text that is mostly non-ASCII must be recognisably some language: a few random high bytes
    "decode" cleanly in some multi-byte code page, which is no evidence of text."""
    if not text or chaos > MAX_CHAOS:
        return False
    if len(_BAD_CHARS.findall(text)) > len(text) * MAX_BAD_SHARE:
        return False
    ascii_share = len(text.encode("ascii", "ignore")) / len(text)
    return not short or ascii_share >= 0.5 or coherence >= MIN_COHERENCE


def _strict(data: bytes, encoding: str, skip: int) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        label = encoding.upper()
        raise DocumentRejected(
            f"The file is not valid {label} text (first bad byte at offset {offset}). "
            "Save it as UTF-8 and upload it again.",
            code="ENCODING_ERROR",
            details={"offset": offset, "encoding": label},
        ) from exc


def _undecodable(offset: int) -> DocumentRejected:
    return DocumentRejected(
        f"The file's text encoding could not be recognised: it is not UTF-8 (first bad byte "
        f"at offset {offset}) and does not read as text in another encoding such as "
        "Windows-1252, Latin-1 or UTF-16 with a byte-order mark. It may not be a text file; "
        "if it is, save it as UTF-8 and upload it again.",
        code="ENCODING_ERROR",
        details={"offset": offset, "encoding": "UTF-8", "detected": None},
    )
