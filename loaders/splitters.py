"""Parsed sections to embedding-sized chunks, measured in the embedding model's word pieces.

Every strategy works inside one section at a time and produces character spans of it, so
chunk metadata (page, heading path, offsets) stays exact. A last check re-counts every
chunk and cuts any that a tokenizer quirk pushed over ``chunk_size``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from loaders.errors import InvalidInput
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


SpanFn = Callable[[str, int, int, _Counter], list[Span]]


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
        path = str(section.metadata.get("heading_path") or "")
        prefix = _prefix(path, chunk_size, count) if strategy == "structure" else ""
        budget = chunk_size - count(prefix)
        spans = _STRATEGIES[strategy](text, budget, min(chunk_overlap, budget // 2), count)
        spans = _enforce_limit(text, spans, prefix, chunk_size, count)
        for start, end in _merge_tiny(text, spans, prefix, chunk_size, min_tokens, count):
            content = prefix + text[start:end]
            meta = {**section.metadata, "chunk_index": len(chunks), "heading_path": path}
            meta.update(
                token_count=count(content),
                start_position=start,
                end_position=end,
                chunking_strategy=strategy,
            )
            chunks.append(Document(page_content=content, metadata=meta))
    return chunks


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


def _fixed_spans(text: str, size: int, overlap: int, counter: _Counter) -> list[Span]:
    """Windows of ``size`` word pieces stepping by ``size - overlap``, cut on token offsets."""
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


def _recursive_spans(text: str, size: int, overlap: int, counter: _Counter) -> list[Span]:
    """LangChain's recursive splitter with token lengths, located back in the section."""
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


def _structure_spans(text: str, size: int, overlap: int, counter: _Counter) -> list[Span]:
    """The whole section when it fits, else recursive splits inside it."""
    whole = _trim(text, 0, len(text))
    if whole is None:
        return []
    # More words than ``size`` cannot fit (each word is >= 1 piece): skip counting a long text.
    if len(text.split(None, size)) <= size and counter(text[whole[0] : whole[1]]) <= size:
        return [whole]
    return _recursive_spans(text, size, overlap, counter)


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


def _semantic_spans(text: str, size: int, overlap: int, counter: _Counter) -> list[Span]:
    """Whole sentences packed up to ``size``; overlap by whole trailing sentences."""
    sentences = _sentence_spans(text)
    counts = [counter(text[s:e]) for s, e in sentences]
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
    text: str, spans: list[Span], prefix: str, size: int, counter: _Counter
) -> list[Span]:
    """Trim every span and cut any chunk still over ``size`` into exact token windows."""
    budget = size - counter(prefix)
    out: list[Span] = []
    for raw in spans:
        span = _trim(text, *raw)
        if span is None:
            continue
        s, e = span
        if counter(prefix + text[s:e]) <= size:
            out.append(span)
        else:
            out += [(s + a, s + b) for a, b in _fixed_spans(text[s:e], budget, 0, counter)]
    return out


def _merge_tiny(
    text: str, spans: list[Span], prefix: str, size: int, min_tokens: int, counter: _Counter
) -> list[Span]:
    """Merge chunks under ``min_tokens`` into a neighbour of the same section.

    A tiny tail that fits neither neighbour becomes a full window ending where it ends (some
    text repeats, none is lost); a tiny chunk with no neighbour at all is dropped.
    """
    out: list[Span] = []
    pending = list(spans)
    while pending:
        s, e = pending.pop(0)
        if counter(prefix + text[s:e]) >= min_tokens:
            out.append((s, e))
        elif out and counter(prefix + text[out[-1][0] : e]) <= size:
            out[-1] = (out[-1][0], e)
        elif pending and counter(prefix + text[s : pending[0][1]]) <= size:
            pending[0] = (s, pending[0][1])
        elif out:
            window = text[out[-1][0] : e]
            offsets = counter.encode_offsets(window)
            start = out[-1][0] + offsets[max(0, len(offsets) - (size - counter(prefix)))][0]
            if counter(prefix + text[start:e]) <= size:
                out.append((start, e))
    return out


_STRATEGIES: dict[str, SpanFn] = {
    "structure": _structure_spans,
    "fixed": _fixed_spans,
    "recursive": _recursive_spans,
    "semantic": _semantic_spans,
}
