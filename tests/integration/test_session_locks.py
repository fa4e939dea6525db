"""Session locks on a real redis-server: two API processes never run one session's turns at
once, and a Redis outage leaves each process's own ordering in place."""

from __future__ import annotations

import threading
import time

import pytest

from chains.session_locks import RedisLocks

pytestmark = pytest.mark.integration


def test_two_processes_take_turns(redis_url: str) -> None:
    one, two = RedisLocks(redis_url), RedisLocks(redis_url)  # as two API processes would
    one.acquire("s1")
    got = threading.Event()

    def other() -> None:
        two.acquire("s1")
        got.set()
        two.release("s1")

    thread = threading.Thread(target=other)
    thread.start()
    assert not got.wait(0.3)  # the second process waits for the first one's turn
    one.release("s1")
    assert got.wait(5)
    thread.join()
    # A different session is never blocked by it.
    one.acquire("s1")
    started = time.monotonic()
    two.acquire("s2")
    assert time.monotonic() - started < 1
    two.release("s2")
    one.release("s1")
    assert len(one) == 0 and len(two) == 0


def test_redis_down_still_orders_turns_in_process() -> None:
    locks = RedisLocks("redis://127.0.0.1:1/0")  # nothing listens there
    with locks.hold("s1"):
        blocked = threading.Event()

        def other() -> None:
            with locks.hold("s1"):
                blocked.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not blocked.wait(0.2)
    assert blocked.wait(5)
    thread.join()
