"""The guardrails-ai ``Validator`` subclasses wrapping our offline detectors.

Each validator reports findings as ``ErrorSpan``s whose ``reason`` is ``"CODE: message"``, so a
guard's ``validation_summaries`` carry stable codes, human messages and (for PII) the exact
characters to mask. Per-call inputs (passages, system prompt, similarity function) come in
``metadata``, as guardrails intends; the groundedness validator also writes its full report
to ``metadata["grounding"]`` because summaries drop result metadata.

Importing this module imports guardrails (about a second, and it reads ``~/.guardrailsrc``),
so :mod:`chains.guardrails.guard` imports it lazily.
"""

from __future__ import annotations

from typing import Any, ClassVar

from guardrails.validators import (
    ErrorSpan,
    FailResult,
    PassResult,
    ValidationResult,
    Validator,
    register_validator,
)

from chains.guardrails.grounding import assess
from chains.guardrails.injection import find_injection
from chains.guardrails.leakage import pii_leaks, system_prompt_leak
from chains.guardrails.pii import find_pii
from chains.guardrails.toxicity import find_harmful, find_toxicity

PII_MESSAGES = {
    "PII_EMAIL": "an email address",
    "PII_PHONE": "a phone number",
    "PII_SSN": "a US social security number",
    "PII_CREDIT_CARD": "a payment card number",
    "PII_IP_ADDRESS": "an IP address",
}


def _span(start: int, end: int, code: str, message: str) -> ErrorSpan:
    return ErrorSpan(start=start, end=end, reason=f"{code}: {message}")


def _fail(spans: list[ErrorSpan]) -> FailResult:
    return FailResult(error_message="; ".join(s.reason for s in spans), error_spans=spans)


@register_validator(name="supportbot/max_length", data_type="string")
class MaxLength(Validator):
    """Text longer than ``max_chars`` characters (code INPUT_TOO_LONG or OUTPUT_TOO_LONG)."""

    def __init__(self, max_chars: int, code: str, **kwargs: Any) -> None:
        super().__init__(max_chars=max_chars, code=code, **kwargs)
        self.max_chars = max_chars
        self.code = code

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        length = metadata.get("length", len(value))
        if length <= self.max_chars:
            return PassResult()
        message = f"The text is {length} characters long; the limit is {self.max_chars}."
        return _fail([_span(self.max_chars, len(value), self.code, message)])


@register_validator(name="supportbot/pii", data_type="string")
class DetectPii(Validator):
    """Emails, phone numbers, SSNs, Luhn-valid card numbers and IP addresses."""

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        found = find_pii(value)
        if not found:
            return PassResult()
        return _fail(
            [_span(m.start, m.end, m.code, f"Contains {PII_MESSAGES[m.code]}.") for m in found]
        )


@register_validator(name="supportbot/prompt_injection", data_type="string")
class DetectPromptInjection(Validator):
    """Attempts to override, replace or reveal the bot's instructions."""

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        hit = find_injection(value)
        if hit is None:
            return PassResult()
        message = f"Looks like an attempt to manipulate the assistant ({hit.kind})."
        return _fail([_span(0, len(value), "PROMPT_INJECTION", message)])


@register_validator(name="supportbot/toxicity", data_type="string")
class DetectToxicity(Validator):
    """Profanity, slurs, threats and hate, obfuscated spellings included."""

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        hit = find_toxicity(value)
        if hit is None:
            return PassResult()
        message = f"Contains abusive language ({hit.kind})."
        return _fail([_span(0, len(value), "TOXICITY", message)])


@register_validator(name="supportbot/pii_leak", data_type="string")
class DetectPiiLeak(Validator):
    """Personal data in an answer that the retrieved passages do not contain."""

    required_metadata_keys: ClassVar[list[str]] = ["passages"]

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        leaks = pii_leaks(value, metadata.get("passages") or [])
        if not leaks:
            return PassResult()
        return _fail(
            [
                _span(m.start, m.end, "PII_LEAK", f"The answer discloses {PII_MESSAGES[m.code]}.")
                for m in leaks
            ]
        )


@register_validator(name="supportbot/system_prompt_leak", data_type="string")
class DetectSystemPromptLeak(Validator):
    """An answer quoting the system prompt or describing the bot's own instructions."""

    required_metadata_keys: ClassVar[list[str]] = ["system_prompt"]

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        evidence = system_prompt_leak(
            value, metadata.get("system_prompt") or "", metadata.get("passages") or []
        )
        if evidence is None:
            return PassResult()
        message = f'The answer reveals the assistant\'s instructions ("{evidence[:80]}").'
        return _fail([_span(0, len(value), "SYSTEM_PROMPT_LEAK", message)])


@register_validator(name="supportbot/harmful_content", data_type="string")
class DetectHarmfulContent(Validator):
    """Abusive language or instructions for weapons, drugs or self-harm in an answer."""

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        hit = find_harmful(value)
        if hit is None:
            return PassResult()
        message = f"The answer contains harmful content ({hit.kind})."
        return _fail([_span(0, len(value), "HARMFUL_CONTENT", message)])


@register_validator(name="supportbot/grounded", data_type="string")
class CheckGrounded(Validator):
    """Every factual sentence of an answer is supported by the retrieved passages."""

    required_metadata_keys: ClassVar[list[str]] = ["passages"]

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        report = assess(
            value,
            metadata.get("passages") or [],
            metadata.get("similarity"),
            question=metadata.get("question") or "",
            quoted=bool(metadata.get("quoted")),
        )
        metadata["grounding"] = report
        if report.grounded:
            return PassResult()
        parts = [f"{len(report.unsupported)} of {report.checked} statements are not supported"]
        if report.missing_facts:
            parts.append("not found in the sources: " + ", ".join(report.missing_facts[:5]))
        return _fail([_span(0, len(value), "UNGROUNDED", "; ".join(parts) + ".")])
