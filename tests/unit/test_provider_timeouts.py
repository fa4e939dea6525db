"""Chat model timeouts: the settings that declare them, their layering, the ``local`` spec, and
which timeouts are retried (a read timeout never is: the server may still be computing)."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from langchain_core.runnables import RunnableLambda
from pydantic import ValidationError
from pydantic_settings import SettingsError

from chains.failover import is_read_timeout, resilient
from chains.provider_timeouts import Timeouts, check, for_provider, turn_overrides
from chains.providers import canonical_spec, parse_chat_spec
from chains.runtime_config import RUNTIME_KEY
from loaders.errors import InvalidInput
from loaders.settings import Settings


def test_defaults_fit_the_provider_and_the_environment_overrides_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert for_provider("local", Settings()) == Timeouts(connect=5.0, read=120.0)
    assert for_provider("openai", Settings()) == Timeouts(connect=5.0, read=30.0)
    monkeypatch.setenv("LLM_READ_TIMEOUT", "60")
    monkeypatch.setenv("LLM_CONNECT_TIMEOUT", "2.5")
    monkeypatch.setenv("LLM_TIMEOUTS", '{"local": {"read": 300}, "bedrock": {"connect": 1}}')
    env = Settings()
    assert for_provider("local", env) == Timeouts(connect=2.5, read=300.0)
    assert for_provider("bedrock", env) == Timeouts(connect=1.0, read=60.0)
    assert for_provider("azure_openai", env) == Timeouts(connect=2.5, read=60.0)
    assert for_provider("local", env, read=9.0) == Timeouts(connect=2.5, read=9.0)  # the turn's


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("LLM_READ_TIMEOUT", "0", "greater than 0"),
        ("LLM_CONNECT_TIMEOUT", "-1", "greater than 0"),
        ("LLM_READ_TIMEOUT", "soon", "valid number"),
        ("LLM_TIMEOUTS", '{"anthropic": {"read": 9}}', "anthropic"),
        ("LLM_TIMEOUTS", '{"local": {"read": -5}}', "greater than 0"),
        ("LLM_TIMEOUTS", '{"local": {"reed": 5}}', "reed"),
        ("LLM_TIMEOUTS", "read=5", "(?i)llm_timeouts"),
    ],
)
def test_bad_timeout_settings_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, SettingsError), match=says):
        Settings()


@pytest.mark.parametrize("value", ["abc", 0, -3, 3601, True, float("nan"), [5]])
def test_a_turn_timeout_must_be_positive_seconds(value: Any) -> None:
    with pytest.raises(InvalidInput, match="read_timeout") as err:
        check("read_timeout", value)
    assert err.value.code == "INVALID_TIMEOUT"


def test_a_turn_timeout_accepts_numbers_and_text_and_none() -> None:
    assert check("read_timeout", "45") == 45.0 and check("read_timeout", 0.5) == 0.5
    assert check("read_timeout", None) is None and check("read_timeout", "") is None


def test_turn_overrides_come_from_the_running_config_request_first() -> None:
    assert turn_overrides() == (None, None)  # outside a run
    seen = RunnableLambda(lambda _: turn_overrides())
    admin = {RUNTIME_KEY: {"read_timeout": 90.0, "connect_timeout": 3}}
    assert seen.invoke(0, {"configurable": admin}) == (3.0, 90.0)
    request = {**admin, "read_timeout": "15"}
    assert seen.invoke(0, {"configurable": request}) == (3.0, 15.0)
    with pytest.raises(InvalidInput, match="read_timeout"):
        seen.invoke(0, {"configurable": {"read_timeout": "never"}})


def test_local_is_a_spec_without_a_model() -> None:
    assert parse_chat_spec("local") == ("local", "local")
    assert canonical_spec(" Local ") == canonical_spec("local/local") == "local"
    with pytest.raises(InvalidInput, match="one model") as err:
        parse_chat_spec("local/qwen2.5")
    assert err.value.code == "INVALID_CHAT_MODEL"


REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def _openai_timeout(cause: Exception) -> openai.APITimeoutError:
    try:
        raise openai.APITimeoutError(request=REQUEST) from cause
    except openai.APITimeoutError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "read"),
    [
        (httpx.ReadTimeout("stream stalled"), True),  # mid-stream: raised by httpx itself
        (_openai_timeout(httpx.ReadTimeout("no reply")), True),
        (_openai_timeout(httpx.ConnectTimeout("no route")), False),
        (ReadTimeoutError(endpoint_url="https://bedrock"), True),
        (ConnectTimeoutError(endpoint_url="https://bedrock"), False),
        (openai.APIConnectionError(request=REQUEST), False),
        (TimeoutError(), False),
    ],
)
def test_read_timeouts_are_told_from_connect_timeouts(exc: BaseException, read: bool) -> None:
    assert is_read_timeout(exc) is read
    model = resilient(RunnableLambda(lambda _: None), "openai/m", retries=2)
    assert model._should_retry(exc) is (not read)  # connect failures: retried; reads: never
