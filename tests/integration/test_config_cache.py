"""The runtime configuration through the shared Redis cache (seed: ``config:system:active``).

Real nx-27017 and a real redis-server: workers share the active version through Redis, a slow
reader can never put an older version back, and while Redis is down reads go to MongoDB.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis

from chains.runtime_config import CACHE_KEY, RuntimeConfigStore
from chains.runtime_settings import apply_update
from loaders.redis_kv import RedisKV
from loaders.settings import Settings
from tests.servers import redis_server

pytestmark = pytest.mark.integration


def change(patch: dict[str, Any], settings: Settings) -> Callable[..., Any]:
    def make(current: dict[str, Any], version: int) -> tuple[dict[str, Any], list[str]]:
        return apply_update(current, patch, settings, reranker_available=False)

    return make


def store(db: Any, url: str) -> RuntimeConfigStore:
    return RuntimeConfigStore(db, Settings(), reranker_available=False, cache=RedisKV(url))


def test_workers_share_the_active_version_through_redis(mongo_db: Any, redis_url: str) -> None:
    a, b = store(mongo_db, redis_url), store(mongo_db, redis_url)
    assert b.active().version == 0
    a.commit(change({"retrieval_config": {"top_k": 3}}, Settings()), created_by="admin-a")
    raw = redis.Redis.from_url(redis_url).get(CACHE_KEY)
    assert raw is not None and json.loads(raw)["version"] == 1
    assert b.cache is not None
    before = b.cache.stats.snapshot().get(("config", "hit"), 0)  # type: ignore[attr-defined]
    seen = b.active()
    assert seen.version == 1 and seen.settings["retrieval"]["top_k"] == 3
    after = b.cache.stats.snapshot().get(("config", "hit"), 0)  # type: ignore[attr-defined]
    assert after == before + 1  # answered by Redis, not MongoDB
    # A reader that fetched version 0 before the commit and writes late cannot undo it.
    b._cache_put({"version": 0})
    assert json.loads(redis.Redis.from_url(redis_url).get(CACHE_KEY) or b"{}")["version"] == 1
    # Without a shared cache (no Redis) the store reads MongoDB: same answer.
    plain = RuntimeConfigStore(mongo_db, Settings(), reranker_available=False)
    assert plain.cache is None and plain.active().settings == seen.settings


def test_reads_fall_back_to_mongodb_while_redis_is_down(mongo_db: Any) -> None:
    with redis_server() as server:
        a, b = store(mongo_db, server.url), store(mongo_db, server.url)
        b.active()  # version 0 cached in Redis
        server.stop()
        a.commit(change({"llm_provider": {"temperature": 0.6}}, Settings()), created_by="admin")
        seen = b.active()  # Redis is down: MongoDB answers, never a stale copy
        assert seen.version == 1 and seen.settings["llm"]["temperature"] == 0.6
