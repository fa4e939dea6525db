"""The local model's server as a child process: start on a free loopback port, wait, stop.

``local_model_server`` runs ``python -m llama_cpp.server`` from the server's own venv and, while
it runs, registers its URL so the ``local`` chat provider (``chains.providers``) reaches it.
The app starts one only when asked (``serve_if_wanted``: ``LLM=local`` or the admin's active
model is ``local``) and ``LOCAL_LLM_URL`` does not already name a running server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chains.local_llm.model import ALIAS, LocalModelError, require_prepared
from loaders.settings import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_running: list[str] = []  # base URLs of the servers this process started, newest last
_STOP_SECONDS = 10.0


@dataclass(frozen=True)
class LocalServer:
    url: str  # base URL, without /v1
    process: subprocess.Popen[bytes]
    log_path: Path


def current_url(settings: Settings) -> str | None:
    """``LOCAL_LLM_URL``, else the server this process started, else ``None``."""
    if settings.local_llm_url:
        return settings.local_llm_url.rstrip("/").removesuffix("/v1")
    with _lock:
        return _running[-1] if _running else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(settings: Settings, model: Path, port: int) -> list[str]:
    """The server's command line. Pings off: SSE keep-alives would reset the read timeout,
    hiding a stalled first token (``chains.provider_timeouts``). Threads: llama.cpp's default
    (half the cores to generate, all for the prompt) unless ``LOCAL_LLM_THREADS``; on 2 busy
    cores, 2 generating threads spin-wait on each other (turns of 30-50 s instead of 5-10 s)."""
    threads = settings.local_llm_threads
    return [
        str(settings.local_llm_python), "-m", "llama_cpp.server", "--model", str(model),
        "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(settings.local_llm_n_ctx), "--disable_ping_events", "true",
        *(["--n_threads", str(threads)] if threads else []),
    ]  # fmt: skip


@contextmanager
def local_model_server(settings: Settings, *, port: int | None = None) -> Iterator[LocalServer]:
    """Run the prepared model's server until the block ends; its URL is registered meanwhile.

    Raises:
        LocalModelError: not prepared (run ``make local-llm``), or it did not start in time.
    """
    model = require_prepared(settings)
    port = port or free_port()
    log_path = settings.data_dir / "local-llm.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as out:
        process = subprocess.Popen(  # our own venv's python, fixed arguments
            command(settings, model, port),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the log is current, not buffered
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
    try:
        started = time.monotonic()
        _wait_ready(url, process, settings.local_llm_start_seconds, log_path)
        log.info("local model server ready at %s in %.1f s", url, time.monotonic() - started)
        with _lock:
            _running.append(url)
        yield LocalServer(url, process, log_path)
    finally:
        with _lock, contextlib.suppress(ValueError):
            _running.remove(url)
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a grace period; never leaves a zombie."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_if_wanted(settings: Settings, runtime: Any | None) -> AbstractContextManager[Any]:
    """The server when ``LLM=local`` or the active admin config names ``local`` (as the model,
    the fallback, or the judge of claim verification); else nothing.

    ``runtime`` is the ``RuntimeConfigStore`` (``None``: code defaults only).
    """
    if settings.local_llm_url or not wanted(settings, runtime):
        return contextlib.nullcontext()
    return local_model_server(settings)


def wanted(settings: Settings, runtime: Any | None) -> bool:
    from chains.providers import canonical_spec
    from chains.runtime_settings import to_configurable

    if settings.llm and canonical_spec(settings.llm) == ALIAS:
        return True
    if runtime is None:
        return False
    layer = to_configurable(runtime.active().settings)
    judge = layer["judge_model"] if layer["verify_claims"] else None  # it verifies every turn
    specs = (layer["model"], layer["fallback_model"], judge)
    return ALIAS in {canonical_spec(s) for s in specs if s}


def _wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalModelError(
                f"The local model server exited with code {process.returncode} at start-up; "
                f"see {log}:\n{_tail(log)}",
                code="LOCAL_MODEL_FAILED",
            )
        try:
            if httpx.get(f"{url}/v1/models", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(process)
    raise LocalModelError(
        f"The local model server did not answer within {seconds:.0f} s "
        f"(LOCAL_LLM_START_SECONDS); see {log}.",
        code="LOCAL_MODEL_FAILED",
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the app dies without stopping it (kill -9, crash)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
