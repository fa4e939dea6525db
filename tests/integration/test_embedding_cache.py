"""RedisCache against a real redis-server: layout, TTL, and degrading to misses when it dies."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest
import redis
from langchain_core.embeddings import Embeddings

from loaders.embedding_cache import CachedEmbeddings, InProcessCache, RedisCache, make_cache
from loaders.settings import Settings
from tests.servers import redis_server

MODEL = "huggingface/all-MiniLM-L6-v2"


class Counting(Embeddings):
    """A tiny deterministic model that counts the texts it is asked to embed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return [[float(len(t)), 1.0, 0.5] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_round_trip_with_sha256_keys_float32_values_and_ttl(redis_url: str) -> None:
    cache = RedisCache(redis_url, ttl_seconds=600)
    vectors = [[0.1, 0.2, 0.3], [1.0, -2.0, 3.5]]
    cache.set_many(MODEL, ["alpha", "beta"], vectors)

    alpha, gamma, beta = cache.get_many(MODEL, ["alpha", "gamma", "beta"])
    assert gamma is None and alpha is not None and beta is not None
    assert np.allclose(alpha, vectors[0]) and np.allclose(beta, vectors[1])
    raw = redis.Redis.from_url(redis_url)
    key = f"embedding:{MODEL}:{hashlib.sha256(b'alpha').hexdigest()}"
    assert raw.get(key) == np.asarray(vectors[0], dtype=np.float32).tobytes()
    assert 0 < raw.ttl(key) <= 600
    assert cache.get_many("other/model", ["alpha"]) == [None]  # the model is part of the key
    assert cache.errors == 0


def test_cached_embeddings_over_redis_skip_the_model_on_hits(redis_url: str) -> None:
    model = Counting()
    emb = CachedEmbeddings(model, RedisCache(redis_url, 60), MODEL)
    first = emb.embed_documents(["a", "bb", "a"])
    again = CachedEmbeddings(Counting(), RedisCache(redis_url, 60), MODEL)  # another worker
    assert again.embed_documents(["bb", "a"]) == [first[1], first[0]]
    assert model.seen == ["a", "bb"]
    assert again.inner.seen == []  # type: ignore[attr-defined]


def test_stopped_server_degrades_to_misses_without_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with redis_server() as server:
        cache = RedisCache(server.url, 60, retry_after_seconds=0)
        cache.set_many(MODEL, ["kept"], [[1.0, 2.0]])
        assert cache.get_many(MODEL, ["kept"]) == [[1.0, 2.0]]
        server.stop()

        with caplog.at_level(logging.WARNING, logger="loaders.embedding_cache"):
            assert cache.get_many(MODEL, ["kept", "new"]) == [None, None]
            cache.set_many(MODEL, ["new"], [[3.0, 4.0]])
            model = Counting()
            vec = CachedEmbeddings(model, cache, MODEL).embed_query("kept")
    assert vec == [4.0, 1.0, 0.5] and model.seen == ["kept"]  # the model answered instead
    assert cache.errors >= 3
    assert "treating as a miss" in caplog.text


def test_after_an_error_the_cache_backs_off_without_touching_the_network() -> None:
    with redis_server() as server:
        cache = RedisCache(server.url, 60, retry_after_seconds=60)
        server.stop()
        assert cache.get_many(MODEL, ["x"]) == [None]
        errors = cache.errors
        assert cache.get_many(MODEL, ["x"]) == [None]
        cache.set_many(MODEL, ["x"], [[1.0]])
        assert cache.errors == errors == 1  # quiet window: no further attempts


def test_make_cache_picks_redis_only_when_configured(redis_url: str) -> None:
    assert isinstance(make_cache(Settings(redis_url=redis_url)), RedisCache)
    assert isinstance(make_cache(Settings(redis_url=None)), InProcessCache)
