"""Optional LangSmith tracing, switched on by ``LANGSMITH_TRACING=true`` and an API key.

Traces go through LangSmith's own client, configured once at start-up with an anonymizer that
masks the PII our guardrails detect (emails, phone and card numbers...), so a trace never holds
more of a customer's data than the stored history does. Off by default: nothing leaves the
machine unless the operator asks for it.
"""

from __future__ import annotations

import logging
from typing import Any

from chains.guardrails.pii import find_pii, mask
from loaders.settings import Settings

log = logging.getLogger(__name__)


def mask_strings(data: Any) -> Any:
    """Mask PII in every string of a run's inputs or outputs (nested dicts and lists)."""
    if isinstance(data, str):
        matches = find_pii(data)
        return mask(data, matches) if matches else data
    if isinstance(data, dict):
        return {k: mask_strings(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [mask_strings(v) for v in data]
    return data


def configure_tracing(settings: Settings) -> bool:
    """Point LangChain's tracer at LangSmith when asked to; returns whether tracing is on."""
    if not settings.langsmith_tracing:
        return False
    if not settings.langsmith_api_key:
        log.warning("LANGSMITH_TRACING is true but LANGSMITH_API_KEY is unset: tracing stays off")
        return False
    from langsmith import Client
    from langsmith.run_trees import configure

    client = Client(
        api_url=settings.langsmith_endpoint,
        api_key=settings.langsmith_api_key,
        anonymizer=mask_strings,
    )
    # The project comes from LANGSMITH_PROJECT in the process environment, read by LangSmith.
    configure(client=client, enabled=True)
    log.info("LangSmith tracing on: %s", settings.langsmith_endpoint)
    return True


def stop_tracing() -> None:
    """Flush pending traces and switch tracing off (shutdown, and between test apps)."""
    from langchain_core.tracers.langchain import wait_for_all_tracers
    from langsmith.run_trees import configure

    wait_for_all_tracers()
    configure(client=None, enabled=None)
