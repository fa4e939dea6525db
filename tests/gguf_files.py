"""Synthetic GGUF files with llama.cpp's header layout, standing in for the 491 MB model."""

from __future__ import annotations

import struct
from typing import Any

TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}"


def _str(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _kv(key: str, kind: int, payload: bytes) -> bytes:
    return _str(key) + struct.pack("<I", kind) + payload


def gguf_bytes(*, magic: bytes = b"GGUF", version: int = 3, **overrides: Any) -> bytes:
    """A header like llama.cpp writes: string, uint32, float, bool, and two long arrays."""
    meta = {"architecture": "qwen2", "file_type": 15, "template": TEMPLATE, **overrides}
    kvs = [
        _kv("general.architecture", 8, _str(meta["architecture"])),
        _kv("general.file_type", 4, struct.pack("<I", meta["file_type"])),
        _kv("qwen2.rope.freq_base", 6, struct.pack("<f", 1e6)),
        _kv("tokenizer.ggml.add_bos_token", 7, struct.pack("<?", False)),
        _kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 100)
            + b"".join(_str(f"tok{i}") for i in range(100))),
        _kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 100) + b"\x01\0\0\0" * 100),
        _kv("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 151645)),
    ]  # fmt: skip
    if meta["template"] is not None:
        kvs.append(_kv("tokenizer.chat_template", 8, _str(meta["template"])))
    return magic + struct.pack("<IQQ", version, 291, len(kvs)) + b"".join(kvs) + b"\0" * 64
