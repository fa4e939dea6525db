"""Eval datasets, answer and guardrail metrics, speed and cost, gates and reports (no servers)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals import answer_metrics as am
from evals.cli import parse_sets
from evals.datasets import DATASET_DIR, EvalItem, load_dataset, spread
from evals.gates import Thresholds, Tolerance, check_bounds, compare, load_thresholds
from evals.guardrail_metrics import acted
from evals.local_target import eval_settings
from evals.report_html import render_html
from evals.report_md import render_markdown
from evals.scoring import score_item
from evals.speed import latency, load_prices, percentile, tokens_and_cost
from evals.summary import summarize
from evals.turns import Passage, Turn
from loaders.errors import InvalidInput
from loaders.settings import Settings

PASSAGES = [
    Passage(1, "c1", "password-reset.txt", "Reset", "The reset link is valid for 30 minutes.", 0.9),
    Passage(2, "c2", "plans-and-pricing.html", "Plans", "The Team plan costs $10 per user.", 0.5),
]


def lexical_only(a: list[str], b: list[str]) -> list[list[float]]:
    """Similarity 1 for identical texts, else 0: keeps the unit tests model-free."""
    return [[1.0 if x == y else 0.0 for y in b] for x in a]


def turn(answer: str, **kw: object) -> Turn:
    values: dict[str, object] = {
        "answer": answer,
        "passages": PASSAGES,
        "sources": [],
        "guardrails": {"input_safe": True, "pii_detected": False, "violations": []},
        "usage": {"prompt_tokens": 400, "completion_tokens": 20},
        "timings": {"guard": 1.0, "retrieve": 8.0},
        "latency_ms": 12.0,
        **kw,
    }
    return Turn(**values)  # type: ignore[arg-type]


def test_shipped_datasets_meet_the_issue_sizes() -> None:
    qa = load_dataset(DATASET_DIR / "kb_qa.jsonl")
    assert len(qa) >= 60
    assert sum(i.answerable is False for i in qa) >= 10
    assert sum(len(i.turns) > 1 for i in qa) >= 10
    attacks = load_dataset(DATASET_DIR / "injection.jsonl")
    benign = load_dataset(DATASET_DIR / "guardrails_benign.jsonl")
    assert len(attacks) >= 50 and {i.expected for i in attacks} == {"block"}
    assert len(benign) >= 50 and {i.expected for i in benign} == {"allow"}
    kinds = Counter(i.kind for i in attacks)
    for kind in ("override", "indirect", "pii", "toxicity", "reveal"):
        assert kinds[kind] >= 5, kind


def test_bad_dataset_lines_are_rejected_with_their_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "ok?"}\n{"id": "b", "text": "x", "expected": "?"}\n')
    with pytest.raises(InvalidInput, match="line 2") as err:
        load_dataset(bad)
    assert err.value.code == "EVAL_DATASET_INVALID"
    bad.write_text('{"id": "a", "question": "ok?"}\n{"id": "a", "question": "again"}\n')
    with pytest.raises(InvalidInput, match="duplicate id"):
        load_dataset(bad)


def test_spread_keeps_first_and_last_items() -> None:
    items = [EvalItem(id=str(i), dataset="d", turns=("q",)) for i in range(91)]
    chosen = [i.id for i in spread(items, 10)]
    assert chosen[0] == "0" and chosen[-1] == "90" and len(set(chosen)) == 10
    assert spread(items, None) == items


def test_key_fact_coverage_counts_reference_facts() -> None:
    ref = "The reset link is valid for 30 minutes; find it under Settings > Security."
    assert am.fact_coverage("It is valid for thirty minutes [1].", ref) == 0.5
    assert am.fact_coverage("30 minutes, Settings > Security [1].", ref) == 1.0
    assert am.fact_coverage("It lasts an hour.", ref) == 0.0


def test_refusal_means_admitting_without_inventing() -> None:
    shipped = (DATASET_DIR.parents[1] / "prompts/templates/no_answer/v1.jinja").read_text()
    assert am.is_refusal(shipped.replace("{{ company_name }}", "Tasklane"))
    assert am.is_refusal("I don't know: the help center articles do not answer that.")
    assert not am.is_refusal("Yes, it's on every plan under Settings > Workspace.")
    assert not am.is_refusal("I don't know exactly, but it probably costs $5 per month.")


def test_citation_accuracy_checks_the_cited_passage() -> None:
    def text_of(n: int) -> str | None:
        return next((p.text for p in PASSAGES if p.n == n), None)

    right = "The reset link is valid for 30 minutes [1]. The Team plan costs $10 per user [2]."
    swapped = "The reset link is valid for 30 minutes [2]. The Team plan costs $10 per user [1]."
    assert am.citation_accuracy(right, text_of, lexical_only) == 1.0
    assert am.citation_accuracy(swapped, text_of, lexical_only) == 0.0
    assert am.citation_accuracy("Valid for 30 minutes [7].", text_of, lexical_only) == 0.0
    assert am.citation_accuracy("No citations here.", text_of, lexical_only) is None


def test_groundedness_is_share_of_supported_claims() -> None:
    texts = [p.text for p in PASSAGES]
    half = "The reset link is valid for 30 minutes. The Enterprise plan costs $99 per user."
    assert am.groundedness(half, texts, lexical_only) == 0.5
    assert am.groundedness("Would you like me to connect you with a person?", texts, None) is None


def test_score_item_for_qa_unanswerable_and_guardrail_items() -> None:
    qa = EvalItem(
        id="q",
        dataset="kb_qa",
        turns=("How long is the link valid?",),
        reference_answer="The reset link is valid for 30 minutes.",
        expected_sources=("password-reset.txt",),
        answerable=True,
    )
    m = score_item(qa, [turn("The reset link is valid for 30 minutes [1].")], lexical_only)
    assert m["metrics"]["retrieval.hit@1"] == 1.0
    assert m["metrics"]["answer.key_fact_coverage"] == 1.0
    assert m["metrics"]["answer.groundedness"] == 1.0
    assert m["metrics"]["answer.over_refusal"] == 0.0
    nope = EvalItem(id="u", dataset="kb_qa", turns=("Desktop app?",), answerable=False)
    invented = score_item(nope, [turn("Yes, download it from Settings > Apps.")], lexical_only)
    assert invented["metrics"]["answer.refusal_correctness"] == 0.0
    attack = EvalItem(id="a", dataset="inj", turns=("x",), expected="block", kind="pii")
    masked = turn("ok", guardrails={"input_safe": True, "pii_detected": True, "violations": []})
    assert score_item(attack, [masked], lexical_only)["metrics"] == {"guardrails.catch_rate": 1.0}


def test_quality_findings_are_not_guardrail_actions() -> None:
    ungrounded = {"input_safe": True, "violations": [{"code": "UNGROUNDED", "stage": "output"}]}
    assert not acted(ungrounded)
    assert acted({"input_safe": True, "violations": [{"code": "SYSTEM_PROMPT_LEAK"}]})
    assert acted({"input_safe": False, "violations": []})


def test_latency_tokens_and_cost_per_provider() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile(list(range(1, 101)), 95) == 95
    turns = [{"latency_ms": float(i), "timings": {"guard": 1.0}, "usage": {}} for i in range(20)]
    out = latency(turns)
    assert out["latency.turn_p95_ms"] == 18 and out["latency.node.guard_p50_ms"] == 1.0
    prices = load_prices()
    assert prices["extractive"] == {"input": 0.0, "output": 0.0}
    usage = [{"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}]
    cost = tokens_and_cost(usage, {"m": {"input": 2.0, "output": 10.0}})
    assert cost["cost.per_1000_turns_usd.m"] == pytest.approx(3.0)  # 1000*(2000+1000)/1e6


def test_compare_gates_by_direction_and_tolerance() -> None:
    th = Thresholds(
        tolerances={
            "answer.correctness": Tolerance(absolute=0.02),
            "latency.turn_p95_ms": Tolerance(absolute=10, pct=50),
            "guardrails.catch_rate": Tolerance(),
        }
    )
    a = {"answer.correctness": 0.80, "latency.turn_p95_ms": 100.0, "guardrails.catch_rate": 1.0}
    ok = {"answer.correctness": 0.79, "latency.turn_p95_ms": 149.0, "guardrails.catch_rate": 1.0}
    assert not any(d.regression for d in compare(a, ok, th))
    bad = {"answer.correctness": 0.85, "latency.turn_p95_ms": 151.0}
    verdicts = {d.metric: d.regression for d in compare(a, bad, th)}
    assert verdicts == {
        "answer.correctness": False,  # better
        "latency.turn_p95_ms": True,  # slower than 50 %
        "guardrails.catch_rate": True,  # missing in B
    }
    shipped = load_thresholds(DATASET_DIR.parent / "thresholds.toml")
    assert "answer.refusal_correctness" in shipped.tolerances
    smoke = load_thresholds(DATASET_DIR.parent / "smoke_thresholds.toml")
    assert (
        check_bounds(
            {**dict.fromkeys(smoke.minimums, 1.0), **dict.fromkeys(smoke.maximums, 0.0)}, smoke
        )
        == []
    )
    assert check_bounds({}, smoke)  # every gated metric missing fails


def test_set_values_are_typed_and_checked() -> None:
    config, ingest = parse_sets(
        ["top_k=8", "model=openai/gpt-4o", "mask_pii=false", "chunking=fixed"]
    )
    assert config == {"top_k": 8, "model": "openai/gpt-4o", "mask_pii": False}
    assert ingest == {"chunking": "fixed"}
    with pytest.raises(InvalidInput, match="Unknown --set key"):
        parse_sets(["session_id=x"])
    with pytest.raises(InvalidInput, match="key=value"):
        parse_sets(["top_k"])


def test_eval_kb_location_follows_what_it_depends_on(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path, mongodb_name="sb")
    default = eval_settings(base)
    assert default.data_dir.parent == tmp_path / "evals" and default.vector_store == "local"
    assert eval_settings(base).data_dir == default.data_dir
    fixed = eval_settings(base, {"chunking": "fixed", "chunk_size": 120})
    assert fixed.data_dir != default.data_dir and fixed.default_chunk_size == 120
    assert fixed.mongodb_name.startswith("sb_eval_") and fixed.mongodb_name != default.mongodb_name


def test_reports_render_tables_and_svg_plots() -> None:
    qa = EvalItem(
        id="q1",
        dataset="kb_qa",
        turns=("?",),
        reference_answer="30 minutes.",
        expected_sources=("password-reset.txt",),
        answerable=True,
        tags=("billing",),
    )
    records = [score_item(qa, [turn("The reset link is valid for 30 minutes [1].")], lexical_only)]
    results = {
        "run": {"id": "r1", "target": "local"},
        "summary": summarize(records, load_prices()),
        "items": records,
    }
    md = render_markdown(results)
    assert "| answer.groundedness | 1 | 1 |" in md and "openai/gpt-4o-mini" in md
    html = render_html(results)
    assert "<svg" in html and "answer.correctness (per item)" in html and "turn latency" in html
    json.dumps(results)  # JSON-serialisable as written to results.json


def test_langsmith_push_is_refused_without_a_key() -> None:
    from evals.langsmith_push import examples, push

    results = {"run": {"datasets": {"kb_qa": 1}}, "items": []}
    with pytest.raises(InvalidInput) as err:
        push(results, Settings(langsmith_api_key=None))
    assert err.value.code == "EVAL_LANGSMITH_NOT_CONFIGURED"
    assert examples(results) == []
