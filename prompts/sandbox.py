"""The Jinja2 sandbox prompts run in: parse once, check new versions, render variables as data.

Templates come from files or, later, from an admin API, so they run in an immutable sandbox
with ``StrictUndefined``: no attribute starting with ``_``, no mutating the values passed in,
bounded ``range`` and repetition. Variables (retrieved passages, customer text) are data:
Jinja never evaluates a value as template code, and every value written into a prompt has the
delimiter tags the prompts use defused, so a passage cannot close its ``<passage>`` block.
The sandbox stops code execution, not every way to burn CPU, so template authors are still
trusted staff; customers and documents only ever reach templates as variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from loaders.errors import InvalidInput
from prompts.specs import TemplateSpec

MAX_TEMPLATE_CHARS = 20_000
MAX_EXAMPLE_OUTPUT_CHARS = 50_000
_MAX_RANGE = 1_000
_MAX_REPEAT_CHARS = 10_000
# "<passage", "</question", "<|im_start|>"...: markers a value could use to fake a prompt section.
_DELIMITER = re.compile(
    r"<(?=\s*/?\s*(?:passages?|question|conversation|message|instructions|system)\b|\|)",
    re.IGNORECASE,
)


def defuse(value: Any) -> Any:
    """Turn prompt delimiter tags inside a string value into visibly inert text."""
    return _DELIMITER.sub("&lt;", value) if isinstance(value, str) else value


def _small_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > _MAX_RANGE:
        raise SecurityError(f"range() is limited to {_MAX_RANGE} items in prompt templates.")
    return rng


class PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus limits on ``*`` and ``**`` (e.g. ``'a' * 10**9``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("Exponents above 64 are not allowed in prompt templates.")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if sized and len(seq) * count > _MAX_REPEAT_CHARS:
                    raise SecurityError("Repetition is too large in a prompt template.")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=1)
def sandbox() -> PromptSandbox:
    """The one environment, built on first use (nothing happens at import)."""
    env = PromptSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=defuse,
    )
    env.globals["range"] = _small_range
    return env


def _invalid(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code="PROMPT_TEMPLATE_INVALID", details=details)


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Parse and compile once per distinct text; every store and version shares this cache."""
    try:
        return sandbox().from_string(source)
    except TemplateSyntaxError as exc:
        raise _invalid(f"Template syntax error on line {exc.lineno}: {exc.message}") from exc


def _unsafe_names(ast: nodes.Template) -> set[str]:
    """Private attributes and other templates a template reaches for (a prompt is one text)."""
    found = {n.attr for n in ast.find_all(nodes.Getattr) if n.attr.startswith("_")}
    found |= {
        n.value for n in ast.find_all(nodes.Const) if isinstance(n.value, str) and "__" in n.value
    }
    loads = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
    found |= {type(n).__name__.lower() for n in ast.find_all(loads)}
    return found


def validate_template(spec: TemplateSpec, source: str) -> list[str]:
    """Check a new version before it is stored; returns the variables it uses.

    Refuses text that does not parse, uses variables code does not pass, leaves out a variable
    it must use, touches private attributes (``{{ ''.__class__ }}``), or fails to render every
    example of its kind to a non-empty text.
    """
    if not source.strip():
        raise _invalid("The template is empty.")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise _invalid(f"The template is longer than {MAX_TEMPLATE_CHARS} characters.")
    env = sandbox()
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise _invalid(f"Template syntax error on line {exc.lineno}: {exc.message}") from exc
    unsafe = _unsafe_names(ast)
    if unsafe:
        names = ", ".join(sorted(unsafe))
        raise _invalid(f"The template uses what prompts may not: {names}.", unsafe=sorted(unsafe))
    used = meta.find_undeclared_variables(ast) - set(env.globals)
    unknown = used - spec.variables
    if unknown:
        allowed = ", ".join(sorted(spec.variables))
        raise _invalid(
            f"Template {spec.name!r} may only use the variables {allowed}; "
            f"it also uses {', '.join(sorted(unknown))}.",
            unknown=sorted(unknown),
        )
    missing = spec.must_use - used
    if missing:
        raise _invalid(
            f"Template {spec.name!r} must use {', '.join(sorted(missing))}.",
            missing=sorted(missing),
        )
    for example in spec.examples:
        _trial_render(spec, source, example)
    return sorted(used)


def _trial_render(spec: TemplateSpec, source: str, example: Mapping[str, Any]) -> None:
    try:
        text = render_template(spec, source, example)
    except InvalidInput as exc:
        raise _invalid(f"The template fails on an example: {exc.message}") from exc
    except Exception as exc:  # any failure on known-good input means the template is broken
        raise _invalid(f"The template fails on an example: {exc}") from exc
    if not text:
        raise _invalid(f"The template renders to nothing for {dict(example)!r}.")
    if len(text) > MAX_EXAMPLE_OUTPUT_CHARS:
        raise _invalid("The template renders far too much text for a small example.")


def render_template(spec: TemplateSpec, source: str, variables: Mapping[str, Any]) -> str:
    """Render with the spec's defaults; ``None`` means "use the default", unknown names are
    dropped, and a missing variable raises ``InvalidInput(code="PROMPT_RENDER_ERROR")``."""
    given = {k: v for k, v in variables.items() if k in spec.variables and v is not None}
    context = {**spec.defaults, **given}
    missing = spec.required - context.keys()
    if missing:
        raise InvalidInput(
            f"Prompt {spec.name!r} needs the variable(s) {', '.join(sorted(missing))}.",
            code="PROMPT_RENDER_ERROR",
            details={"name": spec.name, "missing": sorted(missing)},
        )
    template = compile_template(source)
    try:
        return template.render(context).strip()
    except (TemplateError, OverflowError) as exc:  # UndefinedError and SecurityError included
        raise InvalidInput(
            f"Prompt {spec.name!r} could not be rendered: {exc}",
            code="PROMPT_RENDER_ERROR",
            details={"name": spec.name},
        ) from exc
