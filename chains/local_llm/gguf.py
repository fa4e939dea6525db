"""A small pure-Python reader for the header of a GGUF file (llama.cpp's model format).

It reads only the metadata key-value section, never the tensors, so checking a 500 MB model
costs a fraction of a second and needs no ``gguf`` package in the app's venv. Big arrays (the
tokenizer's 150k tokens) are skipped and kept as their length.
Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY_ITEMS = 64  # longer arrays are kept as their length only
_MAX_STRING = 16 * 1024 * 1024  # a chat template is a few KB; more means a corrupt file
# llama.cpp's ``llama_ftype`` (general.file_type) for the quantisations we may meet.
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
              10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
              16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}  # fmt: skip


class GgufError(ValueError):
    """Not a GGUF file, or a header this reader cannot parse."""


@dataclass(frozen=True)
class ArrayInfo:
    """A metadata array too long to keep: its item type and length."""

    item_type: int
    length: int


@dataclass(frozen=True)
class GgufHeader:
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def file_type(self) -> str | None:
        """The quantisation name (``Q4_K_M``), from ``general.file_type``."""
        value = self.metadata.get("general.file_type")
        if not isinstance(value, int):
            return None
        return FILE_TYPES.get(value, f"type {value}")

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None


def read_header(path: Path) -> GgufHeader:
    """The version, tensor count and metadata of the GGUF file at ``path``.

    Raises:
        GgufError: wrong magic, unsupported version, or a truncated or corrupt header.
    """
    with path.open("rb") as f:
        if (magic := f.read(4)) != MAGIC:
            raise GgufError(f"{path} is not a GGUF file (magic {magic!r}, expected {MAGIC!r}).")
        try:
            version = _unpack(f, "<I")
            if version not in SUPPORTED_VERSIONS:
                raise GgufError(f"{path}: GGUF version {version} is not supported.")
            tensors, count = _unpack(f, "<Q"), _unpack(f, "<Q")
            metadata = {}
            for _ in range(count):
                key = _string(f)
                metadata[key] = _value(f, _unpack(f, "<I"))
        except (struct.error, UnicodeDecodeError) as exc:
            raise GgufError(f"{path}: truncated or corrupt GGUF header ({exc}).") from exc
    return GgufHeader(version=version, tensor_count=tensors, metadata=metadata)


def _unpack(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise struct.error("unexpected end of file")
    return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO) -> str:
    length = _unpack(f, "<Q")
    if length > _MAX_STRING:
        raise struct.error(f"string of {length} bytes")
    data = f.read(length)
    if len(data) != length:
        raise struct.error("unexpected end of file")
    return data.decode("utf-8")


def _value(f: BinaryIO, kind: int) -> Any:
    if kind in _SCALARS:
        return _unpack(f, _SCALARS[kind])
    if kind == _STRING:
        return _string(f)
    if kind != _ARRAY:
        raise struct.error(f"unknown metadata value type {kind}")
    item_type, length = _unpack(f, "<I"), _unpack(f, "<Q")
    if length <= _KEEP_ARRAY_ITEMS:
        return [_value(f, item_type) for _ in range(length)]
    if item_type in _SCALARS:  # fixed size: skip without reading
        f.seek(length * struct.calcsize(_SCALARS[item_type]), 1)
    elif item_type == _STRING:
        for _ in range(length):
            f.seek(_unpack(f, "<Q"), 1)
    else:
        for _ in range(length):
            _value(f, item_type)
    return ArrayInfo(item_type, length)
