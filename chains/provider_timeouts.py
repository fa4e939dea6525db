"""How long a chat model call may wait: connect and read timeouts, per provider.

Layers, last wins: the provider's default (connect 5 s; read 30 s, the local model 120 s) <-
``LLM_CONNECT_TIMEOUT`` / ``LLM_READ_TIMEOUT`` <- ``LLM_TIMEOUTS[provider]`` <- the turn's
``connect_timeout`` / ``read_timeout`` (the admin runtime configuration), for the active
model only <- an explicit ``timeout`` argument.

The read timeout bounds each wait for data, never the total: for a stream, the time to the
first token and between tokens; for a plain reply, the time until it arrives. (A server that
sends SSE keep-alive comments resets that clock; the local model's server is started without.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loaders.errors import InvalidInput

if TYPE_CHECKING:
    import httpx

    from loaders.settings import Settings

DEFAULT_CONNECT = 5.0
DEFAULT_READ = 30.0
PROVIDER_READ = {"local": 120.0}  # a 0.5B model on 2 cores needs 5-45 s per answer
MAX_SECONDS = 3600.0
TURN_KEYS = ("connect_timeout", "read_timeout")


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float

    def for_httpx(self) -> httpx.Timeout:
        """Connect as given; read (and write, pool) per wait, which httpx never totals."""
        import httpx

        return httpx.Timeout(self.read, connect=self.connect)


def check(name: str, value: Any) -> float | None:
    """``value`` as seconds (``None`` / ``""``: not set); a clear error for anything else.

    Raises:
        InvalidInput: ``INVALID_TIMEOUT`` for a non-number, zero, negative or > 1 h.
    """
    if value is None or value == "":
        return None
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not 0 < seconds <= MAX_SECONDS:  # also false for NaN
        raise InvalidInput(
            f"'{name}' must be a number of seconds above 0 and at most {MAX_SECONDS:.0f}, "
            f"not {value!r}.",
            code="INVALID_TIMEOUT",
            details={"key": name},
        )
    return seconds


def for_provider(
    provider: str, settings: Settings, *, connect: float | None = None, read: float | None = None
) -> Timeouts:
    """The deployment's timeouts for ``provider``, then the given overrides."""
    own = settings.llm_timeouts.get(provider)  # type: ignore[call-overload]
    return Timeouts(
        connect=_first(connect, own and own.connect, settings.llm_connect_timeout,
                       DEFAULT_CONNECT),
        read=_first(read, own and own.read, settings.llm_read_timeout,
                    PROVIDER_READ.get(provider, DEFAULT_READ)),
    )  # fmt: skip


def turn_overrides() -> tuple[float | None, float | None]:
    """``connect_timeout`` and ``read_timeout`` of the turn being run, if any.

    Read from the running graph's config (LangChain's context), so every node that builds a
    model honours them without passing them along: per-request values first, then the
    admin's runtime layer the turn carries. Outside a run there are none.
    """
    from langchain_core.runnables.config import var_child_runnable_config

    from chains.runtime_config import RUNTIME_KEY

    config = var_child_runnable_config.get()
    configurable = (config or {}).get("configurable") or {}
    layer = configurable.get(RUNTIME_KEY) or {}
    values = []
    for key in TURN_KEYS:
        value = configurable.get(key)
        values.append(check(key, layer.get(key) if value is None or value == "" else value))
    return values[0], values[1]


def _first(*values: float | None) -> float:
    return float(next(v for v in values if v is not None))
