"""Is a chunk navigation (a table of contents, a link list) rather than content?

Such chunks match many questions by their words but answer none, so they are marked
``navigation: true`` at indexing for the answerer to skip. Only the shape of the text decides,
never its vocabulary: how much of it is link text, and how many of its lines are numbered
section entries ("9.1. How can I ...?") or entries with dotted leaders ("Intro ..... 3").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from loaders.code_text import find_fences

LINK_SHARE = 0.6  # of the non-space characters, in at least MIN_LINKS links
MIN_LINKS = 2
TOC_SHARE = 0.5  # of the non-blank lines, at least MIN_TOC_LINES of them
MIN_TOC_LINES = 2
_MARKDOWN_LINK = re.compile(r"!?\[[^\]\n]+\](?:\([^)\n]*\)|\[[^\]\n]*\])|<https?://[^>\s]+>")
_NUMBERED_ENTRY = re.compile(r"(?:[-*+][ \t]+)?\d+(?:\.\d+)+\.?[ \t]+\S")  # "9.1. How ..."
_LEADER = re.compile(r"\S[ \t]*(?:\.[ \t]?){4,}[ \t]*\d+$|\S[ \t]*…+[ \t]*\d+$")  # "Intro ... 3"


def is_navigation(text: str, start: int, end: int, link_spans: Sequence[Sequence[int]]) -> bool:
    """True when ``text[start:end]`` is mostly link text or mostly table-of-contents lines.

    Args:
        text: the section text.
        start, end: the chunk's span in it.
        link_spans: ``[start, end)`` of link text in ``text`` (HTML and DOCX links, which the
            plain text no longer shows); Markdown links are found in the text itself.
    """
    body = text[start:end]
    if _link_share(body, start, link_spans) >= LINK_SHARE:
        return True
    code = [(f.open_start, f.close_end) for f in find_fences(body)]
    prose = "".join(body[a:b] for a, b in _outside(code, len(body))) if code else body
    lines = [line.strip() for line in prose.split("\n") if line.strip()]  # code lines never count
    entries = sum(1 for line in lines if _NUMBERED_ENTRY.match(line) or _LEADER.search(line))
    return entries >= MIN_TOC_LINES and entries >= TOC_SHARE * len(lines)


def _link_share(body: str, offset: int, link_spans: Sequence[Sequence[int]]) -> float:
    spans = [(max(a - offset, 0), min(b - offset, len(body))) for a, b in link_spans]
    spans = [(a, b) for a, b in spans if a < b]
    spans += [(m.start(), m.end()) for m in _MARKDOWN_LINK.finditer(body)]
    total = _ink(body)
    if len(spans) < MIN_LINKS or not total:
        return 0.0
    covered = [False] * len(body)
    for a, b in spans:
        covered[a:b] = [True] * (b - a)
    inked = sum(1 for ch, hit in zip(body, covered, strict=True) if hit and not ch.isspace())
    return inked / total


def _ink(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def _outside(ranges: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    out, pos = [], 0
    for a, b in sorted(ranges):
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    return [*out, (pos, length)] if pos < length else out
