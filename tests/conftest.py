"""Shared fixtures: real MongoDB-compatible and Redis servers on loopback, offline model env."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.servers import EmbeddedMongo, RedisServer, mongo_server, redis_server


@pytest.fixture(scope="session")
def mongo() -> Iterator[EmbeddedMongo]:
    """One nx-27017 server (in memory) for the whole test session."""
    with mongo_server() as server:
        yield server


@pytest.fixture()
def mongo_db(mongo: EmbeddedMongo) -> Iterator[Any]:
    """A fresh database per test on the shared server."""
    from loaders.mongo import connect

    client = connect(mongo.uri)
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture(scope="session")
def redis_srv() -> Iterator[RedisServer]:
    """One real redis-server for the whole session."""
    with redis_server() as server:
        yield server


@pytest.fixture()
def redis_url(redis_srv: RedisServer) -> Iterator[str]:
    """Redis URL with the database flushed before each test."""
    import redis

    client = redis.Redis.from_url(redis_srv.url)
    client.flushdb()
    yield redis_srv.url
    client.close()
