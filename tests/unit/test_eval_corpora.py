"""Eval corpora per dataset, the missing-corpus error, split selection, per-split summaries,
dataset-scoped gates and the report sections that show them (no servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.corpora import (
    PYTHON_FAQ,
    PYTHON_FAQ_DIR,
    PYTHON_FAQ_DIR_ENV,
    PYTHON_FAQ_FILES,
    SAMPLE_KB,
    corpora_for,
    corpus_name,
    get_corpus,
    page_title,
)
from evals.datasets import DATASET_DIR, SHIPPED, EvalItem, load_dataset, select
from evals.gates import Thresholds, check_bounds, gate_values
from evals.local_target import LocalTarget, eval_settings
from evals.report_html import render_html
from evals.report_md import render_markdown
from evals.speed import load_prices
from evals.summary import lower_is_better, summarize
from loaders.errors import InvalidInput
from loaders.settings import Settings

PAGE = (
    "<html><head><title>Programming FAQ &#8212; Python 3.11.2 documentation</title></head><body>"
    '<h1>Programming FAQ<a class="headerlink" href="#p">¶</a></h1><h2>General</h2><p>Hi.</p>'
    "</body></html>"
)


def faq_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "faq"
    folder.mkdir()
    for name in PYTHON_FAQ_FILES:
        (folder / name).write_text(PAGE.replace("Programming", name.split(".")[0].title()))
    return folder


def test_datasets_map_to_their_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PYTHON_FAQ_DIR_ENV, raising=False)
    assert corpus_name("kb_qa") == corpus_name("retrieval") == SAMPLE_KB
    assert corpus_name("python_faq") == PYTHON_FAQ
    assert corpus_name("injection") == corpus_name("my_own_set") == SAMPLE_KB
    faq = get_corpus(PYTHON_FAQ)
    assert faq.folder == PYTHON_FAQ_DIR == Path("/usr/share/doc/python3.11/html/faq")
    assert len(faq.files) == 8 and "index.html" not in faq.files and "gui.html" in faq.files
    sample = get_corpus(SAMPLE_KB)
    assert sample.manifest and "manifest.json" in sample.files and len(sample.files) > 20
    names = [c.name for c in corpora_for(["kb_qa", "retrieval", "python_faq", "injection"])]
    assert names == [SAMPLE_KB, PYTHON_FAQ]
    assert [c.name for c in corpora_for(["kb_qa", "guardrails_benign"])] == [SAMPLE_KB]


def test_the_shipped_python_faq_labels_name_corpus_files() -> None:
    items = load_dataset(DATASET_DIR / "python_faq.jsonl")
    assert {s for i in items for s in i.expected_sources} <= set(PYTHON_FAQ_FILES)
    assert {i.split for i in items} == {"dev", "test"}
    assert "python_faq" in SHIPPED


def test_a_missing_corpus_says_to_run_make_eval_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PYTHON_FAQ_DIR_ENV, str(tmp_path / "nowhere"))
    corpus = get_corpus(PYTHON_FAQ)
    with pytest.raises(InvalidInput, match="make eval-data") as err:
        corpus.paths()
    assert err.value.code == "EVAL_CORPUS_MISSING"
    assert "python3.11-doc" in err.value.message
    # the local target refuses before it starts any server or writes any data
    with pytest.raises(InvalidInput, match="make eval-data"):
        LocalTarget.open(Settings(data_dir=tmp_path / "var"), corpora=[corpus])
    assert not (tmp_path / "var").exists()


def test_corpus_items_get_the_page_title_and_a_fingerprinted_kb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = faq_dir(tmp_path)
    monkeypatch.setenv(PYTHON_FAQ_DIR_ENV, str(folder))
    corpus = get_corpus(PYTHON_FAQ)
    items = list(corpus.items(chunking_strategy="structure", chunk_size=200, chunk_overlap=30))
    assert [opts.filename for _, opts in items] == list(PYTHON_FAQ_FILES)
    assert items[1][1].title == "Programming FAQ" and items[1][1].document_type == "faq"
    assert page_title(b"<title>Only a title</title>") == "Only a title"
    base = Settings(data_dir=tmp_path, mongodb_name="sb")
    faq, sample = eval_settings(base, corpus=corpus), eval_settings(base)
    assert faq.data_dir.name.startswith("python_faq-") and sample.data_dir.name.startswith("kb-")
    assert faq.mongodb_name != sample.mongodb_name
    (folder / "gui.html").write_text(PAGE + "<p>changed</p>")  # the bytes are fingerprinted
    assert eval_settings(base, corpus=corpus).data_dir != faq.data_dir


def item(n: int, split: str | None) -> EvalItem:
    return EvalItem(id=f"i{n}", dataset="python_faq", turns=("q",), split=split)


def test_select_keeps_test_out_of_limited_runs() -> None:
    items = [item(n, "dev" if n % 2 else "test") for n in range(20)]
    smoke = select(items, limit=4)
    assert len(smoke) == 4 and {i.split for i in smoke} == {"dev"}
    assert smoke[0].id == "i1" and smoke[-1].id == "i19"  # spread over the dev items
    assert {i.split for i in select(items, split="test")} == {"test"}
    assert len(select(items, split="test")) == 10
    assert len(select(items, split="test", limit=3)) == 3
    assert select(items) == items
    plain = [item(n, None) for n in range(5)]
    assert select(plain, split="test") == plain  # no splits: the whole set runs
    with pytest.raises(InvalidInput, match="no 'test' items"):
        select([item(1, "dev")], split="test")


def test_split_and_sections_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "python_faq.jsonl"
    line = {"id": "a", "question": "q?", "expected_sections": ["S ¶"], "split": "dev"}
    path.write_text(json.dumps(line) + "\n")
    [parsed] = load_dataset(path)
    assert parsed.split == "dev" and parsed.expected_sections == ("S ¶",)
    path.write_text(json.dumps({**line, "split": "train"}) + "\n")
    with pytest.raises(InvalidInput, match="'split' must be one of dev, test"):
        load_dataset(path)


def record(dataset: str, split: str | None, correct: bool, confidence: float) -> dict[str, Any]:
    metrics = {
        "answer.correct_rate": float(correct),
        "answer.confident_wrong": float(confidence >= 0.5 and not correct),
    }
    return {
        "id": f"{dataset}-{split}-{correct}-{confidence}",
        "dataset": dataset,
        "tags": [],
        "turns": ["q"],
        "split": split,
        "confidence": confidence,
        "correct": correct,
        "turn_log": [{"latency_ms": 10.0, "timings": {}, "usage": {}}],
        "metrics": metrics,
    }


RECORDS = [
    record("python_faq", "dev", True, 0.9),
    record("python_faq", "dev", False, 0.8),
    record("python_faq", "test", True, 0.85),
    record("python_faq", "test", True, 0.05),
    record("kb_qa", None, True, 0.95),
]


def test_summary_per_split_and_calibration() -> None:
    summary = summarize(RECORDS, load_prices())
    splits = summary["splits"]
    assert set(splits) == {"python_faq"}  # kb_qa has no splits
    assert splits["python_faq"]["dev"]["answer.correct_rate"] == 0.5
    assert splits["python_faq"]["test"]["answer.correct_rate"] == 1.0
    assert splits["python_faq"]["dev"]["answer.confident_wrong"] == 0.5
    assert splits["python_faq"]["test"]["items"] == 2.0
    assert summary["datasets"]["python_faq"]["answer.correct_rate"] == 0.75
    assert summary["datasets"]["python_faq"]["errors"] == 0.0
    cal = summary["calibration"]["python_faq"]
    assert cal["n"] == 4 and len(cal["bins"]) == 10
    assert [b["count"] for b in cal["bins"]] == [1, 0, 0, 0, 0, 0, 0, 0, 2, 1]
    # [0, 0.1): conf .05, right; [0.8, 0.9): conf .825, half right; [0.9, 1]: conf .9, right
    assert cal["ece"] == pytest.approx((0.95 + 2 * (0.825 - 0.5) + 0.1) / 4, abs=1e-4)
    assert summary["datasets"]["python_faq"]["calibration.ece"] == cal["ece"]
    assert "calibration.ece" in summary["overall"] and summary["n"]["calibration.ece"] == 5


def test_gates_name_datasets_and_splits() -> None:
    summary = summarize(RECORDS, load_prices())
    values = gate_values(summary)
    assert values["python_faq/test/answer.correct_rate"] == 1.0
    assert values["python_faq/answer.correct_rate"] == 0.75
    assert values["kb_qa/answer.correct_rate"] == 1.0
    assert values["answer.correct_rate"] == 0.8  # overall pools every dataset
    gate = Thresholds(
        minimums={"python_faq/dev/answer.correct_rate": 0.6, "python_faq/test/errors": 0.0},
        maximums={"python_faq/answer.confident_wrong": 0.1},
    )
    failures = check_bounds(values, gate)
    assert len(failures) == 2
    assert failures[0].startswith("python_faq/dev/answer.correct_rate = 0.5 is below")
    assert failures[1].startswith("python_faq/answer.confident_wrong = 0.25 is above")
    assert lower_is_better("python_faq/test/answer.confident_wrong")
    assert lower_is_better("python_faq/calibration.ece") and lower_is_better("kb_qa/errors")
    assert not lower_is_better("python_faq/test/answer.correct_rate")
    assert lower_is_better("cost.per_1000_turns_usd.openai/gpt-4o-mini")


def test_reports_show_splits_and_reliability_tables() -> None:
    results = {
        "run": {"id": "r", "target": "local"},
        "summary": summarize(RECORDS, load_prices()),
        "items": RECORDS,
    }
    md = render_markdown(results)
    assert "## Answers per dataset and split" in md
    assert "| python_faq | dev | 2 | 0.5 | 0.5 |" in md
    assert "| python_faq | test | 2 | 1 | 0 |" in md
    assert "| kb_qa | all | 1 | 1 | 0 |" in md
    assert "### Calibration: python_faq (ECE 0.425, 4 items)" in md
    assert "| [0.8, 0.9) | 2 | 0.825 | 0.5 |" in md and "| [0.9, 1.0] | 1 | 0.9 | 1 |" in md
    assert "| [0.5, 0.6) | 0 | – | – |" in md
    html = render_html(results)
    assert "Calibration: python_faq" in html and "share correct per confidence bin" in html
    assert "<td>test</td>" in html
    json.dumps(results)


def test_http_target_warns_that_it_cannot_choose_a_corpus(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from evals.cli import open_target

    args = argparse.Namespace(target="http://127.0.0.1:9", token="t", api_key=None)
    target = open_target(args, {}, ["kb_qa", "injection"])
    assert target.for_dataset("python_faq") is target
    assert capsys.readouterr().err == ""
    target.close()
    open_target(args, {}, ["kb_qa", "python_faq"]).close()
    assert "python_faq will be answered from what http://127.0.0.1:9 has ingested" in (
        capsys.readouterr().err
    )
