"""Parsed sections to embedding-sized chunks, measured in the embedding model's word pieces.

Every strategy works inside one section at a time and produces character spans of it, so
chunk metadata (page, heading path, offsets) stays exact: a chunk's text is its heading prefix
(``structure``), the fence line re-opening a code block it starts inside, ``section[start:end]``,
and the fence line closing a code block it ends inside. A last check re-counts every chunk and
cuts any that a tokenizer quirk pushed over ``chunk_size``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from loaders.code_text import Fence, dress, find_fences
from loaders.errors import InvalidInput
from loaders.navigation import is_navigation
from loaders.split_blocks import measure_for, structure_spans
from loaders.tokens import TokenCounter

CHUNKING_STRATEGIES: tuple[str, ...] = ("structure", "fixed", "recursive", "semantic")
DEFAULT_CHUNKING_STRATEGY = "structure"
MIN_CHUNK_SIZE = 32
_SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ", ""]
_SENTENCE_END = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)[ \t]+|[ \t]*\n\s*")

Span = tuple[int, int]


class _Counter(Protocol):
    def __call__(self, text: str) -> int: ...
    def encode_offsets(self, text: str) -> list[tuple[int, int]]: ...


SpanFn = Callable[[str, int, int, _Counter, list[Fence]], list[Span]]
ChunkText = Callable[[int, int], str]  # (start, end) -> the chunk's whole text


class _CachedCounter:
    """Memoised counts for one split: strategies, checks and metadata re-count the same text."""

    def __init__(self, counter: _Counter) -> None:
        self._counter = counter
        self._counts: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        count = self._counts.get(text)
        if count is None:
            count = self._counter(text)
            if len(text) <= 8192:  # chunks and their pieces; big spans are counted once anyway
                self._counts[text] = count
        return count

    def encode_offsets(self, text: str) -> list[tuple[int, int]]:
        return self._counter.encode_offsets(text)


def validate_chunking(strategy: str, chunk_size: int, chunk_overlap: int, max_tokens: int) -> None:
    """Refuse unknown strategies and sizes the embedding model would silently truncate."""
    if strategy not in CHUNKING_STRATEGIES:
        raise InvalidInput(
            f"Unknown chunking strategy '{strategy}'. "
            f"Use one of: {', '.join(CHUNKING_STRATEGIES)}.",
            code="UNKNOWN_CHUNKING_STRATEGY",
        )
    if not MIN_CHUNK_SIZE <= chunk_size <= max_tokens:
        raise InvalidInput(
            f"chunk_size must be between {MIN_CHUNK_SIZE} and {max_tokens} tokens (got "
            f"{chunk_size}). The embedding model reads at most {max_tokens + 2} word pieces "
            f"({max_tokens} of text plus 2 special tokens); longer chunks would be silently "
            "truncated and their end never searchable.",
            code="CHUNK_SIZE_OUT_OF_RANGE",
            details={"min": MIN_CHUNK_SIZE, "max": max_tokens, "got": chunk_size},
        )
    if not 0 <= chunk_overlap <= chunk_size // 2:
        raise InvalidInput(
            f"chunk_overlap must be between 0 and {chunk_size // 2} tokens (half of chunk_size "
            f"{chunk_size}); got {chunk_overlap}.",
            code="CHUNK_OVERLAP_OUT_OF_RANGE",
            details={"min": 0, "max": chunk_size // 2, "got": chunk_overlap},
        )


def split_documents(
    sections: list[Document],
    *,
    strategy: str,
    chunk_size: int,
    chunk_overlap: int,
    counter: TokenCounter,
    max_tokens: int = 254,
    min_tokens: int = 5,
) -> list[Document]:
    """Split parser sections into chunks of at most ``chunk_size`` word pieces.

    Chunks never span two sections. ``structure`` prefixes each chunk with its heading path
    (counted in ``chunk_size``); chunks under ``min_tokens`` are merged into a neighbour of
    the same section when that fits, otherwise dropped.
    """
    validate_chunking(strategy, chunk_size, chunk_overlap, max_tokens)
    chunks: list[Document] = []
    for section in sections:
        count = _CachedCounter(counter)
        text = section.page_content
        fences = find_fences(text)
        path = str(section.metadata.get("heading_path") or "")
        prefix = _prefix(path, chunk_size, count) if strategy == "structure" else ""
        full = _chunk_text(prefix, text, fences)
        budget = chunk_size - count(prefix)
        spans = _STRATEGIES[strategy](text, budget, min(chunk_overlap, budget // 2), count, fences)
        spans = _enforce_limit(text, spans, full, chunk_size, count, fences)
        links = section.metadata.get("link_spans") or []
        for start, end in _merge_tiny(text, spans, full, chunk_size, min_tokens, count):
            content = full(start, end)
            meta = {**section.metadata, "chunk_index": len(chunks), "heading_path": path}
            meta.pop("link_spans", None)
            meta.update(
                token_count=count(content),
                start_position=start,
                end_position=end,
                chunking_strategy=strategy,
                navigation=is_navigation(text, start, end, links),
            )
            chunks.append(Document(page_content=content, metadata=meta))
    return chunks


def _chunk_text(prefix: str, text: str, fences: list[Fence]) -> ChunkText:
    """A chunk's text from its span: heading prefix, fence lines balancing it, the span."""

    def full(start: int, end: int) -> str:
        head, tail = dress(fences, start, end)
        return prefix + head + text[start:end] + tail

    return full


def _fence_cost(fences: list[Fence], counter: _Counter) -> int:
    """Word pieces the longest re-opening and closing fence lines add to a chunk."""
    return max((counter(f.opener + "\n" + f.closer) for f in fences), default=0)


def _prefix(path: str, chunk_size: int, counter: _Counter) -> str:
    """``"A > B\\n"``, shortened to its last heading or cut so it uses at most a quarter."""
    if not path:
        return ""
    limit = chunk_size // 4
    for candidate in (path, path.rsplit(" > ", 1)[-1]):
        if counter(candidate) <= limit:
            return candidate + "\n"
    offsets = counter.encode_offsets(candidate)
    return candidate[: offsets[limit - 1][1]] + "\n"


def _trim(text: str, start: int, end: int) -> Span | None:
    """The span without surrounding whitespace, or None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _fixed_spans(
    text: str, size: int, overlap: int, counter: _Counter, fences: list[Fence] | None = None
) -> list[Span]:
    """Windows of ``size`` word pieces stepping by ``size - overlap``, cut on token offsets."""
    size -= _fence_cost(fences or [], counter)  # room for the fence lines a window may need
    offsets = counter.encode_offsets(text)
    spans: list[Span] = []
    i = 0
    while i < len(offsets):
        j = min(i + size, len(offsets))
        # Re-tokenising a window cut mid-word can yield more pieces: shrink until it fits.
        while j > i + 1 and counter(text[offsets[i][0] : offsets[j - 1][1]]) > size:
            j -= 1
        spans.append((offsets[i][0], offsets[j - 1][1]))
        if j == len(offsets):
            break
        i = max(j - overlap, i + 1)
    return spans


def _recursive_spans(
    text: str, size: int, overlap: int, counter: _Counter, fences: list[Fence] | None = None
) -> list[Span]:
    """LangChain's recursive splitter with token lengths, located back in the section."""
    size -= _fence_cost(fences or [], counter)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=overlap,
        length_function=counter,
        separators=_SEPARATORS,
        keep_separator="end",
    )
    spans: list[Span] = []
    for piece in splitter.split_text(text):
        # Each piece starts after the previous start (after its end without overlap) and ends
        # past the previous end: with repeated text the first match may be the wrong one.
        prev_start, prev_end = spans[-1] if spans else (-1, 0)
        start = text.find(piece, prev_start + 1 if overlap else prev_end)
        while start >= 0 and start + len(piece) <= prev_end:
            start = text.find(piece, start + 1)
        if start >= 0:  # the splitter only strips whitespace, so it is always found
            spans.append((start, start + len(piece)))
    return spans


def _structure_spans(
    text: str, size: int, overlap: int, counter: _Counter, fences: list[Fence]
) -> list[Span]:
    """The whole section when it fits, else its blocks packed (see ``split_blocks``)."""
    whole = _trim(text, 0, len(text))
    if whole is None:
        return []
    # More words than ``size`` cannot fit (each word is >= 1 piece): skip counting a long text.
    if len(text.split(None, size)) <= size and counter(text[whole[0] : whole[1]]) <= size:
        return [whole]

    def split_long(start: int, end: int, budget: int) -> list[Span]:
        pieces = _recursive_spans(text[start:end], max(budget, 1), overlap, counter)
        return [(start + a, start + b) for a, b in pieces]

    return structure_spans(text, size, overlap, measure_for(text, fences, counter), split_long)


def _sentence_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        span = _trim(text, start, match.start() + len(match.group(1) or ""))
        if span:
            spans.append(span)
        start = match.end()
    last = _trim(text, start, len(text))
    return [*spans, last] if last else spans


def _semantic_units(text: str, size: int, fences: list[Fence], counter: _Counter) -> list[Span]:
    """Sentences, except that a fenced code block that fits in ``size`` is one unit."""
    units = _sentence_spans(text)
    for fence in fences:
        if counter(text[fence.open_start : fence.close_end]) <= size:
            inside = [u for u in units if u[1] > fence.open_start and u[0] < fence.close_end]
            if inside:
                block = (min(inside[0][0], fence.open_start), max(inside[-1][1], fence.close_end))
                units = [u for u in units if u not in inside]
                units.append(block)
    return sorted(units)


def _semantic_spans(
    text: str, size: int, overlap: int, counter: _Counter, fences: list[Fence] | None = None
) -> list[Span]:
    """Whole sentences (and code blocks) packed up to ``size``; overlap by whole sentences.

    A sentence ending with ":" starts the next chunk rather than end this one, so a lead-in
    stays with the code block or list it introduces.
    """
    sentences = _semantic_units(text, size, fences or [], counter)
    counts = [counter(text[s:e]) for s, e in sentences]
    size -= _fence_cost(fences or [], counter)
    spans: list[Span] = []
    i = 0
    while i < len(sentences):
        if counts[i] > size:  # one over-long sentence: token windows inside it
            s, e = sentences[i]
            spans += [(s + a, s + b) for a, b in _fixed_spans(text[s:e], size, overlap, counter)]
            i += 1
            continue
        j, total = i + 1, counts[i]
        while j < len(sentences) and total + counts[j] <= size:
            total += counts[j]
            j += 1
        lead = sentences[j - 1]
        if j < len(sentences) and j - 1 > i and text[lead[0] : lead[1]].endswith(":"):
            j -= 1
        spans.append((sentences[i][0], sentences[j - 1][1]))
        if j == len(sentences):
            break
        k, carried = j, 0
        while k - 1 > i and carried + counts[k - 1] <= overlap:
            k -= 1
            carried += counts[k]
        i = k
    return spans


def _enforce_limit(
    text: str, spans: list[Span], full: ChunkText, size: int, counter: _Counter, fences: list[Fence]
) -> list[Span]:
    """Trim every span and cut any chunk still over ``size`` into exact token windows."""
    budget = size - counter(full(0, 0)) - _fence_cost(fences, counter)  # (0, 0): bare prefix
    out: list[Span] = []
    for raw in spans:
        span = _trim(text, *raw)
        if span is None:
            continue
        s, e = span
        if any(f.open_end < s < f.close_start for f in fences):
            s = text.rfind("\n", 0, s) + 1  # inside code, a line's indentation is content
        if counter(full(s, e)) <= size:
            out.append((s, e))
        else:
            out += [(s + a, s + b) for a, b in _fixed_spans(text[s:e], budget, 0, counter)]
    return out


def _merge_tiny(
    text: str, spans: list[Span], full: ChunkText, size: int, min_tokens: int, counter: _Counter
) -> list[Span]:
    """Merge chunks under ``min_tokens`` into a neighbour of the same section.

    A tiny tail that fits neither neighbour becomes a full window ending where it ends (some
    text repeats, none is lost); a tiny chunk with no neighbour at all is dropped.
    """
    out: list[Span] = []
    pending = list(spans)
    while pending:
        s, e = pending.pop(0)
        if counter(full(s, e)) >= min_tokens:
            out.append((s, e))
        elif out and counter(full(out[-1][0], e)) <= size:
            out[-1] = (out[-1][0], e)
        elif pending and counter(full(s, pending[0][1])) <= size:
            pending[0] = (s, pending[0][1])
        elif out:
            window = text[out[-1][0] : e]
            offsets = counter.encode_offsets(window)
            room = size - counter(full(0, 0))
            start = out[-1][0] + offsets[max(0, len(offsets) - room)][0]
            if counter(full(start, e)) <= size:
                out.append((start, e))
    return out


_STRATEGIES: dict[str, SpanFn] = {
    "structure": _structure_spans,
    "fixed": _fixed_spans,
    "recursive": _recursive_spans,
    "semantic": _semantic_spans,
}
