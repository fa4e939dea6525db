"""The chat model factory: one ``provider/model`` string -> a LangChain ``BaseChatModel``.

``extractive`` (offline, the default), ``local`` (the pinned local model, ``make local-llm``,
served by llama.cpp: ``chains.local_llm``), ``azure_openai/<deployment>``, ``bedrock/<model id>``
and ``openai/<model>`` (any OpenAI-compatible server via ``OPENAI_BASE_URL``: vLLM, Ollama,
llama.cpp server, LM Studio). Integrations are imported only when used. Each SDK's own retries
are off (``max_retries=0``, botocore ``total_max_attempts=1``): ``chains.failover`` retries,
so a failing provider is abandoned after a known, small number of attempts. Timeouts come from
``chains.provider_timeouts`` (per provider; read timeouts bound each wait, not the total).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from chains import provider_timeouts
from chains.failover import failover
from chains.provider_timeouts import Timeouts
from loaders.errors import InvalidInput, ServiceUnavailable

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

    from loaders.settings import Settings

CHAT_PROVIDERS = ("extractive", "local", "azure_openai", "bedrock", "openai")
_SINGLE_MODEL = ("extractive", "local")  # providers named without a model
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
    """Split ``provider/model``; ``extractive`` and ``local`` need no model, ``azure-openai``
    is accepted."""
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
    if provider in _SINGLE_MODEL:
        if model not in ("", provider):
            raise InvalidInput(
                f"The {provider} provider has one model; use '{provider}', not '{spec}'.",
                code="INVALID_CHAT_MODEL",
            )
        return provider, provider
    if not model:
        raise InvalidInput(
            f"No model in chat model spec '{spec}'; use '{provider}/<model>'.",
            code="INVALID_CHAT_MODEL",
        )
    return provider, model


def canonical_spec(spec: str) -> str:
    """``extractive``, ``local`` or ``provider/model`` (``Azure-OpenAI/X``: ``azure_openai/X``)."""
    provider, model = parse_chat_spec(spec)
    return provider if provider in _SINGLE_MODEL else f"{provider}/{model}"


def build_chat_runnable(
    spec: str,
    settings: Settings,
    *,
    fallback_spec: str | None = None,
    temperature: float = 0.1,
    max_tokens: int = 512,
    timeout: float | None = None,
    retries: int = 2,
    backoff: float = 0.5,
    max_wait: float = 8.0,
    embed: Any | None = None,
) -> Runnable[LanguageModelInput, BaseMessage]:
    """``spec`` -> ``fallback_spec`` -> extractive, each remote link retried ``retries`` times.

    Answers carry ``response_metadata["model_spec"]`` (see ``chains.failover.produced_by``).
    Chains are cached per arguments and credentials, so calling this per turn is cheap. Both
    specs must be configured: a missing key raises ``PROVIDER_NOT_CONFIGURED`` here rather than
    silently answering extractively on every request. ``embed`` (unit vectors, see
    ``loaders.unit_vectors``) lets the extractive model score by meaning, as primary or fallback.
    ``timeout`` (connect and read) overrides ``chains.provider_timeouts``; unset, each link gets
    its provider's, and ``spec`` the running turn's ``connect_timeout`` / ``read_timeout``.
    """
    specs = list(dict.fromkeys(canonical_spec(s) for s in (spec, fallback_spec) if s))
    turn = provider_timeouts.turn_overrides()
    waits = [_timeouts(parse_chat_spec(s)[0], settings, timeout, turn if i == 0 else (None, None))
             for i, s in enumerate(specs)]  # fmt: skip
    key = (*specs, *waits, temperature, max_tokens, retries, backoff, max_wait, id(embed),
           _local_url(specs, settings),
           *(getattr(settings, name) for name in _SETTINGS_KEY))  # fmt: skip
    with _cache_lock:
        if (hit := _cache.get(key)) is not None:
            _cache.move_to_end(key)
            return hit
    links = [
        (s, load_chat_model(s, settings, temperature=temperature, max_tokens=max_tokens,
                            timeout=wait, embed=embed))
        for s, wait in zip(specs, waits, strict=True)
    ]  # fmt: skip
    chain = failover(links, retries=retries, backoff=backoff, max_wait=max_wait, embed=embed)
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
    timeout: float | Timeouts | None = None,
    embed: Any | None = None,
) -> BaseChatModel:
    """Build the chat model named by ``spec``.

    Raises:
        InvalidInput: ``UNKNOWN_CHAT_PROVIDER`` / ``INVALID_CHAT_MODEL``.
        ServiceUnavailable: ``PROVIDER_NOT_CONFIGURED`` when credentials are missing.
    """
    provider, model = parse_chat_spec(spec)
    if provider == "extractive":
        from chains.extractive import ExtractiveChatModel

        return ExtractiveChatModel(embed=embed)
    waits = _timeouts(provider, settings, timeout, (None, None))
    build = {"azure_openai": _azure_openai, "bedrock": _bedrock, "openai": _openai,
             "local": _local}[provider]  # fmt: skip
    return build(model, settings, temperature=temperature, max_tokens=max_tokens, timeout=waits)


def _timeouts(
    provider: str, settings: Settings, given: float | Timeouts | None, turn: tuple[Any, Any]
) -> Timeouts:
    """``given`` as is (a number: connect and read), else the provider's with ``turn``'s."""
    if isinstance(given, Timeouts):
        return given
    if given is not None:
        return Timeouts(connect=given, read=given)
    return provider_timeouts.for_provider(provider, settings, connect=turn[0], read=turn[1])


def _local_url(specs: list[str], settings: Settings) -> str | None:
    """The local server's URL when a link is ``local``: a restarted server means a new chain."""
    if "local" not in specs:
        return None
    from chains.local_llm.server import current_url

    return current_url(settings)


def _not_configured(what: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"The chat model needs {what}.", code="PROVIDER_NOT_CONFIGURED")


def _azure_openai(
    deployment: str, settings: Settings, *, temperature: float, max_tokens: int, timeout: Timeouts
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
        timeout=timeout.for_httpx(),
    )


def _openai(
    model: str, settings: Settings, *, temperature: float, max_tokens: int, timeout: Timeouts
) -> BaseChatModel:
    if not (settings.openai_api_key or settings.openai_base_url):
        raise _not_configured("OPENAI_API_KEY, or OPENAI_BASE_URL for a local server")
    return _chat_openai(
        model, settings.openai_base_url, settings.openai_api_key, temperature=temperature,
        max_tokens=max_tokens, timeout=timeout,
    )  # fmt: skip


def _local(
    model: str, settings: Settings, *, temperature: float, max_tokens: int, timeout: Timeouts
) -> BaseChatModel:
    """The local model through the OpenAI-compatible path, at the server this app started."""
    from chains.local_llm.model import ALIAS, PREPARE_HINT
    from chains.local_llm.server import current_url

    if (url := current_url(settings)) is None:
        raise ServiceUnavailable(
            f"The local model is not running: {PREPARE_HINT}, then start the app with "
            "LLM=local (or set LOCAL_LLM_URL to a running llama.cpp server).",
            code="PROVIDER_NOT_CONFIGURED",
        )
    return _chat_openai(
        ALIAS, f"{url}/v1", None, temperature=temperature, max_tokens=max_tokens, timeout=timeout
    )


def _chat_openai(
    model: str, base_url: str | None, api_key: str | None, *, temperature: float,
    max_tokens: int, timeout: Timeouts,
) -> BaseChatModel:  # fmt: skip
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        api_key=api_key or _PLACEHOLDER_KEY,  # type: ignore[arg-type]
        base_url=base_url,
        max_retries=0,
        stream_usage=True,  # vLLM, Ollama and llama.cpp server report usage when streaming too
        temperature=temperature,
        max_tokens=max_tokens,  # type: ignore[call-arg]
        # Sent as max_completion_tokens, which llama.cpp's server (0.3.36) ignores: it then
        # generates until the context is full (minutes on a CPU). Self-hosted servers get the
        # classic name too; api.openai.com (no base URL) only the new one.
        extra_body={"max_tokens": max_tokens} if base_url else None,
        timeout=timeout.for_httpx(),
    )


def _bedrock(
    model_id: str, settings: Settings, *, temperature: float, max_tokens: int, timeout: Timeouts
) -> BaseChatModel:
    creds = _aws_credentials(settings)
    from botocore.config import Config
    from langchain_aws import ChatBedrockConverse

    config = Config(
        connect_timeout=timeout.connect,
        read_timeout=timeout.read,
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
