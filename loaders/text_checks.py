"""Which text callers may send: never a lone surrogate; control characters stripped from free
text (messages, queries, descriptions) and refused in identifiers, names and emails.

A lone surrogate (JSON can carry ``"\\ud800"``) is not Unicode text: it cannot be encoded to
UTF-8 for MongoDB, a log line or a model, so it is refused everywhere with ``INVALID_TEXT``.
Control characters are C0 except tab, newline and carriage return, DEL, and C1. In free text
they are stray bytes from copy and paste, so they are removed; in a name or an identifier a
silent change would make it a different value, so the caller is told instead.
"""

from __future__ import annotations

import re
from typing import Any

from loaders.errors import InvalidInput

SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# JSON keys whose strings (and everything below them) are free text: stripped, not refused.
FREE_TEXT_FIELDS = frozenset(
    {"message", "question", "query", "content", "comment", "description", "text", "texts",
     "template", "feedback", "input", "inputs"}
)  # fmt: skip


class InvalidText(InvalidInput):
    """Text a person or client sent that is not acceptable Unicode text for that field."""

    code = "INVALID_TEXT"


def check_text(value: str, field: str, *, free_text: bool) -> str:
    """``value`` without control characters (free text) or unchanged; raises otherwise.

    Raises:
        InvalidText: a lone surrogate anywhere; a control character outside free text.
    """
    bad = SURROGATE.search(value)
    if bad:
        raise InvalidText(
            f"'{field}' contains a broken character (a lone UTF-16 surrogate, "
            f"U+{ord(bad.group()):04X}, at position {bad.start()}), so it is not valid text. "
            "Send the text as valid Unicode (UTF-8 JSON) and try again.",
            details={"field": field, "reason": "lone_surrogate", "position": bad.start()},
        )
    if free_text:
        return CONTROL.sub("", value)
    ctl = CONTROL.search(value)
    if ctl:
        raise InvalidText(
            f"'{field}' contains a control character (U+{ord(ctl.group()):04X}) at position "
            f"{ctl.start()}, which is not allowed there. Remove it and try again.",
            details={"field": field, "reason": "control_character", "position": ctl.start()},
        )
    return value


def needs_check(text: str) -> bool:
    """Whether ``text`` holds anything ``check_text`` would refuse or change (fast path)."""
    return bool(SURROGATE.search(text) or CONTROL.search(text))


class TreeCleaner:
    """Checks every string of a parsed JSON document (keys too); counts what it stripped."""

    def __init__(self, free_fields: frozenset[str] = FREE_TEXT_FIELDS) -> None:
        self.free_fields = free_fields
        self.stripped = 0

    def clean(self, value: Any, path: str = "", free: bool = False) -> Any:
        """The document with free text stripped; raises ``InvalidText`` on refused text."""
        if isinstance(value, str):
            out = check_text(value, path or "body", free_text=free)
            self.stripped += len(value) - len(out)
            return out
        if isinstance(value, dict):
            return {
                check_text(str(k), _join(path, k), free_text=False): self.clean(
                    v, _join(path, k), free or k in self.free_fields
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.clean(v, _join(path, i), free) for i, v in enumerate(value)]
        return value


def check_fields(obj: Any, *, free: tuple[str, ...], strict: tuple[str, ...]) -> None:
    """Apply ``check_text`` to string (or list-of-string) attributes of ``obj`` in place."""
    for name, is_free in [(n, True) for n in free] + [(n, False) for n in strict]:
        value = getattr(obj, name)
        if isinstance(value, str):
            setattr(obj, name, check_text(value, name, free_text=is_free))
        elif isinstance(value, list):
            items = [check_text(v, f"{name}.{i}", free_text=is_free) for i, v in enumerate(value)]
            setattr(obj, name, items)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
