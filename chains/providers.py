"""The chat model factory: one ``provider/model`` string -> a LangChain ``BaseChatModel``.

``extractive`` (offline, the default), ``azure_openai/<deployment>``, ``bedrock/<model id>``
and ``openai/<model>`` (any OpenAI-compatible server via ``OPENAI_BASE_URL``: vLLM, Ollama,
llama.cpp server, LM Studio). Integrations are imported only when used. Each SDK's own retries
are off (``max_retries=0``, botocore ``total_max_attempts=1``): ``chains.failover`` retries,
so a failing provider is abandoned after a known, small number of attempts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from chains.failover import failover
from loaders.errors import InvalidInput, ServiceUnavailable

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

    from loaders.settings import Settings

CHAT_PROVIDERS = ("extractive", "azure_openai", "bedrock", "openai")
# Local OpenAI-compatible servers ignore the key, but the openai SDK refuses to start without one.
_PLACEHOLDER_KEY = "not-needed"
# Building a remote model costs 30-250 ms (SDK clients; Bedrock makes two boto3 clients), so
# built chains are kept, keyed by everything that shapes them, including the credentials.
_CACHE_SIZE = 32
_cache: OrderedDict[tuple[Any, ...], Runnable[LanguageModelInput, BaseMessage]] = OrderedDict()
_cache_lock = threading.Lock()
_SETTINGS_KEY = (
    "azure_openai_key", "azure_openai_endpoint", "azure_openai_api_version", "openai_base_url",
    "openai_api_key", "aws_access_key_id", "aws_secret_access_key", "aws_region",
    "aws_endpoint_url",
)  # fmt: skip


def parse_chat_spec(spec: str) -> tuple[str, str]:
    """Split ``provider/model``; ``extractive`` needs no model, ``azure-openai`` is accepted."""
    provider, _, model = spec.strip().partition("/")
    provider = provider.strip().lower().replace("-", "_")
    if provider not in CHAT_PROVIDERS:
        raise InvalidInput(
            f"Unknown chat provider '{provider}' in '{spec}'. "
            f"Valid providers: {', '.join(CHAT_PROVIDERS)}.",
            code="UNKNOWN_CHAT_PROVIDER",
            details={"valid": list(CHAT_PROVIDERS)},
        )
    model = model.strip()
    if provider != "extractive" and not model:
        raise InvalidInput(
            f"No model in chat model spec '{spec}'; use '{provider}/<model>'.",
            code="INVALID_CHAT_MODEL",
        )
    return provider, model or "extractive"


def canonical_spec(spec: str) -> str:
    """``extractive`` or ``provider/model`` (``Azure-OpenAI/X`` is ``azure_openai/X``)."""
    provider, model = parse_chat_spec(spec)
    return provider if provider == "extractive" else f"{provider}/{model}"


def build_chat_runnable(
    spec: str,
    settings: Settings,
    *,
    fallback_spec: str | None = None,
    temperature: float = 0.1,
    max_tokens: int = 512,
    timeout: float = 30.0,
    retries: int = 2,
    backoff: float = 0.5,
    max_wait: float = 8.0,
) -> Runnable[LanguageModelInput, BaseMessage]:
    """``spec`` -> ``fallback_spec`` -> extractive, each remote link retried ``retries`` times.

    Answers carry ``response_metadata["model_spec"]`` (see ``chains.failover.produced_by``).
    Chains are cached per arguments and credentials, so calling this per turn is cheap. Both
    specs must be configured: a missing key raises ``PROVIDER_NOT_CONFIGURED`` here rather than
    silently answering extractively on every request.
    """
    specs = list(dict.fromkeys(canonical_spec(s) for s in (spec, fallback_spec) if s))
    key = (*specs, temperature, max_tokens, timeout, retries, backoff, max_wait,
           *(getattr(settings, name) for name in _SETTINGS_KEY))  # fmt: skip
    with _cache_lock:
        if (hit := _cache.get(key)) is not None:
            _cache.move_to_end(key)
            return hit
    links = [
        (s, load_chat_model(s, settings, temperature=temperature, max_tokens=max_tokens,
                            timeout=timeout))
        for s in specs
    ]  # fmt: skip
    chain = failover(links, retries=retries, backoff=backoff, max_wait=max_wait)
    with _cache_lock:
        _cache[key] = chain
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return chain


def load_chat_model(
    spec: str,
    settings: Settings,
    *,
    temperature: float = 0.1,
    max_tokens: int = 512,
    timeout: float = 30.0,
) -> BaseChatModel:
    """Build the chat model named by ``spec``.

    Raises:
        InvalidInput: ``UNKNOWN_CHAT_PROVIDER`` / ``INVALID_CHAT_MODEL``.
        ServiceUnavailable: ``PROVIDER_NOT_CONFIGURED`` when credentials are missing.
    """
    provider, model = parse_chat_spec(spec)
    if provider == "extractive":
        from chains.extractive import ExtractiveChatModel

        return ExtractiveChatModel()
    build = {"azure_openai": _azure_openai, "bedrock": _bedrock, "openai": _openai}[provider]
    return build(model, settings, temperature=temperature, max_tokens=max_tokens, timeout=timeout)


def _not_configured(what: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"The chat model needs {what}.", code="PROVIDER_NOT_CONFIGURED")


def _azure_openai(
    deployment: str, settings: Settings, *, temperature: float, max_tokens: int, timeout: float
) -> BaseChatModel:
    if not (settings.azure_openai_key and settings.azure_openai_endpoint):
        raise _not_configured("AZURE_OPENAI_KEY and AZURE_OPENAI_ENDPOINT")
    from langchain_openai import AzureChatOpenAI

    return AzureChatOpenAI(
        azure_deployment=deployment,
        model=deployment,
        api_key=settings.azure_openai_key,  # type: ignore[arg-type]
        azure_endpoint=settings.azure_openai_endpoint,
        api_version=settings.azure_openai_api_version,
        max_retries=0,
        stream_usage=True,
        temperature=temperature,
        max_tokens=max_tokens,  # type: ignore[call-arg]
        timeout=timeout,
    )


def _openai(
    model: str, settings: Settings, *, temperature: float, max_tokens: int, timeout: float
) -> BaseChatModel:
    if not (settings.openai_api_key or settings.openai_base_url):
        raise _not_configured("OPENAI_API_KEY, or OPENAI_BASE_URL for a local server")
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        api_key=settings.openai_api_key or _PLACEHOLDER_KEY,  # type: ignore[arg-type]
        base_url=settings.openai_base_url,
        max_retries=0,
        stream_usage=True,  # vLLM, Ollama and llama.cpp server report usage when streaming too
        temperature=temperature,
        max_tokens=max_tokens,  # type: ignore[call-arg]
        timeout=timeout,
    )


def _bedrock(
    model_id: str, settings: Settings, *, temperature: float, max_tokens: int, timeout: float
) -> BaseChatModel:
    creds = _aws_credentials(settings)
    from botocore.config import Config
    from langchain_aws import ChatBedrockConverse

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return ChatBedrockConverse(
        model=model_id,
        region_name=settings.aws_region,
        base_url=settings.aws_endpoint_url,
        temperature=temperature,
        max_tokens=max_tokens,
        config=config,
        **creds,
    )


def _aws_credentials(settings: Settings) -> dict[str, Any]:
    """Keys from settings, else whatever boto3's chain finds (profile, SSO, role); else fail.

    Asking the chain may query the instance metadata service once (about a second off EC2),
    which is why callers should build models once and reuse them.
    """
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        return {
            "aws_access_key_id": settings.aws_access_key_id,
            "aws_secret_access_key": settings.aws_secret_access_key,
        }
    import botocore.session

    if botocore.session.get_session().get_credentials() is None:
        raise _not_configured("AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
    return {}
