"""``eval run --langsmith`` at LangSmith's HTTP boundary: the real ``langsmith`` SDK pushes a real
eval run to a stateful local emulator (LangSmith cannot be reached from here), which must end up
holding the dataset, the experiment's recorded answers and the metric feedback."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from evals.langsmith_push import push
from loaders.errors import SupportbotError
from loaders.settings import Settings, get_settings
from tests.emulators.langsmith_datasets import LangSmithState, langsmith_datasets_server

pytestmark = pytest.mark.integration

RUN_ARGS = ["eval", "run", "--limit", "2", "--dataset", "kb_qa", "-q", "--langsmith"]


@pytest.fixture()
def langsmith() -> Iterator[tuple[str, LangSmithState]]:
    with langsmith_datasets_server() as served:
        yield served


@pytest.fixture()
def cli_env(mongo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    monkeypatch.setenv("MONGODB_NAME", f"evalls_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("REDIS_URL", "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _cli_run(url: str, key: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LANGSMITH_ENDPOINT", url)
    monkeypatch.setenv("LANGSMITH_API_KEY", key)
    get_settings.cache_clear()
    return main([*RUN_ARGS, "--out", str(out)])


def _assert_pushed(state: LangSmithState, results: dict[str, Any]) -> dict[str, Any]:
    """The emulator holds what the run says: one example per item, an experiment over them
    whose runs carry the recorded answers, and feedback equal to the run's metrics."""
    items = {r["id"]: r for r in results["items"]}
    dataset = state.dataset("supportbot-kb_qa")
    assert dataset is not None
    stored = {e["inputs"]["id"]: e for e in state.examples_of(dataset["id"])}
    assert stored.keys() == items.keys()
    for item_id, example in stored.items():
        assert example["inputs"]["turns"] == items[item_id]["turns"]
        assert example["outputs"]["reference_answer"] == items[item_id]["reference_answer"]
        assert example["outputs"]["expected_sources"] == items[item_id]["expected_sources"]
        assert example["metadata"]["dataset"] == "kb_qa"
    experiment = next(
        p
        for p in state.experiments_on(dataset["id"])
        if p["name"].startswith(f"supportbot-{results['run']['id']}")
    )
    assert experiment["extra"]["metadata"]["target"] == results["run"]["target"]
    runs = {r["reference_example_id"]: r for r in state.runs_in(experiment["id"])}
    assert runs.keys() == {e["id"] for e in stored.values()}
    for item_id, example in stored.items():
        run = runs[example["id"]]
        assert run["outputs"]["answer"] == items[item_id]["answer"]
        scores = {f["key"]: f["score"] for f in state.feedback_on(run["id"])}
        assert scores == items[item_id]["metrics"]
        assert scores  # a kb_qa item has retrieval and answer metrics
    return experiment


def test_cli_pushes_a_run_and_a_second_push_adds_no_examples(
    cli_env: None,
    langsmith: tuple[str, LangSmithState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, state = langsmith
    assert _cli_run(url, state.api_key, tmp_path / "run", monkeypatch) == 0
    assert (
        "pushed 2 item(s) to LangSmith dataset 'supportbot-kb_qa' (2 new" in capsys.readouterr().out
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results["items"]) == 2 and not any(i.get("error") for i in results["items"])
    first = _assert_pushed(state, results)
    assert state.unknown == []  # the SDK stayed on routes the emulator models

    # the same run again: a second experiment, no duplicate examples
    settings = Settings(langsmith_api_key=state.api_key, langsmith_endpoint=url)
    assert "(0 new example(s))" in push(results, settings)
    dataset = state.dataset("supportbot-kb_qa")
    assert dataset is not None
    assert len(state.examples_of(dataset["id"])) == 2
    experiments = state.experiments_on(dataset["id"])
    assert len(experiments) == 2
    second = next(p for p in experiments if p["id"] != first["id"])
    assert len(state.runs_in(second["id"])) == 2

    # a smaller run extends nothing and scores only its own item, not the whole dataset
    one = {**results, "run": {**results["run"], "id": "one-item"}, "items": results["items"][:1]}
    push(one, settings)
    third = next(p for p in state.experiments_on(dataset["id"]) if "one-item" in p["name"])
    assert len(state.runs_in(third["id"])) == 1
    assert len(state.examples_of(dataset["id"])) == 2


def test_cli_reports_a_rejected_key_as_an_error_not_a_traceback(
    cli_env: None,
    langsmith: tuple[str, LangSmithState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, state = langsmith
    assert _cli_run(url, "lsv2-revoked", tmp_path / "run", monkeypatch) == 2
    err = capsys.readouterr().err  # progress bars come first; the error is the last line
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"error: LangSmith at {url} rejected LANGSMITH_API_KEY: Authentication failed")
    )
    assert "Traceback" not in err
    results = json.loads((tmp_path / "run" / "results.json").read_text())  # reports still written
    assert state.datasets == {} and state.runs == {}
    with pytest.raises(SupportbotError) as rejected:
        push(results, Settings(langsmith_api_key="lsv2-revoked", langsmith_endpoint=url))
    assert (rejected.value.code, rejected.value.status) == ("EVAL_LANGSMITH_UNAUTHORIZED", 401)


def _tiny_results() -> dict[str, Any]:
    item = {"id": "q001", "dataset": "kb_qa", "turns": ["How long is the reset link valid?"]}
    record = {**item, "answer": "30 minutes [1].", "metrics": {"answer.correctness": 0.5}}
    return {"run": {"id": "r1", "datasets": {"kb_qa": 1}}, "items": [record]}


@pytest.mark.parametrize(
    ("method", "path", "status", "said"),
    [
        ("POST", "/examples/bulk", 500, "Server error (500)"),
        # runs and feedback are sent by the SDK's background thread, which only logs failures
        ("POST", "/runs/multipart", 422, "did not take the experiment's runs or feedback"),
    ],
)
def test_a_langsmith_failure_is_a_domain_error(
    langsmith: tuple[str, LangSmithState], method: str, path: str, status: int, said: str
) -> None:
    url, state = langsmith
    state.fail[(method, path)] = status
    settings = Settings(langsmith_api_key=state.api_key, langsmith_endpoint=url)
    with pytest.raises(SupportbotError) as err:
        push(_tiny_results(), settings)
    assert err.value.code == "EVAL_LANGSMITH_FAILED" and err.value.status == 503
    assert said in err.value.message and url in err.value.message
    assert (method, path) in state.requests
