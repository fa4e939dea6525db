"""In-process session locks: one turn at a time per session, and no lock kept once idle."""

from __future__ import annotations

import threading
import time

from chains.session_locks import LocalLocks


def test_turns_of_one_session_never_overlap_and_idle_locks_are_dropped() -> None:
    locks = LocalLocks()
    inside, overlaps = [0], [0]

    def turn() -> None:
        with locks.hold("s1"):
            inside[0] += 1
            overlaps[0] = max(overlaps[0], inside[0])
            time.sleep(0.01)
            inside[0] -= 1

    threads = [threading.Thread(target=turn) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps[0] == 1
    assert len(locks) == 0  # nothing kept for a session nobody is using
    for i in range(100):
        with locks.hold(f"session-{i}"):
            pass
    assert len(locks) == 0


def test_other_sessions_do_not_wait() -> None:
    locks = LocalLocks()
    locks.acquire("busy")
    done = threading.Event()
    threading.Thread(
        target=lambda: (locks.acquire("free"), locks.release("free"), done.set())
    ).start()
    assert done.wait(2)
    locks.release("busy")
    assert len(locks) == 0
