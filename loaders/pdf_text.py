"""PDF page text with code and bullets visible: monospace lines fenced, bullet glyphs as "- ".

pypdf reports the font of every text run it extracts; lines set entirely in a monospace font
become a fenced block, monospace runs inside other lines become inline code. Whenever the runs
do not add up to pypdf's own text, or anything in this path fails, the page falls back to the
plain extraction: code formatting is a bonus, the text itself must never suffer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from loaders.code_text import MONOSPACE_FONT, fenced, inline_code, normalize_code
from loaders.code_text import normalize_keeping_code as normalize

_log = logging.getLogger(__name__)
# Bullet glyphs, including the Symbol-font private-use bullets Word writes into PDFs.
_BULLET = re.compile(r"^[ \t]*(?:[•◦▪▫●○■□‣⁃∙\uf0b7\uf0a7\uf0d8]|[-–*][ \t])[ \t]*(?=\S)")

MONOSPACE_PAGE_SHARE = 0.8  # of a page's lines: then monospace is its body font, not code
MIN_PAGE_LINES = 8
Line = list[tuple[str, bool]]  # (text, set in a monospace font) pieces of one line


def page_text(page: Any) -> str:
    """The page's text with fenced code and "- " bullets; plain pypdf text as the fallback.

    Raises:
        Exception: whatever pypdf raises when even the plain extraction fails.
    """
    runs: list[tuple[str, bool]] = []

    def visit(text: str, _cm: Any, _tm: Any, font: Any, _size: Any) -> None:
        runs.append((text, _is_monospace(font)))

    try:
        raw = page.extract_text(visitor_text=visit) or ""
        if "".join(text for text, _ in runs) == raw:
            return normalize(render(_lines(runs)))
    except Exception as exc:  # the font path is optional; the plain text decides
        _log.info("PDF font runs unusable (%s); using plain text", exc)
        raw = page.extract_text() or ""
    return normalize(_bullets(raw))


def _is_monospace(font: Any) -> bool:
    try:
        name = str(font.get("/BaseFont", "")) if font is not None else ""
    except Exception:  # a broken font dictionary: treat the run as ordinary text
        return False
    return bool(MONOSPACE_FONT.search(name))


def _lines(runs: list[tuple[str, bool]]) -> list[Line]:
    lines: list[Line] = [[]]
    for text, mono in runs:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            line = lines[-1]
            if line and (line[-1][1] == mono or not part.strip()):
                line[-1] = (line[-1][0] + part, line[-1][1])  # one piece per font run
            elif part:
                line.append((part, mono))
    return lines


def render(lines: list[Line]) -> str:
    """Consecutive all-monospace lines as one fenced block; other lines with inline code.

    Code stands out from the body font; a page set almost wholly in a monospace font (a text
    file printed to PDF, a typewritten form) has no body font to stand out from, so it stays
    prose.
    """
    if _mostly_monospace(lines):
        return _bullets("\n".join("".join(part for part, _ in line) for line in lines))
    out: list[str] = []
    code: list[str] = []
    for line in lines:
        text = "".join(part for part, _ in line)
        inked = [mono for part, mono in line if part.strip()]
        if inked and all(inked):
            code.append(text)
            continue
        if code and not text.strip():
            code.append(text)  # a blank line inside a code block, unless the block ends here
            continue
        _flush(code, out)
        out.append(_bullets(_inline(line)))
    _flush(code, out)
    return "\n".join(out)


def _mostly_monospace(lines: list[Line]) -> bool:
    inked = [[mono for part, mono in line if part.strip()] for line in lines]
    inked = [line for line in inked if line]
    mono = sum(1 for line in inked if all(line))
    return len(inked) >= MIN_PAGE_LINES and mono >= MONOSPACE_PAGE_SHARE * len(inked)


def _flush(code: list[str], out: list[str]) -> None:
    trailing = 0
    while code and not code[-1].strip():
        code.pop()
        trailing += 1
    if code:
        out.append(fenced(normalize_code("\n".join(code))))
    out.extend([""] * trailing)
    code.clear()


def _inline(line: Line) -> str:
    pieces: list[str] = []
    for part, mono in line:
        if mono and part.strip():
            core = part.strip()
            start = part.index(core)
            pieces.append(part[:start] + inline_code(core) + part[start + len(core) :])
        else:
            pieces.append(part)
    return "".join(pieces)


def _bullets(text: str) -> str:
    return "\n".join(_BULLET.sub("- ", line) for line in text.split("\n"))
