"""Input and output guardrails of the chat graph (guardrails-ai Guards over offline detectors).

Import cost stays low: guardrails-ai itself is imported on the first check, not here.
"""

from __future__ import annotations

from chains.guardrails.guard import (
    InputVerdict,
    OutputVerdict,
    check_input,
    check_output,
    warm_up,
)

__all__ = ["InputVerdict", "OutputVerdict", "check_input", "check_output", "warm_up"]
