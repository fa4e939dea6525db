"""The optional LLM judge over the OpenAI-compatible emulator (the real SDK over HTTP)."""

from __future__ import annotations

import pytest

from evals.judge import make_judge, parse_score
from loaders.errors import InvalidInput
from loaders.settings import Settings
from tests.emulators.openai_api import OpenAIEmulator, answer, server_error

pytestmark = pytest.mark.integration


def test_judge_scores_from_the_models_digit_and_skips_failures() -> None:
    with OpenAIEmulator(api_key="k") as emu:
        settings = Settings(openai_base_url=f"{emu.url}/v1", openai_api_key="k")
        judge = make_judge("openai/judge-model", settings)
        emu.script("judge-model", answer("4"), answer("I cannot grade this."))
        assert judge("How long?", "30 minutes.", "It lasts 30 minutes.") == 0.75
        assert judge("How long?", "30 minutes.", "It lasts 2 hours.") is None
        sent = emu.requests[0].body
        text = " ".join(str(m["content"]) for m in sent["messages"])
        assert "Reference answer: 30 minutes." in text and "It lasts 30 minutes." in text
        # every link failing ends in the extractive fallback: no grade rather than a guess
        emu.script("judge-model", *[server_error(500)] * 6)
        assert judge("How long?", "30 minutes.", "It lasts 30 minutes.") is None


def test_judge_needs_a_generative_model() -> None:
    with pytest.raises(InvalidInput):
        make_judge("extractive", Settings())
    assert parse_score("Score: 5") == 1.0 and parse_score("1") == 0.0
