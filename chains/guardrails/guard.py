"""Input and output guardrails of a chat turn: cached guardrails-ai Guards and their verdicts.

``check_input`` and ``check_output`` are what the graph's guard and validate nodes call. Each
runs one ``guardrails.Guard`` built on first use and cached (so a call costs about a
millisecond), with every validator set to ``noop``: the guard records findings and we decide.

Telemetry: guardrails-ai sends OpenTelemetry spans to its vendor unless metrics are disabled,
and every ``Guard()`` re-reads ``~/.guardrailsrc`` (absent = enabled) into a process-wide
switch. So each guard is configured with ``allow_metrics_collection=False`` and the switch is
turned off again before each call, in case some other code built a Guard in between. Its
tracing into the application's own OpenTelemetry provider is switched off too.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from chains.guardrails.claims import ClaimCheck
from chains.guardrails.grounding import GroundingReport, Similarity
from chains.guardrails.pii import PII_CODES, PiiMatch, mask
from chains.guardrails.text import clean
from chains.state import Violation

if TYPE_CHECKING:
    from guardrails import Guard
    from guardrails.classes.validation_outcome import ValidationOutcome

Finding = tuple[str, str, int, int]  # code, message, start, end

_lock = threading.Lock()


@dataclass
class InputVerdict:
    """Whether a customer's message may go on, and the text to use (PII masked)."""

    safe: bool
    text: str
    violations: list[Violation] = field(default_factory=list)
    pii_detected: bool = False
    pii_codes: list[str] = field(default_factory=list)


@dataclass
class OutputVerdict:
    """Whether an answer may be sent; ``support`` is the share of supported claims (0..1)."""

    safe: bool
    violations: list[Violation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    support: float = 1.0
    claims: list[ClaimCheck] = field(default_factory=list)  # per claim: supporting passages


def silence_telemetry() -> None:
    """Turn guardrails-ai's vendor telemetry off for this process (idempotent, no I/O)."""
    from guardrails.utils.hub_telemetry_utils import HubTelemetry

    HubTelemetry()._enabled = False


def _new_guard(name: str, validators: list[Any]) -> Guard:
    from guardrails import Guard
    from guardrails.settings import settings

    # The sequential validator service: no event loop juggling inside our async nodes.
    os.environ.setdefault("GUARDRAILS_RUN_SYNC", "true")
    # No OpenTelemetry spans to the app's own tracer either: building their attributes costs
    # more than our validators (~0.6 ms a call) and would copy customers' text into traces.
    settings.disable_tracing = True
    guard = Guard(name=name, history_max_length=1).use(*validators)
    guard.configure(allow_metrics_collection=False)
    silence_telemetry()
    return guard


@lru_cache(maxsize=8)
def input_guard(max_chars: int, check_injection: bool, check_toxicity: bool) -> Guard:
    """The input Guard for one combination of switches, built once."""
    from chains.guardrails import validators as v

    chosen: list[Any] = [v.MaxLength(max_chars, "INPUT_TOO_LONG", on_fail="noop")]
    chosen.append(v.DetectPii(on_fail="noop"))
    if check_injection:
        chosen.append(v.DetectPromptInjection(on_fail="noop"))
    if check_toxicity:
        chosen.append(v.DetectToxicity(on_fail="noop"))
    with _lock:
        return _new_guard("supportbot-input", chosen)


@lru_cache(maxsize=8)
def output_guard(max_chars: int, check_groundedness: bool) -> Guard:
    """The output Guard for one combination of switches, built once."""
    from chains.guardrails import validators as v

    chosen: list[Any] = [
        v.MaxLength(max_chars, "OUTPUT_TOO_LONG", on_fail="noop"),
        v.DetectPiiLeak(on_fail="noop"),
        v.DetectSystemPromptLeak(on_fail="noop"),
        v.DetectHarmfulContent(on_fail="noop"),
    ]
    if check_groundedness:
        chosen.append(v.CheckGrounded(on_fail="noop"))
    with _lock:
        return _new_guard("supportbot-output", chosen)


def _findings(outcome: ValidationOutcome[Any]) -> list[Finding]:
    """``(code, message, start, end)`` for every error span the validators reported."""
    out = []
    for summary in outcome.validation_summaries or []:
        for span in summary.error_spans or []:
            code, _, message = span.reason.partition(": ")
            out.append((code, message, span.start, span.end))
    return out


def _violations(findings: list[Finding], stage: Literal["input", "output"]) -> list[Violation]:
    """One violation per code, with the first message reported for it."""
    seen: dict[str, Violation] = {}
    for code, message, _, _ in findings:
        seen.setdefault(code, Violation(code=code, message=message, stage=stage))
    return list(seen.values())


def warm_up() -> None:
    """Import guardrails-ai and build the default guards (~1-2 s) before the first request."""
    check_input("")
    check_output("", [])


def check_input(
    text: str,
    *,
    max_chars: int = 4000,
    mask_pii: bool = True,
    check_injection: bool = True,
    check_toxicity: bool = True,
) -> InputVerdict:
    """Screen a customer's message before retrieval.

    Control and bidi-override characters are removed first. PII is masked ("[EMAIL]",
    "[CARD]"...) and the message stays safe when ``mask_pii``; otherwise PII refuses it.
    Length, injection and toxicity findings always refuse.
    """
    cleaned = clean(text)
    guard = input_guard(max_chars, check_injection, check_toxicity)
    silence_telemetry()
    # Scanning stops just past the limit: an oversized message is refused anyway.
    outcome = guard.validate(cleaned[: max_chars + 1], metadata={"length": len(cleaned)})
    findings = _findings(outcome)
    pii = [PiiMatch(c, s, e, cleaned[s:e]) for c, _, s, e in findings if c in PII_CODES]
    pii_codes = list(dict.fromkeys(m.code for m in pii))
    blocking = [f for f in findings if not (mask_pii and f[0] in PII_CODES)]
    return InputVerdict(
        safe=not blocking,
        text=mask(cleaned, pii) if mask_pii and pii else cleaned,
        violations=_violations(blocking, "input"),
        pii_detected=bool(pii),
        pii_codes=pii_codes,
    )


def check_output(
    answer: str,
    passages: list[str],
    *,
    system_prompt: str = "",
    max_chars: int = 2000,
    check_groundedness: bool = True,
    similarity: Similarity | None = None,
    question: str = "",
    quoted: bool = False,
) -> OutputVerdict:
    """Screen a drafted answer against the passages it was written from.

    Checks length, PII absent from the passages, system-prompt disclosure, harmful content
    and (optionally) groundedness. Pass the *static* system prompt (without the passages) so
    quoting a passage is not mistaken for a leak, and the ``question`` so that an answer
    swapping the things it asks about ("lists" and "tuples") is caught. ``quoted``: the
    answer was composed from passage text (the extractive model), see ``grounding.assess``.
    """
    guard = output_guard(max_chars, check_groundedness)
    silence_telemetry()
    metadata: dict[str, Any] = {
        "passages": list(passages),
        "system_prompt": system_prompt,
        "similarity": similarity,
        "question": question,
        "quoted": quoted,
    }
    outcome = guard.validate(answer, metadata=metadata)
    violations = _violations(_findings(outcome), "output")
    report: GroundingReport = metadata.get("grounding") or GroundingReport()
    return OutputVerdict(
        safe=not violations,
        violations=violations,
        unsupported=list(report.unsupported),
        support=round(report.support, 4),
        claims=list(report.claims),
    )
