"""The local model's server as a child process, with a stand-in server (no model needed).

``tests/fake_llama_server.py`` takes llama.cpp's command line and answers its OpenAI API, so
start, readiness, the ``local`` provider, stop, start-up failure and "when the app starts one"
are checked in the default suite; ``test_local_llm.py`` does it with the real model.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from app.cli import _local_model_problem
from chains.failover import produced_by
from chains.local_llm.model import LocalModelError
from chains.local_llm.server import current_url, local_model_server, serve_if_wanted, wanted
from chains.providers import build_chat_runnable, load_chat_model
from loaders.errors import ServiceUnavailable
from loaders.settings import Settings
from tests.fake_llama_server import ANSWER
from tests.gguf_files import gguf_bytes

FAKE = Path(__file__).resolve().parents[1] / "fake_llama_server.py"


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """A synthetic GGUF (``LOCAL_LLM_MODEL``) and a "venv python" that runs the stand-in."""
    model = tmp_path / "model.gguf"
    model.write_bytes(gguf_bytes(architecture="llama"))
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    python.chmod(0o755)
    return Settings(data_dir=tmp_path, local_llm_model=model, local_llm_python=python,
                    local_llm_start_seconds=20)  # fmt: skip


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) != 0


def test_the_server_starts_answers_as_local_and_stops(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_ARGS", str(tmp_path / "args.json"))
    with pytest.raises(ServiceUnavailable, match="make local-llm") as err:
        load_chat_model("local", settings)
    assert err.value.code == "PROVIDER_NOT_CONFIGURED"

    with local_model_server(settings) as server:
        assert current_url(settings) == server.url
        reply = build_chat_runnable("local", settings).invoke([HumanMessage("How long?")])
        assert reply.content == f"local: {ANSWER}" and produced_by(reply) == "local"
    args = json.loads((tmp_path / "args.json").read_text())
    assert args["m"] == "llama_cpp.server" and args["model_alias"] == "local"
    assert args["host"] == "127.0.0.1" and args["n_ctx"] == "4096"
    assert args["disable_ping_events"] == "true"  # keep-alives would hide a stalled first token
    assert server.process.poll() is not None and refused(server.url)
    assert current_url(settings) is None


def test_a_server_that_dies_at_start_up_is_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_EXIT", "3")
    with (
        pytest.raises(LocalModelError, match="exited with code 3") as err,
        local_model_server(settings),
    ):
        pass
    assert "failing at start-up" in err.value.message  # the log's tail is shown
    assert current_url(settings) is None


def test_not_prepared_is_refused_before_the_app_starts(tmp_path: Path) -> None:
    bare = Settings(data_dir=tmp_path, llm="local", local_llm_python=tmp_path / "no" / "python")
    problem = _local_model_problem(bare)
    assert problem is not None and "LLM=local" in problem and "make local-llm" in problem
    assert _local_model_problem(bare.model_copy(update={"llm": None})) is None
    with pytest.raises(LocalModelError, match="make local-llm"):
        serve_if_wanted(bare, None).__enter__()


def runtime(model: str, fallback: str | None = None, **guardrails: Any) -> Any:
    layer = {"llm": {"provider": model, "model": model, "fallback_model": fallback,
                     "temperature": 0.1, "max_tokens": 64},
             "retrieval": {"top_k": 5, "min_relevance_score": 0.4, "reranking_enabled": False},
             "guardrails": {"content_safety": True, "mask_pii": True, "injection_detection": True,
                            "groundedness_check": True, "max_input_length": 4000,
                            "max_output_length": 2000, **guardrails}}  # fmt: skip
    return SimpleNamespace(active=lambda: SimpleNamespace(settings=layer))


def test_the_app_starts_it_only_when_asked(settings: Settings) -> None:
    assert not wanted(settings, None) and not wanted(settings, runtime("extractive"))
    assert wanted(settings.model_copy(update={"llm": "local"}), None)
    assert wanted(settings, runtime("local")) and wanted(settings, runtime("extractive", "local"))
    judged_locally = runtime("extractive", claim_verification=True, judge_model="local")
    assert wanted(settings, judged_locally)
    assert not wanted(settings, runtime("extractive", judge_model="local"))  # verification off
    external = settings.model_copy(update={"llm": "local", "local_llm_url": "http://h:1/v1"})
    with serve_if_wanted(external, None) as started:  # LOCAL_LLM_URL: someone else runs it
        assert started is None and current_url(external) == "http://h:1"
