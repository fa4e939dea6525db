"""Block packing for the ``structure`` strategy: code blocks whole, lead-ins with what follows.

A section is cut into blocks (paragraphs, lists, fenced code blocks). Blocks are packed into
chunks up to the budget; a block that fits is never cut, a lead-in ("... run the command:")
moves to the chunk of the block it introduces, and a code block over the budget is cut at line
boundaries (the caller re-opens and closes its fences in every piece).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from loaders.code_text import Fence, dress, find_fences

Span = tuple[int, int]
Measure = Callable[[int, int], int]  # word pieces of text[start:end] with its fence lines
LongSplit = Callable[[int, int, int], list[Span]]  # (start, end, budget) -> spans of the text
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_NEWLINE = re.compile("\n")


@dataclass(frozen=True)
class Block:
    """A paragraph, list or fenced code block: ``text[start:end]`` without outer whitespace."""

    start: int
    end: int
    code: Fence | None = None
    lead: bool = False  # ends with ":", so it introduces the block after it


def measure_for(text: str, fences: list[Fence], count: Callable[[str], int]) -> Measure:
    """Tokens of a span as a chunk body: its text plus the fence lines that balance it."""

    def measure(start: int, end: int) -> int:
        head, tail = dress(fences, start, end)
        return count(head + text[start:end] + tail)

    return measure


def text_blocks(text: str, fences: list[Fence] | None = None) -> list[Block]:
    """The blocks of ``text`` in order: blank lines separate paragraphs, fences are blocks."""
    found = find_fences(text) if fences is None else fences
    blocks: list[Block] = []
    pos = 0
    for fence in found:
        blocks += _paragraphs(text, pos, fence.open_start)
        blocks.append(Block(fence.open_start, fence.close_end, code=fence))
        pos = fence.close_end
    return blocks + _paragraphs(text, pos, len(text))


def _paragraphs(text: str, start: int, end: int) -> list[Block]:
    cuts = [start, *(m.end() for m in _BLANK_LINE.finditer(text, start, end)), end]
    blocks: list[Block] = []
    for a, b in itertools.pairwise(cuts):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            blocks.append(Block(a, b, lead=text[a:b].endswith(":")))
    return blocks


def structure_spans(
    text: str, size: int, overlap: int, measure: Measure, split_long: LongSplit
) -> list[Span]:
    """Pack the blocks of ``text`` into spans of at most ``size`` word pieces."""
    segs: list[Block] = []
    for block in text_blocks(text):
        if measure(block.start, block.end) <= size:
            segs.append(block)
            continue
        lead = segs[-1] if segs and segs[-1].lead else None
        if lead is not None and measure(lead.start, lead.end) > size // 4:
            lead = None  # a long "lead-in" is a paragraph of its own
        if lead is not None:
            segs.pop()
        segs += _cut_block(text, block, lead, size, measure, split_long)
    return _pack(segs, size, overlap, measure)


def _cut_block(
    text: str, block: Block, lead: Block | None, size: int, measure: Measure, split: LongSplit
) -> list[Block]:
    """Pieces of a block over the budget; the first one starts with the lead-in, if any."""
    first = lead.start if lead is not None else block.start
    if block.code is not None:
        pieces = _code_pieces(text, block, first, size, measure)
    else:
        reserve = measure(lead.start, lead.end) + 1 if lead is not None else 0
        pieces = split(block.start, block.end, size - reserve)
        if pieces:
            pieces[0] = (first, pieces[0][1])
    out = [Block(a, b) for a, b in pieces]
    if out and block.code is None and block.lead:
        out[-1] = Block(out[-1].start, out[-1].end, lead=True)
    return out


def _code_pieces(text: str, block: Block, first: int, size: int, measure: Measure) -> list[Span]:
    """A code block cut at line ends, each piece as long as its fence lines allow."""
    ends = [m.start() for m in _NEWLINE.finditer(text, block.start, block.end)] + [block.end]
    pieces: list[Span] = []
    start, end = first, ends[0]
    for line_end in ends[1:]:
        if measure(start, line_end) <= size:
            end = line_end
            continue
        pieces.append((start, end))
        start, end = end + 1, line_end
    pieces.append((start, end))
    return pieces


def _pack(segs: list[Block], size: int, overlap: int, measure: Measure) -> list[Span]:
    """Greedy packing of consecutive blocks; overlap repeats whole trailing blocks."""
    spans: list[Span] = []
    i = 0
    while i < len(segs):
        j = i
        while j + 1 < len(segs) and measure(segs[i].start, segs[j + 1].end) <= size:
            j += 1
        nxt = j + 1
        if (
            nxt < len(segs)
            and j > i
            and segs[j].lead
            and measure(segs[j].start, segs[nxt].end) <= size
        ):
            j -= 1  # the lead-in goes with the block it introduces
        end = segs[j].end
        spans.append((segs[i].start, end))
        k = j + 1
        if k >= len(segs):
            break
        while (
            k - 1 > i
            and measure(segs[k - 1].start, end) <= overlap
            and measure(segs[k - 1].start, segs[j + 1].end) <= size
        ):
            k -= 1
        while k <= j and segs[k].code is not None:
            k += 1  # overlap repeats prose, never a code block cut off from its lead-in
        i = k
    return spans
