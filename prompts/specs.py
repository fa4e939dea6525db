"""The contract between code and prompt templates: which templates exist and their variables.

A template's text can be edited and versioned at run time, but the variables it may use are
fixed here, because code supplies them. A new version is accepted only if it uses these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from loaders.errors import InvalidInput, NotFound

TemplateType = Literal["system", "user", "assistant"]

DEFAULT_COMPANY_NAME = "our company"
STRICT_ANSWER_VERSION = "v2"
"""The ``answer`` version used to regenerate after a failed groundedness check."""

REFUSAL_REASONS = ("INPUT_TOO_LONG", "PII", "PROMPT_INJECTION", "TOXICITY", "PROFANITY")
"""Reason codes the shipped ``refusal`` template words specifically (``PII_*`` count as PII);
any other code gets a generic refusal."""

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")

_EXAMPLE_PASSAGES = [
    {"title": "Billing FAQ", "content": "Invoices are emailed on the 1st of each month."},
    {"title": "Plans", "content": "The Team plan costs $10 per user per month."},
]
_EXAMPLE_HISTORY = [
    {"role": "customer", "content": "How much is the Team plan?"},
    {"role": "assistant", "content": "The Team plan costs $10 per user per month [1]."},
]


@dataclass(frozen=True)
class TemplateSpec:
    """One kind of template: the variables code passes, their defaults, examples to test with.

    ``template_type`` follows the seed's ``prompt_templates`` schema: ``system`` and ``user``
    are model prompts; ``assistant`` templates are messages shown to the customer as they are.
    ``must_use`` names the data a version cannot leave out (an answer prompt without the
    passages would be ungrounded). ``examples`` (merged over ``defaults``) are rendered to
    check every new version, one per branch worth exercising.
    """

    name: str
    template_type: TemplateType
    description: str
    required: frozenset[str]
    defaults: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    must_use: frozenset[str] = frozenset()
    examples: tuple[MappingProxyType[str, Any], ...] = ()

    @property
    def variables(self) -> frozenset[str]:
        """Every name a template of this kind may use."""
        return self.required | frozenset(self.defaults)


def _spec(
    name: str,
    template_type: TemplateType,
    description: str,
    required: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
    examples: tuple[dict[str, Any], ...] = ({},),
    must_use: tuple[str, ...] = (),
) -> TemplateSpec:
    base = {"company_name": DEFAULT_COMPANY_NAME, **(defaults or {})}
    return TemplateSpec(
        name=name,
        template_type=template_type,
        description=description,
        required=frozenset(required),
        defaults=MappingProxyType(base),
        must_use=frozenset(must_use),
        examples=tuple(MappingProxyType(e) for e in examples),
    )


SPECS: MappingProxyType[str, TemplateSpec] = MappingProxyType(
    {
        "system": _spec("system", "system", "Role, grounding and safety rules of the assistant."),
        "answer": _spec(
            "answer",
            "user",
            "The retrieved passages, numbered for citation, and the customer's question.",
            required=("question", "passages"),
            must_use=("question", "passages"),
            examples=(
                {"question": "When are invoices sent?", "passages": _EXAMPLE_PASSAGES},
                {"question": "When are invoices sent?", "passages": []},
            ),
        ),
        "condense_question": _spec(
            "condense_question",
            "user",
            "Rewrites a follow-up into a standalone question using the conversation.",
            required=("question", "history"),
            must_use=("question", "history"),
            examples=(
                {"question": "And per year?", "history": _EXAMPLE_HISTORY},
                {"question": "How do I export tasks?", "history": []},
            ),
        ),
        "refusal": _spec(
            "refusal",
            "assistant",
            "Shown when an input guardrail blocks the message; one branch per reason code.",
            required=("reason",),
            defaults={"max_input_chars": 4000},
            examples=tuple({"reason": r} for r in (*REFUSAL_REASONS, "PII_EMAIL", "OTHER")),
        ),
        "no_answer": _spec(
            "no_answer",
            "assistant",
            "The honest 'I don't know' when nothing relevant was found, with an offer of a person.",
        ),
        "handoff": _spec(
            "handoff",
            "assistant",
            "Shown when the conversation is handed to a person.",
            defaults={"reason": "customer_request"},
            examples=({"reason": "customer_request"}, {"reason": "low_confidence"}),
        ),
    }
)


def get_spec(name: str) -> TemplateSpec:
    """The spec of a template kind, or ``NotFound`` naming the kinds that exist."""
    spec = SPECS.get(name)
    if spec is None:
        known = ", ".join(sorted(SPECS))
        raise NotFound(
            f"No prompt template named {name!r}; known templates: {known}.",
            code="PROMPT_NOT_FOUND",
            details={"name": name},
        )
    return spec


def check_version_label(version: str) -> str:
    """Accept short labels such as ``v2`` or ``2.1.0``; they end up in URLs and logs."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidInput(
            f"Invalid prompt version {version!r}: use 1-32 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'v2' or '2.1.0').",
            code="PROMPT_VERSION_INVALID",
        )
    return version
