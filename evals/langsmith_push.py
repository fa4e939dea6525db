"""Optional: push a finished run to LangSmith (``eval run --langsmith``, needs LANGSMITH_API_KEY).

The dataset is created (or extended with missing items) under ``supportbot-<datasets>``, then
``langsmith.evaluate`` records an experiment whose outputs are the answers this run already
produced and whose feedback is the metrics it already computed, so LangSmith shows the same
numbers as the local reports and nothing is re-run. Without a key nothing is sent anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from loaders.errors import InvalidInput, ServiceUnavailable, SupportbotError
from loaders.settings import Settings

# What the SDK logs, instead of raising, when its background upload of runs or feedback fails.
_LOST_UPLOAD = ("Failed to batch ingest", "Failed to multipart ingest", "Failed to send compressed")
_LOST_FEEDBACK = ("Error creating feedback", "Error running evaluator")


def dataset_name(results: dict[str, Any]) -> str:
    return "supportbot-" + "+".join(sorted(results["run"].get("datasets", {})))


def examples(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One LangSmith example per item: inputs (id, turns), reference outputs, tags."""
    return [
        {
            "inputs": {"id": r["id"], "turns": r["turns"]},
            "reference_outputs": {
                "reference_answer": r.get("reference_answer"),
                "expected_sources": r.get("expected_sources", []),
                "answerable": r.get("answerable"),
                "expected": r.get("expected"),
            },
            "metadata": {"dataset": r["dataset"], "tags": r.get("tags", [])},
        }
        for r in results["items"]
    ]


def push(results: dict[str, Any], settings: Settings) -> str:
    """Upload the run; returns a one-line description of what was pushed.

    Raises:
        InvalidInput: no API key is configured.
        SupportbotError: LangSmith refused the key (``EVAL_LANGSMITH_UNAUTHORIZED``, 401) or
            failed (``EVAL_LANGSMITH_FAILED``, 503), including uploads the SDK only logs.
    """
    if not settings.langsmith_api_key:
        raise InvalidInput(
            "Set LANGSMITH_API_KEY to push to LangSmith; everything else runs offline.",
            code="EVAL_LANGSMITH_NOT_CONFIGURED",
        )
    from langsmith import Client
    from langsmith.utils import LangSmithAuthError, LangSmithError

    client = Client(api_url=settings.langsmith_endpoint, api_key=settings.langsmith_api_key)
    where = settings.langsmith_endpoint
    try:
        with _sdk_failures() as failures:
            name, new = _upload(client, results)
            client.flush()  # runs and feedback go out on a background thread
    except LangSmithAuthError as exc:
        raise SupportbotError(
            f"LangSmith at {where} rejected LANGSMITH_API_KEY: {_first_line(exc)}",
            code="EVAL_LANGSMITH_UNAUTHORIZED",
            status=401,
        ) from exc
    except LangSmithError as exc:
        raise ServiceUnavailable(
            f"Pushing to LangSmith at {where} failed: {_first_line(exc)}",
            code="EVAL_LANGSMITH_FAILED",
        ) from exc
    if failures:
        raise ServiceUnavailable(
            f"LangSmith at {where} did not take the experiment's runs or feedback: {failures[0]}",
            code="EVAL_LANGSMITH_FAILED",
            details={"failures": failures},
        )
    count = len(results["items"])
    return f"pushed {count} item(s) to LangSmith dataset {name!r} ({new} new example(s))"


def _upload(client: Any, results: dict[str, Any]) -> tuple[str, int]:
    """Dataset + missing examples, then the experiment over this run's items only."""
    from langsmith import evaluate

    name = dataset_name(results)
    if client.has_dataset(dataset_name=name):
        dataset = client.read_dataset(dataset_name=name)
        known = {(e.inputs or {}).get("id") for e in client.list_examples(dataset_id=dataset.id)}
    else:
        dataset = client.create_dataset(name, description="supportbot eval items")
        known = set()
    new = [e for e in examples(results) if e["inputs"]["id"] not in known]
    if new:
        client.create_examples(dataset_id=dataset.id, examples=new)
    by_id = {r["id"]: r for r in results["items"]}

    def recorded(inputs: dict[str, Any]) -> dict[str, Any]:
        record = by_id.get(inputs["id"], {})
        return {"answer": record.get("answer", ""), "metrics": record.get("metrics", {})}

    def metrics(outputs: dict[str, Any]) -> dict[str, Any]:
        return {"results": [{"key": k, "score": v} for k, v in outputs["metrics"].items()]}

    # The dataset may hold items of earlier, larger runs: score only the ones this run has.
    ours = [
        e
        for e in client.list_examples(dataset_id=dataset.id)
        if (e.inputs or {}).get("id") in by_id
    ]
    evaluate(
        recorded,
        data=ours,
        evaluators=[metrics],
        experiment_prefix=f"supportbot-{results['run'].get('id', '')}",
        metadata={k: v for k, v in results["run"].items() if isinstance(v, str | int | float)},
        client=client,
    )
    return name, len(new)


@contextmanager
def _sdk_failures() -> Iterator[list[str]]:
    """Collect the upload failures the SDK's background threads log rather than raise."""
    failures: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith(_LOST_UPLOAD + _LOST_FEEDBACK):
                failures.append(_first_line(message))

    handler = Collect(level=logging.WARNING)
    sdk_log = logging.getLogger("langsmith")
    sdk_log.addHandler(handler)
    try:
        yield failures
    finally:
        sdk_log.removeHandler(handler)


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
