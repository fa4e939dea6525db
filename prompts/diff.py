"""Line diffs between two prompt versions, for reviewing a change before activating it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from prompts.base import PromptVersion


@dataclass(frozen=True)
class VersionDiff:
    """A unified diff (``git diff`` style) and how many lines it adds and removes."""

    name: str
    from_version: str
    to_version: str
    unified_diff: str
    added: int
    removed: int


def diff_versions(old: PromptVersion, new: PromptVersion, *, context: int = 3) -> VersionDiff:
    """Diff ``old`` -> ``new`` line by line; identical texts give an empty diff."""
    lines = list(
        difflib.unified_diff(
            old.template.splitlines(keepends=True),
            new.template.splitlines(keepends=True),
            fromfile=f"{old.name}/{old.version}",
            tofile=f"{new.name}/{new.version}",
            n=context,
        )
    )
    # A last line without a newline would run into the next diff line.
    text = "".join(line if line.endswith("\n") else f"{line}\n" for line in lines)
    body = lines[2:]  # skip the ---/+++ header
    return VersionDiff(
        name=new.name,
        from_version=old.version,
        to_version=new.version,
        unified_diff=text,
        added=sum(1 for line in body if line.startswith("+")),
        removed=sum(1 for line in body if line.startswith("-")),
    )
