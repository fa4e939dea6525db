"""A python_faq-like dataset end to end through the local target, on a tiny Sphinx-style HTML
FAQ of our own (``EVAL_PYTHON_FAQ_DIR``): its own fingerprinted eval KB, per-split figures,
calibration, dataset-scoped gates, ``--split`` / ``--limit``, the missing-corpus error, and
each dataset answered from its own corpus only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from evals.corpora import (
    PYTHON_FAQ,
    PYTHON_FAQ_DIR_ENV,
    PYTHON_FAQ_FILES,
    SAMPLE_KB,
    Corpus,
    get_corpus,
)
from evals.datasets import EvalItem
from evals.local_target import LocalTarget
from evals.runner import run_items
from evals.scoring import embedding_similarity
from loaders.settings import get_settings
from tests.kb_fixtures import make_settings

pytestmark = pytest.mark.integration

EXE = "How do I make an executable from a widget script?"
COPYRIGHT = "Who holds the copyright on Widgetron?"
PAGES = {
    "programming.html": (
        "Programming FAQ",
        [
            (2, "General Questions", ""),
            (
                3,
                EXE,
                "Run the command widgetc --onefile app.wd to freeze a widget script into one "
                "executable file. The executable is written to the dist folder next to it.",
            ),
            (
                3,
                "How do I reverse the order of a widget list?",
                "Call the reverse() method of the list; it reverses the items in place.",
            ),
        ],
    ),
    "general.html": (
        "General Widget FAQ",
        [
            (
                2,
                COPYRIGHT,
                "The Widgetron Foundation, a non-profit organisation, holds the copyright on "
                "Widgetron 2.0 and newer.",
            ),
            (
                2,
                "Is Widgetron free for commercial use?",
                "Yes. Widgetron is free for commercial use if the copyright notice is kept.",
            ),
        ],
    ),
    "design.html": ("Design FAQ", [(2, "Why braces?", "Braces make every block explicit.")]),
    "library.html": (
        "Library FAQ",
        [(2, "How do I run a task every five minutes?", "Call scheduler.every(300, task).")],
    ),
    "extending.html": (
        "Extending FAQ",
        [(2, "Can I write widget extensions in C?", "Yes: load them with load_extension().")],
    ),
    "windows.html": (
        "Windows FAQ",
        [(2, "How do I run a widget script on Windows?", "Type widget app.wd in a prompt.")],
    ),
    "gui.html": ("GUI FAQ", [(2, "Which GUI toolkits work?", "Widgetron ships a Tk binding.")]),
    "installed.html": (
        "Installed FAQ",
        [(2, "Why is Widgetron installed?", "Other programs you installed use it.")],
    ),
}
ITEMS = [
    {
        "id": "w1",
        "question": "how can I turn my widget script into a single executable file?",
        "reference_answer": "Run widgetc --onefile app.wd; the executable is written to dist.",
        "expected_sources": ["programming.html"],
        "expected_sections": [EXE],
        "answerable": True,
        "split": "dev",
    },
    {
        "id": "w2",
        "question": "who owns the copyright of widgetron?",
        "reference_answer": "The Widgetron Foundation holds the copyright on Widgetron 2.0+.",
        "expected_sources": ["general.html"],
        "expected_sections": [COPYRIGHT],
        "answerable": True,
        "split": "dev",
    },
    {"id": "w3", "question": "Does Widgetron run on a C64?", "answerable": False, "split": "dev"},
    {
        "id": "w4",
        "question": "can I use widgetron in a commercial product I sell?",
        "reference_answer": "Yes, as long as the copyright notice is kept.",
        "expected_sources": ["general.html"],
        "expected_sections": ["Is Widgetron free for commercial use?"],
        "answerable": True,
        "split": "test",
    },
    {
        "id": "w5",
        "question": ["How do I run a task every five minutes?", "and can I write extensions in C?"],
        "reference_answer": "Yes, load them with load_extension().",
        "expected_sources": ["extending.html"],
        "expected_sections": ["Can I write widget extensions in C?"],
        "answerable": True,
        "split": "test",
    },
    {"id": "w6", "question": "What is the licence price?", "answerable": False, "split": "test"},
]


def page(title: str, sections: list[tuple[int, str, str]]) -> str:
    def heading(level: int, text: str) -> str:
        return f'<h{level}>{text}<a class="headerlink" href="#x">¶</a></h{level}>'

    body = "".join(heading(lvl, h) + (f"<p>{p}</p>" if p else "") for lvl, h, p in sections)
    return (
        f"<html><head><title>{title} &#8212; Widgetron docs</title></head><body>"
        f'<div class="body">{heading(1, title)}{body}</div></body></html>'
    )


@pytest.fixture
def faq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "faq"
    folder.mkdir()
    assert set(PAGES) == set(PYTHON_FAQ_FILES)
    for name, (title, sections) in PAGES.items():
        (folder / name).write_text(page(title, sections), encoding="utf-8")
    monkeypatch.setenv(PYTHON_FAQ_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "python_faq.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    return path


@pytest.fixture
def cli_env(mongo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    monkeypatch.setenv("MONGODB_NAME", "evalfaq")
    monkeypatch.setenv("REDIS_URL", "")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_python_faq_like_run_end_to_end(
    faq: Path, dataset: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = cli_env / "gate.toml"
    gate.write_text(
        '[minimums]\n"python_faq/dev/answer.correct_rate" = 0.5\n'
        '"python_faq/retrieval.hit@5" = 0.5\n[maximums]\n"python_faq/errors" = 0\n'
    )
    args = ["eval", "run", "-q", "--dataset", str(dataset)]
    assert main([*args, "--out", str(cli_env / "all"), "--thresholds", str(gate)]) == 0
    assert "VERDICT: PASS" in capsys.readouterr().out
    results = json.loads((cli_env / "all" / "results.json").read_text())
    run, summary, items = results["run"], results["summary"], results["items"]
    assert run["datasets"] == {"python_faq": 6}
    assert list(run["corpora"]) == [PYTHON_FAQ]
    assert Path(run["kb_dir"]).name.startswith("python_faq-") and run["chunks"] >= 8
    assert [p.name for p in (cli_env / "var" / "evals").iterdir()] == [Path(run["kb_dir"]).name]
    assert all(set(i["retrieved_sources"]) <= set(PAGES) for i in items)
    assert all(isinstance(i["confidence"], float) for i in items)
    by_id = {i["id"]: i for i in items}
    w1 = by_id["w1"]
    assert w1["metrics"]["answer.on_target_rate"] == 1.0, w1
    assert any(EXE in s for s in w1["cited_sections"])
    assert set(summary["splits"]["python_faq"]) == {"dev", "test"}
    assert summary["splits"]["python_faq"]["test"]["items"] == 3.0
    cal = summary["calibration"]["python_faq"]
    answered = [  # refusals are left out of calibration: their confidence is 0 by definition
        i for i in items
        if i["metrics"].get("answer.answered_rate", 1.0) == 1.0
        and not i["metrics"].get("answer.refusal_correctness", 0.0)
    ]  # fmt: skip
    assert 0 < cal["n"] == len(answered) == sum(b["count"] for b in cal["bins"])
    md = (cli_env / "all" / "report.md").read_text()
    assert "| python_faq | test | 3 |" in md and "### Calibration: python_faq" in md
    assert "Calibration: python_faq" in (cli_env / "all" / "report.html").read_text()

    assert main([*args, "--split", "test", "--out", str(cli_env / "test")]) == 0
    test_run = json.loads((cli_env / "test" / "results.json").read_text())
    assert {i["id"] for i in test_run["items"]} == {"w4", "w5", "w6"}
    assert test_run["run"]["split"] == "test"
    assert main([*args, "--limit", "2", "--out", str(cli_env / "smoke")]) == 0
    smoke = json.loads((cli_env / "smoke" / "results.json").read_text())
    assert [i["id"] for i in smoke["items"]] == ["w1", "w3"]  # dev only, first and last
    assert len(list((cli_env / "var" / "evals").iterdir())) == 1  # the eval KB is reused


def test_missing_corpus_fails_the_run_with_a_hint(
    dataset: Path, cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv(PYTHON_FAQ_DIR_ENV, str(cli_env / "no-such-dir"))
    assert main(["eval", "run", "-q", "--dataset", str(dataset)]) == 2
    err = capsys.readouterr().err
    assert "python_faq eval corpus is missing" in err and "make eval-data" in err


def test_each_dataset_is_answered_from_its_own_corpus(
    faq: Path, mongo: Any, tmp_path: Path
) -> None:
    """A stand-in sample corpus about the same topic must never answer python_faq (and the
    FAQ never answers kb_qa): one eval stack, data dir and database per corpus."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "widget-exports.md").write_text(
        "# Widget exports\n\nTo make an executable from a widget script, open the Widget app "
        "and choose Export > Executable. The file is saved to your Downloads folder.\n"
    )
    sample = Corpus(SAMPLE_KB, other, ("widget-exports.md",))
    settings = make_settings(tmp_path / "var", mongo.uri)
    target = LocalTarget.open(settings, corpora=[sample, get_corpus(PYTHON_FAQ)])
    try:
        corpora = target.describe()["corpora"]
        assert set(corpora) == {SAMPLE_KB, PYTHON_FAQ}
        assert corpora[SAMPLE_KB]["kb_dir"] != corpora[PYTHON_FAQ]["kb_dir"]
        assert target.for_dataset("kb_qa") is target.stacks[SAMPLE_KB]
        assert target.for_dataset("python_faq") is target.stacks[PYTHON_FAQ]
        question = ("How do I make an executable from a widget script?",)
        items = [
            EvalItem(id="k", dataset="kb_qa", turns=question, answerable=True),
            EvalItem(id="p", dataset="python_faq", turns=question, answerable=True),
        ]
        records = run_items(
            target, items, config={}, similarity=embedding_similarity(target.embeddings)
        )
    finally:
        target.close()
    kb, py = records
    assert kb["retrieved_sources"] and set(kb["retrieved_sources"]) == {"widget-exports.md"}
    assert py["retrieved_sources"] and set(py["retrieved_sources"]) <= set(PAGES)
    assert "widgetc --onefile" in py["answer"] and "Downloads" not in py["answer"]
