"""Optional: push a finished run to LangSmith (``eval run --langsmith``, needs LANGSMITH_API_KEY).

The dataset is created (or extended with missing items) under ``supportbot-<datasets>``, then
``langsmith.evaluate`` records an experiment whose outputs are the answers this run already
produced and whose feedback is the metrics it already computed, so LangSmith shows the same
numbers as the local reports and nothing is re-run. Without a key nothing is sent anywhere.
"""

from __future__ import annotations

from typing import Any

from loaders.errors import InvalidInput
from loaders.settings import Settings


def dataset_name(results: dict[str, Any]) -> str:
    return "supportbot-" + "+".join(sorted(results["run"].get("datasets", {})))


def examples(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One LangSmith example per item: inputs (id, turns), reference outputs, tags."""
    return [
        {
            "inputs": {"id": r["id"], "turns": r["turns"]},
            "outputs": {
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
    """Upload the run; returns a one-line description of what was pushed."""
    if not settings.langsmith_api_key:
        raise InvalidInput(
            "Set LANGSMITH_API_KEY to push to LangSmith; everything else runs offline.",
            code="EVAL_LANGSMITH_NOT_CONFIGURED",
        )
    from langsmith import Client, evaluate

    client = Client(api_url=settings.langsmith_endpoint, api_key=settings.langsmith_api_key)
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

    evaluate(
        recorded,
        data=client.list_examples(dataset_id=dataset.id),
        evaluators=[metrics],
        experiment_prefix=f"supportbot-{results['run'].get('id', '')}",
        metadata={k: v for k, v in results["run"].items() if isinstance(v, str | int | float)},
        client=client,
    )
    return f"pushed {len(by_id)} item(s) to LangSmith dataset {name!r} ({len(new)} new example(s))"
