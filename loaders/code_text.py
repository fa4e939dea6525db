"""Code in chunk text: Markdown fences and inline backticks, shared by parsers and splitters.

Every format renders code the same way, so the answerer can quote a command whole: a block is
a fence line (```` ``` ```` or ```` ```python ````), the lines verbatim, a closing fence; inline
code is wrapped in backticks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loaders.sniff import normalize_text

FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
# Font names of fixed-width faces (Courier New, Consolas, DejaVu Sans Mono, Source Code Pro...).
MONOSPACE_FONT = re.compile(r"courier|consol|menlo|monaco|mono|code|inconsolata|typewriter", re.I)
_LANGUAGE_CLASS = re.compile(r"^(?:language|lang|highlight|brush)-([A-Za-z0-9_+#.-]{1,20})$")
_NO_LANGUAGE = frozenset({"default", "none", "text", "plain", "plaintext", "nohighlight", "txt"})
_KEEP = "\ue004"  # private-use: holds a blank code line while the text is normalised
_ALIASES = {"python3": "python", "py3": "python", "py": "python"}


def language_from_classes(classes: list[str]) -> str:
    """``python`` from ``highlight-python3`` / ``language-python``; "" when not obvious."""
    for name in classes:
        found = _LANGUAGE_CLASS.match(name)
        if found:
            lang = found.group(1).lower()
            return "" if lang in _NO_LANGUAGE else _ALIASES.get(lang, lang)
    return ""


def normalize_code(code: str) -> str:
    """Cleaned like all text (NFC, no control characters, no trailing spaces), but blank lines
    and indentation are kept: in code they are part of the content."""
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = [normalize_text(line) if line.strip() else "" for line in lines]
    return "\n".join(cleaned).strip("\n")


def normalize_keeping_code(text: str) -> str:
    """``normalize_text`` for text with fenced blocks: blank lines inside a block survive."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fences = find_fences(text)
    if not fences:
        return normalize_text(text)
    lines, pos, i = [], 0, 0
    for line in text.split("\n"):
        while i < len(fences) and fences[i].close_start < pos:
            i += 1  # fences come in text order: a moving pointer keeps this linear
        inside = i < len(fences) and fences[i].open_end < pos < fences[i].close_start
        lines.append(_KEEP if inside and not line.strip() else line)
        pos += len(line) + 1
    return normalize_text("\n".join(lines)).replace(_KEEP, "")


def fenced(code: str, language: str = "") -> str:
    """A fenced block; the fence is longer than any backtick run that starts a code line."""
    runs = [len(m.group(1)) for m in re.finditer(r"(?m)^ {0,3}(`{3,})", code)]
    fence = "`" * max(3, *(n + 1 for n in runs)) if runs else "```"
    return f"{fence}{language}\n{code}\n{fence}"


def inline_code(text: str) -> str:
    """``text`` in backticks, with a longer delimiter when it contains backticks itself."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{tick}{pad}{text}{pad}{tick}"


@dataclass(frozen=True)
class Fence:
    """A fenced block in a text: its opening line ``[open_start, open_end)`` and closing line
    ``[close_start, close_end)`` (both ``len(text)`` when the fence is never closed)."""

    open_start: int
    open_end: int
    close_start: int
    close_end: int
    opener: str  # the opening line as written
    closer: str

    def head(self, start: int) -> str:
        """The opening line a chunk starting at ``start`` needs to re-open this block."""
        return self.opener.strip() + "\n" if self.open_start < start <= self.close_start else ""

    def tail(self, end: int) -> str:
        """The closing line a chunk ending at ``end`` needs to close this block.

        A chunk cut inside the opening line needs one too if what it keeps ("```" of
        "```python") still reads as a fence line.
        """
        cut_opener = self.open_start < end < self.open_end
        if self.open_end <= end < self.close_end or (
            cut_opener and FENCE_LINE.match(self.opener[: end - self.open_start])
        ):
            return "\n" + self.closer
        return ""


def find_fences(text: str) -> list[Fence]:
    """Every fenced block of ``text`` with exact character positions."""
    fences: list[Fence] = []
    pos = 0
    open_at: tuple[int, int, str, str] | None = None
    for line in text.split("\n"):
        end = pos + len(line)
        found = FENCE_LINE.match(line)
        if found and open_at is None:
            open_at = (pos, end, line, found.group(1))
        elif found and open_at is not None:
            marker, fence = found.group(1), open_at[3]
            closes = marker[0] == fence[0] and len(marker) >= len(fence)
            if closes and not found.group(2).strip():
                fences.append(Fence(open_at[0], open_at[1], pos, end, open_at[2], line.strip()))
                open_at = None
        pos = end + 1
    if open_at is not None:
        fences.append(Fence(open_at[0], open_at[1], len(text), len(text), open_at[2], open_at[3]))
    return fences


def dress(fences: list[Fence], start: int, end: int) -> tuple[str, str]:
    """Fence lines to add before and after ``text[start:end]`` so its fences balance."""
    head = next((f.head(start) for f in fences if f.head(start)), "")
    tail = next((f.tail(end) for f in reversed(fences) if f.tail(end)), "")
    return head, tail


_CODE_SPAN = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]+`", re.S)


def mask_code(text: str) -> str:
    """``text`` with code blocks and inline code blanked out, same length: ``a_tuple[0]`` in
    quoted code is no citation ``[0]``."""
    return _CODE_SPAN.sub(lambda m: " " * len(m.group()), text)
