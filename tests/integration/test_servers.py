"""The test servers themselves are real: a round trip through each proves it."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from loaders.mongo import ensure_indexes

pytestmark = pytest.mark.integration


def test_mongo_unique_index_enforced(mongo_db) -> None:
    ensure_indexes(mongo_db)
    mongo_db.knowledge_base_documents.insert_one({"document_id": "a"})
    with pytest.raises(DuplicateKeyError):
        mongo_db.knowledge_base_documents.insert_one({"document_id": "a"})


def test_redis_round_trip(redis_url: str) -> None:
    import redis

    r = redis.Redis.from_url(redis_url)
    r.set("k", "v", ex=10)
    assert r.get("k") == b"v"
    assert 0 < r.ttl("k") <= 10
