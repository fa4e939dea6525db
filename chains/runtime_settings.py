"""What an admin may change at run time, how a change is checked, and what it does to a turn.

Settings are stored in the seed's ``ai_configurations.settings`` shape (``llm``, ``embedding``,
``retrieval``, ``guardrails``) and shown in the admin API's shape (``llm_provider``,
``embedding_provider``, ``retrieval_config``, ``guardrails``). Every accepted key maps to a
``Configuration`` field (``to_configurable``); keys our code cannot honour are refused, never
stored as knobs that do nothing.
"""

from __future__ import annotations

import copy
from typing import Any

from chains.configuration import Configuration
from loaders.errors import InvalidInput, ServiceUnavailable, SupportbotError
from loaders.settings import Settings

# API provider names (the seed's) -> our chat provider names (chains.providers.CHAT_PROVIDERS).
LLM_PROVIDERS = {
    "extractive": "extractive",
    "azure-openai": "azure_openai",
    "azure_openai": "azure_openai",
    "aws-bedrock": "bedrock",
    "bedrock": "bedrock",
    "openai": "openai",
    "local": "local",
}
_API_PROVIDER = {"extractive": "extractive", "azure_openai": "azure-openai",
                 "bedrock": "aws-bedrock", "openai": "openai", "local": "local"}  # fmt: skip
_SINGLE_MODEL = ("extractive", "local")  # providers with one model, named like the provider
# API section -> stored section, and API key -> stored key where they differ.
SECTIONS = {
    "llm_provider": "llm",
    "embedding_provider": "embedding",
    "retrieval_config": "retrieval",
    "guardrails": "guardrails",
}
_RENAMED = {("llm", "active"): "provider", ("embedding", "active"): "provider"}


class ReindexRequired(SupportbotError):
    """The embedding model of an index cannot change under it."""

    code = "REINDEX_REQUIRED"
    status = 409


def defaults(settings: Settings, *, reranker_available: bool) -> dict[str, Any]:
    """The code defaults (``Configuration()``) and the deployment's embedding model."""
    cfg = Configuration()
    provider, model = _split(settings.llm or cfg.model)  # LLM=local: the deployment's default
    emb_provider, _, emb_model = settings.embedding_spec.partition("/")
    return {
        "llm": {
            "provider": provider,
            "model": model,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens,
            "fallback_model": cfg.fallback_model,
            "connect_timeout": cfg.connect_timeout,
            "read_timeout": cfg.read_timeout,
        },
        "embedding": {"provider": emb_provider, "model": emb_model},
        "retrieval": {
            "top_k": cfg.top_k,
            "min_relevance_score": cfg.min_relevance_score,
            "reranking_enabled": reranker_available and cfg.rerank,
        },
        "guardrails": {
            "content_safety": cfg.check_toxicity,
            "pii_detection": True,
            "mask_pii": cfg.mask_pii,
            "injection_detection": cfg.check_injection,
            "groundedness_check": cfg.check_groundedness,
            "claim_verification": cfg.verify_claims,
            "judge_model": cfg.judge_model,
            "max_input_length": cfg.max_input_chars,
            "max_output_length": cfg.max_output_chars,
        },
    }


def to_configurable(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored settings -> ``Configuration`` field values (the runtime layer of a turn)."""
    llm, ret, grd = stored["llm"], stored["retrieval"], stored["guardrails"]
    return {
        "model": chat_spec(llm["provider"], llm["model"]),
        "fallback_model": llm.get("fallback_model") or None,
        "temperature": llm["temperature"],
        "max_tokens": llm["max_tokens"],
        "connect_timeout": llm.get("connect_timeout"),
        "read_timeout": llm.get("read_timeout"),
        "top_k": ret["top_k"],
        "min_relevance_score": ret["min_relevance_score"],
        "rerank": ret["reranking_enabled"],
        "check_toxicity": grd["content_safety"],
        "mask_pii": grd["mask_pii"],
        "check_injection": grd["injection_detection"],
        "check_groundedness": grd["groundedness_check"],
        "verify_claims": grd.get("claim_verification", False),
        "judge_model": grd.get("judge_model") or None,
        "max_input_chars": grd["max_input_length"],
        "max_output_chars": grd["max_output_length"],
    }


def to_api(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored settings in the admin API's shape (seed: Get System Configuration)."""
    out: dict[str, Any] = {}
    for api_section, section in SECTIONS.items():
        values = dict(stored[section])
        if "provider" in values:
            provider = values.pop("provider")
            values = {"active": _API_PROVIDER.get(provider, provider), **values}
        out[api_section] = values
    # Rule-based detectors have no score; shown so clients see the key exists but is unset.
    out["guardrails"]["toxicity_threshold"] = None
    return out


def apply_update(
    current: dict[str, Any],
    patch: dict[str, dict[str, Any]],
    settings: Settings,
    *,
    reranker_available: bool,
) -> tuple[dict[str, Any], list[str]]:
    """Merge an API-shaped partial update into ``current``; the new settings and changed keys.

    Raises:
        InvalidInput: 422 for values the deployment cannot honour (unconfigured provider or
            judge model, no reranker, PII detection off, a toxicity threshold).
        ReindexRequired: 409 when the embedding model would change.
    """
    new = copy.deepcopy(current)
    for api_section, values in patch.items():
        section = SECTIONS[api_section]
        for key, value in values.items():
            new[section][_RENAMED.get((section, key), key)] = value
    _check_embedding(current["embedding"], patch.get("embedding_provider") or {})
    new["embedding"] = dict(current["embedding"])
    _resolve_llm(current["llm"], new["llm"], patch.get("llm_provider") or {}, settings)
    _check_retrieval(new["retrieval"], settings, reranker_available)
    _check_guardrails(new["guardrails"])
    _check_judge(new["guardrails"], settings)
    return new, changed_keys(current, new)


def validate(stored: dict[str, Any], settings: Settings, *, reranker_available: bool) -> None:
    """Check a whole stored version again (rolling back to it must not bypass the checks)."""
    llm = stored["llm"]
    _require_configured(chat_spec(llm["provider"], llm["model"]), settings)
    if llm.get("fallback_model"):
        _require_configured(llm["fallback_model"], settings)
    _check_timeouts(llm)
    _check_retrieval(stored["retrieval"], settings, reranker_available)
    _check_guardrails(stored["guardrails"])
    _check_judge(stored["guardrails"], settings)


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``["llm_provider.active", ...]``: API paths whose value differs."""
    a, b = to_api(old), to_api(new)
    return [
        f"{section}.{key}"
        for section in SECTIONS
        for key in b[section]
        if a[section].get(key) != b[section].get(key)
    ]


def chat_spec(provider: str, model: str | None) -> str:
    return provider if provider in _SINGLE_MODEL else f"{provider}/{model}"


def _split(spec: str) -> tuple[str, str]:
    from chains.providers import parse_chat_spec

    return parse_chat_spec(spec)


def _resolve_llm(
    old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any], settings: Settings
) -> None:
    """Normalise the provider; pick its default model on a switch; refuse unusable ones."""
    raw = str(new["provider"]).strip().lower()
    if raw not in LLM_PROVIDERS:
        raise InvalidInput(
            f"Unknown LLM provider '{new['provider']}'. "
            f"Valid: {', '.join(_API_PROVIDER.values())}.",
            code="UNKNOWN_CHAT_PROVIDER",
            details={"valid": list(_API_PROVIDER.values())},
        )
    provider = new["provider"] = LLM_PROVIDERS[raw]
    if provider in _SINGLE_MODEL:
        if str(patch.get("model") or provider).strip() != provider:
            raise InvalidInput(
                f"The {provider} provider has one model; set llm_provider.active to the "
                f"provider of '{patch['model']}' too.",
                code="MODEL_REQUIRES_PROVIDER",
            )
        new["model"] = provider
    elif "model" not in patch and provider != old["provider"]:
        default = {"azure_openai": settings.azure_openai_deployment,
                   "bedrock": settings.aws_bedrock_model}.get(provider)  # fmt: skip
        if not default:
            raise InvalidInput(
                f"Switching to '{_API_PROVIDER[provider]}' needs llm_provider.model too.",
                code="MODEL_REQUIRED",
            )
        new["model"] = default
    new["model"] = str(new["model"]).strip()
    if not new["model"]:
        raise InvalidInput("llm_provider.model is empty.", code="MODEL_REQUIRED")
    new["fallback_model"] = _canonical(new.get("fallback_model"))
    _require_configured(chat_spec(provider, new["model"]), settings)
    if new["fallback_model"]:
        _require_configured(new["fallback_model"], settings)
    _check_timeouts(new)


def _check_timeouts(llm: dict[str, Any]) -> None:
    """``connect_timeout`` / ``read_timeout``: seconds for the active model, or null (the
    deployment's, see ``chains.provider_timeouts``)."""
    from chains.provider_timeouts import TURN_KEYS, check

    for key in TURN_KEYS:
        llm[key] = check(f"llm_provider.{key}", llm.get(key))


def _canonical(spec: str | None) -> str | None:
    if not spec or not spec.strip():
        return None
    from chains.providers import canonical_spec

    return canonical_spec(spec)


def _require_configured(spec: str, settings: Settings) -> None:
    """Build the model once: a missing key or endpoint is a 422 naming the variable."""
    from chains.providers import load_chat_model

    try:
        load_chat_model(spec, settings)
    except ServiceUnavailable as exc:
        if exc.code != "PROVIDER_NOT_CONFIGURED":
            raise
        raise InvalidInput(
            f"'{spec}' is not configured on this deployment: {exc.message} Set it in the "
            "environment of every worker (and restart them) before switching.",
            code="PROVIDER_NOT_CONFIGURED",
            details={"model": spec},
        ) from exc


def _check_embedding(current: dict[str, Any], patch: dict[str, Any]) -> None:
    """Only the model the index was built with is accepted: vectors never mix."""
    from loaders.embeddings import parse_spec

    if not patch:
        return
    provider = str(patch.get("active") or current["provider"])
    provider = {"aws-bedrock": "bedrock"}.get(provider.lower(), provider)
    model = str(patch.get("model") or current["model"])
    try:
        wanted = parse_spec(f"{provider}/{model}")
    except InvalidInput:
        wanted = (provider, model)
    if wanted != parse_spec(f"{current['provider']}/{current['model']}"):
        raise ReindexRequired(
            f"The knowledge base is indexed with {current['provider']}/{current['model']}; "
            "vectors from two models must never be mixed, so the embedding model cannot change "
            "at run time. To switch: set EMBEDDING_MODEL (e.g. azure_openai/"
            "text-embedding-3-small) on every worker, restart, and re-ingest the knowledge base "
            "into a fresh index (new DATA_DIR or Pinecone index).",
            details={"current": f"{current['provider']}/{current['model']}"},
        )


def _check_retrieval(ret: dict[str, Any], settings: Settings, reranker_available: bool) -> None:
    if not 1 <= int(ret["top_k"]) <= settings.max_top_k:
        raise InvalidInput(
            f"retrieval_config.top_k must be between 1 and {settings.max_top_k} (MAX_TOP_K).",
            code="TOP_K_OUT_OF_RANGE",
        )
    if ret["reranking_enabled"] and not reranker_available:
        raise InvalidInput(
            "Re-ranking needs a cross-encoder: set RERANKER_MODEL_PATH to a local model "
            "directory on every worker and restart them, then enable it.",
            code="RERANKER_NOT_CONFIGURED",
        )


def _check_guardrails(grd: dict[str, Any]) -> None:
    if not grd["pii_detection"]:
        raise InvalidInput(
            "PII detection cannot be switched off: it keeps raw personal data out of prompts "
            "and stored history. Use guardrails.mask_pii to choose masking (true) or refusing "
            "(false) a message that contains PII.",
            code="UNSUPPORTED_SETTING",
        )
    if grd.get("toxicity_threshold") is not None:
        raise InvalidInput(
            "guardrails.toxicity_threshold is not supported: toxicity detection is rule-based "
            "(word lists, threats, harmful instructions) and has no score to threshold. Use "
            "guardrails.content_safety to switch it on or off.",
            code="UNSUPPORTED_SETTING",
        )
    grd.pop("toxicity_threshold", None)


def _check_judge(grd: dict[str, Any], settings: Settings) -> None:
    """``judge_model``: a configured ``provider/model``, or null (the answering model verifies).

    The extractive model cannot judge (verification is skipped for it), so naming it would be
    a knob that does nothing: refused like the other unsupported settings.
    """
    judge = grd["judge_model"] = _canonical(grd.get("judge_model"))
    if judge == "extractive":
        raise InvalidInput(
            "guardrails.judge_model cannot be 'extractive': it does not verify claims. Name a "
            "generative 'provider/model', or null to verify with the answering model.",
            code="INVALID_JUDGE_MODEL",
        )
    if judge:
        _require_configured(judge, settings)
