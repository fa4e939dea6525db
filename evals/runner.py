"""Run dataset items through a target, score them, and write the run's reports.

Each item gets a fresh session on the target of its dataset (locally: the stack over that
dataset's corpus); multi-turn items send their turns in order in that session and
only the last answer is scored. A target failure on one item is recorded (``errors``) and the
run goes on, so one bad item does not cost a whole run.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.datasets import EvalItem
from evals.scoring import Judge, Similarity, failed_item, score_item
from evals.summary import summarize
from evals.turns import Target
from loaders.errors import SupportbotError

log = logging.getLogger(__name__)
RESULTS = "results.json"


def run_items(
    target: Target,
    items: list[EvalItem],
    *,
    config: dict[str, Any],
    similarity: Similarity,
    judge: Judge | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One record per item, in dataset order."""
    from tqdm import tqdm

    records = []
    for item in tqdm(items, desc="Evaluating", unit="item", disable=not progress):
        try:
            bot = target.for_dataset(item.dataset)
            session = bot.new_session()
            turns = [bot.ask(session, q, config) for q in item.turns]
        except SupportbotError as exc:
            log.warning("item %s failed: %s", item.id, exc.message)
            records.append(failed_item(item, f"{exc.code}: {exc.message}"))
            continue
        records.append(score_item(item, turns, similarity, judge))
    return records


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def build_results(
    records: list[dict[str, Any]], meta: dict[str, Any], prices: dict[str, dict[str, float]]
) -> dict[str, Any]:
    return {"run": meta, "summary": summarize(records, prices), "items": records}


def run_meta(
    *,
    target: Target,
    datasets: dict[str, int],
    config: dict[str, Any],
    limit: int | None,
    judge: str | None,
    started: float,
    split: str | None = None,
) -> dict[str, Any]:
    return {
        "id": datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "datasets": datasets,
        "config": config,
        "limit": limit,
        "split": split,
        "judge": judge,
        "git_commit": git_commit(),
        **target.describe(),
    }


def write_reports(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """``results.json`` (for machines and ``eval compare``), ``report.md``, ``report.html``."""
    from evals.report_html import render_html
    from evals.report_md import render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / RESULTS,
        "markdown": out_dir / "report.md",
        "html": out_dir / "report.html",
    }
    paths["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(results), encoding="utf-8")
    paths["html"].write_text(render_html(results), encoding="utf-8")
    return paths


def load_results(path: Path) -> dict[str, Any]:
    """A run's results from its directory or its ``results.json``."""
    file = path / RESULTS if path.is_dir() else path
    if not file.is_file():
        from loaders.errors import NotFound

        raise NotFound(f"No eval results at {file}.", code="EVAL_RUN_NOT_FOUND")
    data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return data
