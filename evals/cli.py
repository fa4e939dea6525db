"""``supportbot eval run`` and ``supportbot eval compare``: argument parsing and exit codes.

Exit codes: 0 fine; 1 a gate failed (regression in ``compare``, a bound in ``run
--thresholds``); 2 bad arguments or data (unknown ``--set`` key, unreadable dataset or run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from loaders.errors import InvalidInput, SupportbotError

NOT_SETTABLE = {"session_id", "user_id"}


def settable_keys() -> tuple[set[str], set[str]]:
    """(per-turn configurable fields, eval-KB ingestion keys) that ``--set`` accepts."""
    from chains.configuration import Configuration
    from evals.local_target import INGEST_KEYS

    return {f.name for f in fields(Configuration)} - NOT_SETTABLE, set(INGEST_KEYS)


def parse_sets(pairs: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``key=value`` pairs -> (turn config, ingestion overrides); values parsed as JSON when
    they are JSON (``top_k=8``, ``mask_pii=false``), else kept as strings (``model=openai/x``)."""
    turn_keys, ingest_keys = settable_keys()
    config: dict[str, Any] = {}
    ingest: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--set needs key=value, got {pair!r}.", code="EVAL_BAD_SET")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key in turn_keys:
            config[key] = value
        elif key in ingest_keys:
            ingest[key] = value
        else:
            valid = ", ".join(sorted(turn_keys | ingest_keys))
            raise InvalidInput(f"Unknown --set key {key!r}; valid: {valid}.", code="EVAL_BAD_SET")
    return config, ingest


def open_target(args: argparse.Namespace, ingest: dict[str, Any], datasets: list[str]) -> Any:
    """The local target over the corpora of ``datasets``, or an HTTP one (whose server must
    hold the datasets' documents already: it cannot be given a corpus)."""
    from loaders.settings import get_settings

    settings = get_settings()
    if args.target == "local":
        from evals.corpora import corpora_for
        from evals.local_target import LocalTarget

        return LocalTarget.open(settings, ingest, corpora_for(datasets))
    if not args.target.startswith(("http://", "https://")):
        raise InvalidInput("--target is 'local' or an http(s):// URL.", code="EVAL_BAD_TARGET")
    if ingest:
        raise InvalidInput(
            "Chunking belongs to the server's knowledge base: --set chunking/chunk_size/"
            "chunk_overlap only work with --target local.",
            code="EVAL_BAD_SET",
        )
    from evals.corpora import SAMPLE_KB, corpus_name
    from evals.http_target import HttpTarget

    others = [d for d in datasets if corpus_name(d) != SAMPLE_KB]
    if others:
        print(
            f"note: {', '.join(others)} will be answered from what {args.target} has ingested; "
            "its corpus must be ingested there (or pass --dataset kb_qa).",
            file=sys.stderr,
        )
    return HttpTarget(
        args.target,
        token=args.token or settings.supportbot_token,
        api_key=args.api_key or settings.supportbot_api_key,
    )


def similarity_for(target: Any) -> Any:
    """The local target's own embedding model, else one built from settings (MiniLM)."""
    from evals.scoring import embedding_similarity

    embeddings = getattr(target, "embeddings", None)
    if embeddings is None:
        from loaders.embeddings import make_embeddings
        from loaders.settings import get_settings

        settings = get_settings()
        embeddings = make_embeddings(settings.embedding_spec, settings)
    return embedding_similarity(embeddings)


def cmd_run(args: argparse.Namespace) -> int:
    from evals.datasets import SHIPPED, load_dataset, resolve, select
    from evals.runner import build_results, run_items, run_meta, write_reports
    from evals.speed import load_prices
    from loaders.settings import get_settings

    started = time.perf_counter()
    config, ingest = parse_sets(args.set or [])
    items = []
    counts: dict[str, int] = {}
    for name in args.dataset or list(SHIPPED):
        chosen = select(load_dataset(resolve(name)), split=args.split, limit=args.limit)
        counts[chosen[0].dataset] = len(chosen)
        items += chosen
    judge = None
    if args.judge:
        from evals.judge import make_judge

        judge = make_judge(args.judge, get_settings())
    target = open_target(args, ingest, list(counts))
    try:
        if hasattr(target, "check_config"):
            target.check_config(config)
        records = run_items(
            target,
            items,
            config=config,
            similarity=similarity_for(target),
            judge=judge,
            progress=not args.quiet,
        )
        meta = run_meta(
            target=target,
            datasets=counts,
            config={**config, **ingest},
            limit=args.limit,
            split=args.split,
            judge=args.judge,
            started=started,
        )
    finally:
        target.close()
    results = build_results(records, meta, load_prices())
    out = Path(args.out) if args.out else get_settings().data_dir / "evals" / "runs" / meta["id"]
    paths = write_reports(results, out)
    print(Path(paths["markdown"]).read_text(encoding="utf-8"))
    print("reports: " + ", ".join(str(p) for p in paths.values()))
    if args.langsmith:
        from evals.langsmith_push import push

        print(push(results, get_settings()))
    return _bounds_verdict(results, args.thresholds)


def _bounds_verdict(results: dict[str, Any], path: str | None) -> int:
    if not path:
        return 0
    from evals.gates import check_bounds, gate_values, load_thresholds

    failures = check_bounds(gate_values(results["summary"]), load_thresholds(Path(path)))
    for failure in failures:
        print(f"GATE FAILED: {failure}")
    print("VERDICT: " + ("FAIL" if failures else f"PASS (thresholds {path})"))
    return 1 if failures else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from evals.gates import compare, gate_values, load_thresholds, render_compare
    from evals.runner import load_results

    a, b = load_results(Path(args.run_a)), load_results(Path(args.run_b))
    thresholds = load_thresholds(Path(args.thresholds))
    deltas = compare(gate_values(a["summary"]), gate_values(b["summary"]), thresholds)
    print(render_compare(deltas, args.run_a, args.run_b, all_metrics=args.all))
    return 1 if any(d.regression for d in deltas) else 0


def cmd_gate(args: argparse.Namespace) -> int:
    """Run the groundedness gate on the labelled gate set; exit 1 below the given minimums."""
    from evals.gate_set import (
        GATE_SET,
        load_gate_set,
        offline_gate,
        run_gate,
        summarize_gate,
        verified_gate,
    )
    from evals.report_gate import render_gate, render_misses
    from loaders.settings import get_settings

    started = time.perf_counter()
    cases = load_gate_set(Path(args.dataset) if args.dataset else GATE_SET, args.split)
    if args.limit:
        cases = cases[: args.limit]
    gate = offline_gate(similarity_for(None))
    if args.verify:
        from chains.guardrails.verify import verifier_model

        gate = verified_gate(gate, verifier_model(args.verify, get_settings()))
    records = run_gate(cases, gate)
    summary = summarize_gate(records)
    meta = {"gate": f"offline + {args.verify}" if args.verify else "offline", "cases": len(cases),
            "split": args.split, "duration_s": round(time.perf_counter() - started, 1)}  # fmt: skip
    report = render_gate(summary, meta) + render_misses(records)
    out = Path(args.out) if args.out else get_settings().data_dir / "evals" / "gate"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report, encoding="utf-8")
    results = {"run": meta, "summary": summary, "items": records}
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(report)
    return _gate_verdict(summary["all"], args.min_precision, args.min_recall)


def _gate_verdict(metrics: dict[str, Any], precision: float | None, recall: float | None) -> int:
    failures = [
        f"{name} {metrics[name]} < {bound}"
        for name, bound in (("precision", precision), ("recall", recall))
        if bound is not None and (metrics[name] or 0.0) < bound
    ]
    for failure in failures:
        print(f"GATE FAILED: {failure}")
    return 1 if failures else 0


def add_eval_parser(sub: Any) -> None:
    """Register ``eval run``, ``eval compare`` and ``eval gate`` on ``supportbot``."""
    from evals.gates import DEFAULT_THRESHOLDS

    ev = sub.add_parser("eval", help="evaluate the bot on datasets; compare runs")
    ev_sub = ev.add_subparsers(dest="eval_command", required=True)
    run = ev_sub.add_parser("run", help="run datasets through the bot and write reports")
    run.add_argument(
        "--dataset",
        action="append",
        help="path or shipped name; repeatable "
        "(default: kb_qa, retrieval, python_faq, injection, guardrails_benign)",
    )
    run.add_argument("--target", default="local", help="'local' or http://host:port")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a chat setting (model, prompt_version, top_k...) or, "
        "locally, chunking/chunk_size/chunk_overlap; repeatable",
    )
    run.add_argument("--out", help="report directory (default <DATA_DIR>/evals/runs/<id>)")
    run.add_argument(
        "--limit", type=int, help="items per dataset, evenly spread (dev split only, if any)"
    )
    run.add_argument(
        "--split",
        choices=("dev", "test"),
        help="only this split of datasets that have splits (others run whole)",
    )
    run.add_argument("--judge", help="optional LLM judge as provider/model")
    run.add_argument("--token", help="bearer token for an HTTP target (or SUPPORTBOT_TOKEN)")
    run.add_argument("--api-key", help="API key for an HTTP target (or SUPPORTBOT_API_KEY)")
    run.add_argument("--thresholds", help="TOML of [minimums]/[maximums] the run must meet")
    run.add_argument("--langsmith", action="store_true", help="push to LangSmith (needs key)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=guarded(cmd_run))
    cmp = ev_sub.add_parser("compare", help="deltas of two runs and a regression verdict")
    cmp.add_argument("run_a", help="baseline run directory or results.json")
    cmp.add_argument("run_b", help="candidate run directory or results.json")
    cmp.add_argument("--thresholds", default=str(DEFAULT_THRESHOLDS))
    cmp.add_argument("--all", action="store_true", help="also list per-node latency and costs")
    cmp.set_defaults(func=guarded(cmd_compare))
    gate = ev_sub.add_parser("gate", help="precision/recall of the groundedness gate")
    gate.add_argument("--dataset", help="gate set JSONL (default evals/datasets/gate.jsonl)")
    gate.add_argument("--split", choices=("dev", "test"), help="only this split")
    gate.add_argument("--limit", type=int, help="first N cases (after --split)")
    gate.add_argument("--verify", metavar="PROVIDER/MODEL", help="add the model verification")
    gate.add_argument("--out", help="report directory (default <DATA_DIR>/evals/gate)")
    gate.add_argument("--min-precision", type=float, help="exit 1 below this (all cases run)")
    gate.add_argument("--min-recall", type=float, help="exit 1 below this (all cases run)")
    gate.set_defaults(func=guarded(cmd_gate))


def guarded(fn: Any) -> Any:
    """Domain errors become a one-line message and exit code 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except SupportbotError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2

    return run
