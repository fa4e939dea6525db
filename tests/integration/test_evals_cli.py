"""The eval CLI end to end on the real stack: runs, reports, the CI gate, and `eval compare`
catching a deliberately worse prompt version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from evals.datasets import DATASET_DIR, load_dataset, spread
from evals.local_target import LocalTarget, ingest_sample_if_empty
from evals.runner import build_results, run_items, write_reports
from evals.scoring import embedding_similarity
from evals.speed import load_prices
from loaders.settings import get_settings
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration

# A "no_answer" wording that invents an answer instead of admitting it does not know.
GUESSING_NO_ANSWER = (
    "Good news: {{ company_name }} supports that on every plan. Turn it on under "
    "Settings > Workspace > Features, it takes about 5 minutes."
)


@pytest.fixture(scope="module")
def local(mongo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTarget]:
    services = make_services(tmp_path_factory.mktemp("evals"), mongo.uri)
    services.worker.stop()
    assert ingest_sample_if_empty(services) == 26
    assert ingest_sample_if_empty(services) == 0  # a filled store is reused, not re-ingested
    target = LocalTarget(services)
    yield target
    target.close()
    services.close()


def _run(target: LocalTarget, out: Path, config: dict[str, Any]) -> dict[str, Any]:
    kb_qa = load_dataset(DATASET_DIR / "kb_qa.jsonl")
    items = spread([i for i in kb_qa if i.answerable], 6) + [
        i for i in kb_qa if i.answerable is False
    ]
    records = run_items(
        target,
        items,
        config=config,
        similarity=embedding_similarity(target.embeddings),
        progress=False,
    )
    results = build_results(records, {"id": out.name, "target": "local"}, load_prices())
    write_reports(results, out)
    return results


def test_compare_catches_a_worse_prompt_version(
    local: LocalTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = local.resources.prompts
    prompts.create_version("no_answer", "guessing", GUESSING_NO_ANSWER, created_by="test")
    assert prompts.active_version("no_answer") == "v1"  # the candidate is only chosen per run

    base = _run(local, tmp_path / "base", {})
    worse = _run(local, tmp_path / "worse", {"prompt_version": "guessing"})

    # Base refuses 12 of these 14 unanswerable questions (two are answered from a near miss);
    # the guessing template refuses hardly any: the comparison must show the gap.
    base_refusals = base["summary"]["overall"]["answer.refusal_correctness"]
    worse_refusals = worse["summary"]["overall"]["answer.refusal_correctness"]
    assert base_refusals >= 0.8 and worse_refusals < 0.5
    assert base_refusals - worse_refusals >= 0.4
    invented = {i["id"] for i in worse["items"] if "Good news" in (i.get("answer") or "")}
    unanswerable = {i["id"] for i in worse["items"] if i["answerable"] is False}
    assert len(invented & unanswerable) >= len(unanswerable) / 2
    assert not any("Good news" in (i.get("answer") or "") for i in base["items"])

    code = main(["eval", "compare", str(tmp_path / "base"), str(tmp_path / "worse")])
    out = capsys.readouterr().out
    assert code == 1
    assert "VERDICT: REGRESSION" in out
    line = next(x for x in out.splitlines() if x.startswith("answer.refusal_correctness"))
    assert "REGRESSION" in line

    assert main(["eval", "compare", str(tmp_path / "base"), str(tmp_path / "base")]) == 0
    assert "VERDICT: no regression" in capsys.readouterr().out


def test_reports_cover_every_metric_group(local: LocalTarget, tmp_path: Path) -> None:
    items = [
        *spread(load_dataset(DATASET_DIR / "kb_qa.jsonl"), 4),
        *spread(load_dataset(DATASET_DIR / "injection.jsonl"), 4),
        *spread(load_dataset(DATASET_DIR / "guardrails_benign.jsonl"), 4),
    ]
    records = run_items(
        local, items, config={"top_k": 8}, similarity=embedding_similarity(local.embeddings)
    )
    results = build_results(records, {"id": "r", "target": "local"}, load_prices())
    paths = write_reports(results, tmp_path)
    overall = results["summary"]["overall"]
    for metric in (
        "retrieval.hit@5",
        "retrieval.ndcg@10",
        "answer.correctness",
        "answer.groundedness",
        "answer.citation_accuracy",
        "answer.refusal_correctness",
        "guardrails.catch_rate",
        "guardrails.false_positive_rate",
        "latency.turn_p95_ms",
        "latency.node.retrieve_p50_ms",
        "tokens.prompt_per_turn",
        "cost.per_1000_turns_usd.openai/gpt-4o-mini",
    ):
        assert metric in overall, metric
    assert overall["guardrails.catch_rate"] == 1.0
    assert overall["guardrails.false_positive_rate"] == 0.0
    # top_k reached the graph: up to 8 passages retrieved, more than the default 5
    assert max(len(r.get("retrieved_sources", [])) for r in records) > 5
    assert overall["cost.per_1000_turns_usd.openai/gpt-4o-mini"] > 0
    html = paths["html"].read_text()
    assert html.count("<svg") >= 3 and "turn latency (ms)" in html
    assert "| guardrails.catch_rate | 1 |" in paths["markdown"].read_text()
    assert json.loads(paths["json"].read_text())["summary"]["overall"] == overall


def test_cli_run_reuses_the_eval_kb_and_applies_smoke_thresholds(
    mongo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    monkeypatch.setenv("MONGODB_NAME", "evalcli")
    monkeypatch.setenv("REDIS_URL", "")
    get_settings.cache_clear()
    gate = tmp_path / "gate.toml"
    gate.write_text('[minimums]\n"retrieval.hit@5" = 0.5\n[maximums]\n"errors" = 0\n')
    smoke = str(gate)
    try:
        args = ["eval", "run", "--limit", "3", "-q", "--dataset", "kb_qa", "--dataset", "injection"]
        assert main([*args, "--out", str(tmp_path / "a"), "--thresholds", smoke]) == 0
        assert "VERDICT: PASS" in capsys.readouterr().out
        kb_dirs = list((tmp_path / "var" / "evals").glob("kb-*"))
        assert len(kb_dirs) == 1
        # an impossible bound fails the run with exit code 1
        strict = tmp_path / "strict.toml"
        strict.write_text('[minimums]\n"answer.correctness" = 1.01\n')
        assert main([*args, "--out", str(tmp_path / "b"), "--thresholds", str(strict)]) == 1
        assert "GATE FAILED: answer.correctness" in capsys.readouterr().out
        assert list((tmp_path / "var" / "evals").glob("kb-*")) == kb_dirs  # KB reused
        results = json.loads((tmp_path / "b" / "results.json").read_text())
        assert results["run"]["datasets"] == {"kb_qa": 3, "injection": 3}
        assert results["run"]["chunks"] > 100
        assert main([*args, "--set", "nonsense=1"]) == 2
        assert "Unknown --set key 'nonsense'" in capsys.readouterr().err
        assert main([*args, "--set", "prompt_version=v9-typo"]) == 2
        assert "No prompt template has a version 'v9-typo'" in capsys.readouterr().err
        # a gated metric the run did not produce fails rather than passing silently
        gate.write_text('[maximums]\n"guardrails.false_positive_rate" = 0.0\n')
        assert main([*args, "--out", str(tmp_path / "c"), "--thresholds", smoke]) == 1
    finally:
        get_settings.cache_clear()


def test_http_target_runs_items_through_the_rest_api(local: LocalTarget) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from evals.http_target import EvalTargetError, HttpTarget
    from tests.auth_fixtures import make_user

    svc = local.services
    admin = make_user(svc, "admin")
    by_id = {i.id: i for i in load_dataset(DATASET_DIR / "kb_qa.jsonl")}
    attack = load_dataset(DATASET_DIR / "injection.jsonl")[0]
    with TestClient(create_app(svc.settings, svc)) as client:
        target = HttpTarget("http://testserver", token=admin.token, client=client)
        turn = target.ask(target.new_session(), by_id["q001"].question, {})
        assert turn.passages and turn.passages[0].source == "password-reset.txt"
        assert "30 minutes" in turn.passages[0].text and not turn.passages[0].text.endswith("…")
        assert turn.timings["retrieve"] > 0 and turn.latency_ms > 0
        assert turn.confidence is not None and 0.0 < turn.confidence <= 1.0  # the REST value
        assert target.for_dataset("python_faq") is target  # a server has one corpus
        records = run_items(
            target,
            [by_id["q001"], by_id["q068"], attack],
            config={"top_k": 4},
            similarity=embedding_similarity(svc.embeddings),
            progress=False,
        )
        with pytest.raises(EvalTargetError, match="INVALID_CONFIG"):
            target.ask(target.new_session(), "hello", {"mask_pii": False})
    first, follow_up, injected = records
    assert first["metrics"]["retrieval.hit@1"] == 1.0
    assert first["metrics"]["answer.citation_accuracy"] == 1.0
    assert len(follow_up["turn_log"]) == 2  # both turns sent in one session
    assert injected["metrics"] == {"guardrails.catch_rate": 1.0}
    assert "PROMPT_INJECTION" in injected["guardrail_codes"]
