"""Versioned prompt templates: shipped files, the MongoDB store, and the sandbox that renders them.

Typical use::

    store = PromptStore(db)          # or ShippedPrompts() where there is no database
    store.seed_from_files()          # once at start-up
    text = store.render("answer", {"question": q, "passages": passages_from_documents(docs)})
"""

from prompts.base import PromptSource, PromptVersion, TemplateInfo
from prompts.files import ShippedPrompts
from prompts.sandbox import render_template, validate_template
from prompts.specs import (
    DEFAULT_COMPANY_NAME,
    REFUSAL_REASONS,
    SPECS,
    STRICT_ANSWER_VERSION,
    TemplateSpec,
    get_spec,
)
from prompts.store import PromptStore
from prompts.variables import HistoryLine, Passage, history_from_messages, passages_from_documents

__all__ = [
    "DEFAULT_COMPANY_NAME",
    "REFUSAL_REASONS",
    "SPECS",
    "STRICT_ANSWER_VERSION",
    "HistoryLine",
    "Passage",
    "PromptSource",
    "PromptStore",
    "PromptVersion",
    "ShippedPrompts",
    "TemplateInfo",
    "TemplateSpec",
    "get_spec",
    "history_from_messages",
    "passages_from_documents",
    "render_template",
    "validate_template",
]
