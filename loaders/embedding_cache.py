"""Embedding cache keyed by (model, sha256(text)): in-process LRU, Redis, and the wrapper.

Re-ingesting an edited document and repeated questions re-embed mostly identical text; the
cache makes those free. Redis is an optimisation, never a dependency: any Redis error is
logged, counted and treated as a miss.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from loaders.settings import Settings

log = logging.getLogger(__name__)

Vector = list[float]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache(Protocol):
    """What ``CachedEmbeddings`` needs from a cache."""

    def get_many(self, model: str, texts: Sequence[str]) -> list[Vector | None]: ...

    def set_many(self, model: str, texts: Sequence[str], vectors: Sequence[Vector]) -> None: ...


class InProcessCache:
    """Thread-safe LRU of float32 vectors (50k x 384-d is about 75 MB)."""

    def __init__(self, max_items: int = 50_000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, model: str, texts: Sequence[str]) -> list[Vector | None]:
        keys = [(model, text_hash(t)) for t in texts]
        out: list[Vector | None] = []
        with self._lock:
            for key in keys:
                vec = self._items.get(key)
                if vec is not None:
                    self._items.move_to_end(key)
                out.append(None if vec is None else vec.tolist())
        return out

    def set_many(self, model: str, texts: Sequence[str], vectors: Sequence[Vector]) -> None:
        arrays = [np.asarray(v, dtype=np.float32) for v in vectors]
        with self._lock:
            for text, vec in zip(texts, arrays, strict=True):
                key = (model, text_hash(text))
                self._items[key] = vec
                self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)


class RedisCache:
    """Vectors as float32 bytes under ``embedding:{model}:{sha256}`` with a TTL.

    After an error the cache stays quiet for ``retry_after_seconds`` (all misses, no network),
    so a dead Redis costs one failed call per window instead of a timeout on every request.
    """

    def __init__(
        self,
        url: str,
        ttl_seconds: int = 86400,
        *,
        timeout_seconds: float = 0.5,
        retry_after_seconds: float = 5.0,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.ttl_seconds = ttl_seconds
        self.retry_after_seconds = retry_after_seconds
        self.errors = 0
        self._down_until = 0.0
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),  # a cache miss is cheaper than waiting on retries
        )

    @staticmethod
    def key(model: str, text: str) -> str:
        return f"embedding:{model}:{text_hash(text)}"

    def _usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, op: str, exc: Exception) -> None:
        from loaders.redis_link import count_error

        count_error(f"embedding_{op}")
        self.errors += 1
        self._down_until = time.monotonic() + self.retry_after_seconds
        log.warning("embedding cache %s failed (%s); treating as a miss", op, exc)

    def get_many(self, model: str, texts: Sequence[str]) -> list[Vector | None]:
        if not texts or not self._usable():
            return [None] * len(texts)
        try:
            raw: list[Any] = self.client.mget([self.key(model, t) for t in texts])  # type: ignore[assignment]
        except Exception as exc:  # any redis or socket error: degrade, never raise
            self._failed("read", exc)
            return [None] * len(texts)
        return [None if b is None else np.frombuffer(b, dtype=np.float32).tolist() for b in raw]

    def set_many(self, model: str, texts: Sequence[str], vectors: Sequence[Vector]) -> None:
        if not texts or not self._usable():
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for text, vec in zip(texts, vectors, strict=True):
                data = np.asarray(vec, dtype=np.float32).tobytes()
                pipe.set(self.key(model, text), data, ex=self.ttl_seconds)
            pipe.execute()
        except Exception as exc:
            self._failed("write", exc)


def make_cache(settings: Settings) -> EmbeddingCache:
    """Redis when ``REDIS_URL`` is set (shared by workers), else an in-process LRU."""
    if settings.redis_url:
        return RedisCache(settings.redis_url, settings.embedding_cache_ttl_seconds)
    return InProcessCache()


class CachedEmbeddings(Embeddings):
    """Any ``Embeddings`` behind a cache: only texts never seen before reach the model.

    Documents and queries share entries: the providers we use embed both the same way.
    """

    def __init__(self, inner: Embeddings, cache: EmbeddingCache, model: str) -> None:
        self.inner = inner
        self.cache = cache
        self.model = model
        self.hits = 0  # lookups answered by the cache (read by the /metrics collector)
        self.misses = 0

    def _count(self, found: Sequence[Vector | None]) -> None:
        missed = sum(v is None for v in found)
        self.misses += missed
        self.hits += len(found) - missed

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = list(texts)
        found = self.cache.get_many(self.model, texts)
        self._count(found)
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        if missing:
            fresh = dict(zip(missing, self.inner.embed_documents(missing), strict=True))
            self.cache.set_many(self.model, missing, list(fresh.values()))
            found = [fresh[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        return [list(v) for v in found if v is not None]

    def embed_query(self, text: str) -> list[float]:
        hit = self.cache.get_many(self.model, [text])[0]
        self._count([hit])
        if hit is not None:
            return hit
        vec = self.inner.embed_query(text)
        self.cache.set_many(self.model, [text], [vec])
        return vec
