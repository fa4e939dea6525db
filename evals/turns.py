"""What a target returns for one chat turn, and the protocol every target implements.

Both targets (in process, over HTTP) fill the same ``Turn``, so metrics never care where the
bot ran. ``passages`` are numbered as the prompt numbered them, so a citation ``[n]`` in the
answer is ``passages[n]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Passage:
    """A retrieved passage; ``source`` is the document's file name (the datasets' label) and
    ``heading_path`` its section's headings joined by ``" > "`` (the chunk's metadata)."""

    n: int
    chunk_id: str
    source: str
    title: str
    text: str
    relevance_score: float = 0.0
    heading_path: str = ""


@dataclass
class Turn:
    answer: str
    passages: list[Passage]
    sources: list[dict[str, Any]]
    guardrails: dict[str, Any]
    usage: dict[str, int]
    timings: dict[str, float]
    latency_ms: float
    escalated: bool = False
    provider: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None
    """The bot's ``confidence_score`` for this answer (0..1); ``None`` when not reported."""

    def passage(self, n: int) -> Passage | None:
        return next((p for p in self.passages if p.n == n), None)

    @property
    def ranked_sources(self) -> list[str]:
        """Source files of the retrieved passages, best first (for retrieval metrics)."""
        ordered = sorted(self.passages, key=lambda p: (-p.relevance_score, p.n))
        return [p.source for p in ordered if p.source]


class Target(Protocol):
    """Where the bot runs. ``config`` holds per-turn overrides (``--set``)."""

    name: str

    def for_dataset(self, dataset: str) -> Target:
        """The target that answers this dataset's questions (its own corpus, when local)."""
        ...

    def new_session(self) -> str: ...

    def ask(self, session_id: str, question: str, config: dict[str, Any]) -> Turn: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
