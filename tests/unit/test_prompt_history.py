"""Activation-history replay (what a rollback returns to) and version diffs, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from prompts.activations import replay
from prompts.base import PromptVersion
from prompts.diff import diff_versions


def entry(kind: str, version: str) -> dict[str, Any]:
    return {"kind": kind, "version": version}


@pytest.mark.parametrize(
    ("entries", "stack"),
    [
        ([], []),
        ([entry("baseline", "v1"), entry("activate", "v2")], ["v1", "v2"]),
        # Rollbacks walk back instead of flipping between the last two versions.
        (
            [
                entry("baseline", "v1"),
                entry("activate", "v2"),
                entry("activate", "v3"),
                entry("rollback", "v2"),
                entry("rollback", "v1"),
            ],
            ["v1"],
        ),
        # Re-activating the active version is not a step to undo.
        ([entry("baseline", "v1"), entry("activate", "v1"), entry("activate", "v2")], ["v1", "v2"]),
        # Going back to v1 by hand is a step of its own: a rollback then returns to v2.
        (
            [entry("baseline", "v1"), entry("activate", "v2"), entry("activate", "v1")],
            ["v1", "v2", "v1"],
        ),
        # A rollback to a version the stack does not show still leaves that version on top.
        ([entry("activate", "v2"), entry("rollback", "v1")], ["v1"]),
    ],
)
def test_replay(entries: list[dict[str, Any]], stack: list[str]) -> None:
    assert replay(entries) == stack


def version(label: str, text: str) -> PromptVersion:
    return PromptVersion(name="system", version=label, template=text, template_type="system")


def test_diff_counts_added_and_removed_lines() -> None:
    old = version("v1", "one\ntwo\nthree\n")
    new = version("v2", "one\n2\nthree\nfour")  # no final newline
    d = diff_versions(old, new)
    assert (d.added, d.removed) == (2, 1)
    assert d.unified_diff.splitlines()[:2] == ["--- system/v1", "+++ system/v2"]
    assert "-two\n+2\n" in d.unified_diff and d.unified_diff.endswith("+four\n")
    assert diff_versions(old, old).unified_diff == ""
