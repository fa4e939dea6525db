"""Per-request settings of the chat graph, read from ``config["configurable"]``.

One class, as in LangChain's retrieval-agent template: every knob a prompt engineer may turn in
the playground or an eval run (``--set key=value``) is a field here, with its default.

Layers, last wins: these code defaults <- the admin's runtime configuration
(``chains.runtime_config``) <- per-request values. A per-request value of ``None`` or ``""``
means "not set", so clients that send every field (the LangServe playground does) never
silently override the admin's choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from langchain_core.runnables import RunnableConfig, ensure_config

from loaders.errors import InvalidInput


@dataclass(kw_only=True)
class Configuration:
    """How one chat turn runs."""

    model: str = field(
        default="extractive",
        metadata={
            "description": "Chat model as 'provider/model': extractive, local, "
            "azure_openai/<deployment>, bedrock/<model id>, openai/<model>."
        },
    )
    fallback_model: str | None = field(
        default=None, metadata={"description": "Secondary provider tried after retries fail."}
    )
    connect_timeout: float | None = field(
        default=None,
        metadata={"description": "Seconds to connect to the model; None: its provider's."},
    )
    read_timeout: float | None = field(
        default=None,
        metadata={
            "description": "Seconds to wait for the reply, or for each token of a stream (not "
            "the total); None: its provider's (30, local 120). Never retried when it expires."
        },
    )
    temperature: float = field(default=0.1, metadata={"description": "Sampling temperature."})
    max_tokens: int = field(default=512, metadata={"description": "Answer token budget."})
    top_k: int = field(default=5, metadata={"description": "Passages retrieved per turn."})
    rerank: bool = field(
        default=True,
        metadata={"description": "Cross-encoder re-ranking, when RERANKER_MODEL_PATH is set."},
    )
    min_relevance_score: float = field(
        default=0.3,
        metadata={
            "description": "Passages below this fused score are ignored. A noise floor only: "
            "the best passage of an answerable question can score as low as an unanswerable "
            "one's, so whether the passages answer is the model's call."
        },
    )
    filters: dict[str, Any] | None = field(
        default=None, metadata={"description": "Metadata filter for retrieval."}
    )
    prompt_version: str | None = field(
        default=None, metadata={"description": "Prompt template version; None uses the active one."}
    )
    history_window: int = field(
        default=6, metadata={"description": "Past messages given to the model."}
    )
    mask_pii: bool = field(
        default=True, metadata={"description": "Mask PII in the question instead of refusing."}
    )
    check_injection: bool = field(default=True, metadata={"description": "Input guardrail."})
    check_toxicity: bool = field(default=True, metadata={"description": "Input guardrail."})
    check_groundedness: bool = field(default=True, metadata={"description": "Output guardrail."})
    verify_claims: bool = field(
        default=False,
        metadata={
            "description": "After the offline groundedness gate, a generative answer's sentences "
            "are checked by a model in one call within the turn's read timeout (off: no call)."
        },
    )
    judge_model: str | None = field(
        default=None,
        metadata={"description": "'provider/model' that verifies claims; None: the answer's."},
    )
    max_input_chars: int = field(default=4000, metadata={"description": "Seed: 4000."})
    max_output_chars: int = field(default=2000, metadata={"description": "Seed: 2000."})
    session_id: str | None = field(default=None, metadata={"description": "Chat session."})
    user_id: str | None = field(default=None, metadata={"description": "Set by the server."})
    handoff_state: str | None = field(
        default=None,
        metadata={"description": "Set by the server: the session's handoff state (a person "
                  "has the conversation when 'waiting' or 'with_agent')."},
    )  # fmt: skip

    @classmethod
    def from_runnable_config(cls, config: RunnableConfig | None = None) -> Configuration:
        """Runtime configuration, then the set (not ``None`` / ``""``) per-request fields.

        A served turn carries the runtime layer it read once (``RUNTIME_KEY``); a bare graph
        run (``langgraph dev``, evals) reads the active one here.
        """
        from chains.runtime_config import RUNTIME_KEY, runtime_layer

        configurable = ensure_config(config).get("configurable") or {}
        names = {f.name for f in fields(cls) if f.init}
        base = configurable.get(RUNTIME_KEY)
        values = dict(runtime_layer() if base is None else base)
        values.update({k: v for k, v in configurable.items() if v is not None and v != ""})
        return cls(**{k: _number(k, v) for k, v in values.items() if k in names})


def _number(name: str, value: Any) -> Any:
    """A numeric field given as text (the playground's ``str | float`` fields) as a number."""
    kind = _NUMERIC.get(name)
    if kind is None or not isinstance(value, str):
        return value
    try:
        return kind(value.strip())
    except ValueError:
        msg = f"'{name}' must be a number, not '{value}'."
        raise InvalidInput(msg, code="INVALID_CONFIG") from None


_NUMERIC: dict[str, type] = {
    f.name: type(f.default)
    for f in fields(Configuration)
    if type(f.default) in (int, float)  # bool is not numeric here
}
