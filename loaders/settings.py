"""The one settings object: environment variables and ``.env``, read when first asked for.

It lives in ``loaders`` (the bottom layer) so that ``chains`` and ``app`` can read it too
without ``loaders`` ever importing ``app``. Variable names follow the seed plan.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VectorStoreName = Literal["local", "pinecone"]
ChatProviderName = Literal["azure_openai", "bedrock", "openai", "local"]


class ProviderTimeouts(BaseModel):
    """One provider's timeouts in ``LLM_TIMEOUTS`` (seconds; unset: the general value)."""

    model_config = ConfigDict(extra="forbid")

    connect: float | None = Field(default=None, gt=0, le=600)
    read: float | None = Field(default=None, gt=0, le=3600)


class Settings(BaseSettings):
    """Runtime settings. Secrets come from the environment only; defaults run offline."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Application
    app_env: str = "development"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Field(default=Path("var"), description="Embedded stores live here.")
    ingest_sample_kb: bool = Field(default=True, description="Ingest the sample KB on first start.")

    # MongoDB: unset means start the embedded nx-27017 server under data_dir.
    mongodb_uri: str | None = None
    mongodb_name: str = "supportbot"

    # Redis: unset means in-process cache and limits.
    redis_url: str | None = None
    redis_timeout_seconds: float = Field(
        default=0.25, description="Socket timeout: a slow Redis degrades instead of stalling."
    )
    redis_retry_seconds: float = Field(
        default=3.0, description="After a Redis failure, serve in process this long, then retry."
    )

    # Rate limits (sliding window, per user or per IP; Redis when set, else per process)
    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = Field(default=300, description="Requests per caller per window.")
    rate_limit_chat_per_minute: int = Field(
        default=30, description="Chat turns (REST and /chat/*) per caller per window."
    )
    rate_limit_login_per_minute: int = Field(
        default=5, description="Logins per IP and per email, registrations per IP, per window."
    )
    rate_limit_window_seconds: float = Field(
        default=60.0, description="Window length; the *_PER_MINUTE limits apply per window."
    )
    rate_limit_widget_sessions_per_hour: int = Field(
        default=10, description="New widget visitor sessions per IP per hour (resumes are free)."
    )

    # Vector store
    vector_store: VectorStoreName | None = Field(
        default=None, description="local | pinecone; default pinecone when PINECONE_API_KEY is set."
    )
    pinecone_api_key: str | None = None
    pinecone_index_name: str = "chatbot-knowledge-base"
    pinecone_namespace: str = ""
    pinecone_host: str | None = Field(default=None, description="Index host (data plane) URL.")
    pinecone_cloud: str = "aws"
    pinecone_environment: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("PINECONE_ENVIRONMENT", "PINECONE_REGION"),
    )

    # Embeddings
    active_embedding_provider: str = "huggingface"
    hf_embedding_model: str = "all-MiniLM-L6-v2"
    embedding_model: str | None = Field(
        default=None, description="'provider/model' spec; overrides the two variables above."
    )
    hf_model_path: Path | None = Field(
        default=None, description="Local directory of a sentence-transformers model."
    )
    embedding_backend: str = Field(default="auto", description="auto | torch | quantized")
    embedding_batch_size: int = 32
    embedding_cache_ttl_seconds: int = 86400

    # Azure OpenAI
    azure_openai_key: str | None = Field(
        default=None, validation_alias=AliasChoices("AZURE_OPENAI_KEY", "AZURE_OPENAI_API_KEY")
    )
    azure_openai_endpoint: str | None = None
    azure_openai_api_version: str = "2024-02-01"
    azure_openai_deployment: str = "gpt-4"
    azure_embedding_deployment: str = "text-embedding-ada-002"

    # OpenAI-compatible chat (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio)
    openai_base_url: str | None = Field(
        default=None, description="e.g. http://localhost:11434/v1; unset means api.openai.com."
    )
    openai_api_key: str | None = None

    # AWS Bedrock
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str = "us-east-1"
    aws_bedrock_model: str = "anthropic.claude-v2"
    aws_bedrock_embedding_model: str = "amazon.titan-embed-text-v2:0"
    aws_endpoint_url: str | None = None

    # Ingestion
    max_upload_mb: float = 20.0
    default_chunking_strategy: str = "structure"
    default_chunk_size: int = 200
    default_chunk_overlap: int = 30
    min_chunk_tokens: int = 5

    # Chat
    session_ttl_seconds: int = Field(
        default=3600, description="Idle time before a session expires."
    )
    max_history_length: int = Field(default=10, description="Messages of history kept per turn.")
    company_name: str = Field(default="our company", description="Used in prompts.")

    # Analytics events (``analytics_events``), written in batches by a background thread
    analytics_enabled: bool = True
    analytics_flush_seconds: float = Field(default=0.5, description="Longest wait before a write.")
    analytics_queue_size: int = Field(default=10_000, description="Events held while MongoDB lags.")

    prompt_refresh_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often a worker checks MongoDB for prompt activations made by others.",
    )

    # Auth: unset JWT_SECRET_KEY means, in development, a secret file data_dir/jwt-secret made
    # once (0600) and shared by every process on that data dir; production refuses to start.
    jwt_secret_key: str | None = Field(default=None, description="HS256 signing secret.")
    jwt_access_ttl_seconds: int = 3600
    jwt_refresh_ttl_seconds: int = 14 * 24 * 3600
    pii_encryption_key: str | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first; unset in development "
        "means a key file under data_dir, in production a refusal to start.",
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed by CORS; empty means none."
    )
    auth_cookie_secure: bool | None = Field(
        default=None, description="Secure flag on the login cookie; unset means 'when https'."
    )

    # Widget visitors (anonymous, scoped to one session; see app/widget)
    widget_access_ttl_seconds: int = Field(
        default=900, ge=60, description="Lifetime of a visitor's access token."
    )
    widget_refresh_ttl_seconds: int = Field(
        default=30 * 86400, ge=3600, description="Lifetime of a visitor's refresh token."
    )

    # Optional LangSmith tracing (off unless LANGSMITH_TRACING=true and a key are set)
    langsmith_tracing: bool = Field(
        default=False, validation_alias=AliasChoices("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2")
    )
    langsmith_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
    )
    langsmith_endpoint: str = Field(
        default="https://api.smith.langchain.com",
        validation_alias=AliasChoices("LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"),
    )

    # Eval CLI client credentials for `supportbot eval run --target http://host:port`
    supportbot_token: str | None = Field(default=None, description="Bearer access token.")
    supportbot_api_key: str | None = Field(default=None, description="Sent as X-API-Key.")

    # Search
    default_top_k: int = 5
    max_top_k: int = 50
    max_query_chars: int = 1000
    hybrid_alpha: float = Field(default=0.75, description="Weight of dense vs BM25 in fusion.")
    hybrid_bm25_k: float = Field(
        default=16.0, description="BM25 saturation: bm25 / (bm25 + k); tuned on the labelled set."
    )
    reranker_model_path: Path | None = None

    # Chat model default and timeouts (the admin's runtime configuration wins over LLM)
    llm: str | None = Field(
        default=None, description="Default chat model spec, e.g. local or openai/<model>."
    )
    llm_connect_timeout: float | None = Field(
        default=None, gt=0, description="Seconds to connect; unset: the provider's default (5)."
    )
    llm_read_timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds to wait for a reply, or in a stream for the first token and each "
        "next one (never the total); unset: the provider's default (30, local 120).",
    )
    llm_timeouts: dict[ChatProviderName, ProviderTimeouts] = Field(
        default_factory=dict,
        description='Per provider, over the two above: {"openai": {"connect": 2, "read": 90}}.',
    )

    # The local model (make local-llm; LLM=local starts its server as a child process)
    local_llm_url: str | None = Field(
        default=None, description="An already running llama.cpp server; no child is started."
    )
    local_llm_model: Path | None = Field(
        default=None, description="A GGUF file; unset: the pinned model under data_dir/models."
    )
    local_llm_python: Path = Field(
        default=Path(".venv/llm/bin/python"), description="The venv with llama-cpp-python."
    )
    local_llm_n_ctx: int = Field(default=4096, ge=512, description="Context window in tokens.")
    local_llm_threads: int | None = Field(
        default=None, ge=1, description="Generating threads; unset: llama.cpp's (half the cores)."
    )
    local_llm_start_seconds: float = Field(
        default=120.0, gt=0, description="How long the server may take to answer at start-up."
    )

    @property
    def embedding_spec(self) -> str:
        """The embedding model as a ``provider/model`` string."""
        if self.embedding_model:
            return self.embedding_model
        provider = self.active_embedding_provider.replace("-", "_")
        model = {
            "huggingface": self.hf_embedding_model,
            "azure_openai": self.azure_embedding_deployment,
            "bedrock": self.aws_bedrock_embedding_model,
        }.get(provider, self.hf_embedding_model)
        return f"{provider}/{model}"

    @property
    def vector_store_name(self) -> VectorStoreName:
        """Pinecone when asked for or when its key is present, else the embedded store."""
        if self.vector_store:
            return self.vector_store
        return "pinecone" if self.pinecone_api_key else "local"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def is_production(self) -> bool:
        return self.app_env.strip().lower() in {"production", "prod"}

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read on first use (never at import)."""
    return Settings()
