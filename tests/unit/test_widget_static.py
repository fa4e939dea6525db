"""The widget's script stays small, keeps its test hooks and never renders text as HTML;
origins normalise to the one form browsers send."""

from __future__ import annotations

import gzip
import re

import pytest

from app.widget.errors import InvalidOrigin
from app.widget.origins import normalise_origin, normalise_origins, request_origin
from app.widget.static import SCRIPT, load_asset

MAX_GZIPPED = 30 * 1024
HOOKS = (
    "sb-launcher",
    "sb-input",
    "sb-send",
    "sb-message-bot",
    "sb-message-agent",
    "sb-source",
    "sb-handoff",
    "sb-message-user",
    "sb-feedback-up",
    "sb-feedback-down",
    "sb-email-input",
)


def test_widget_js_is_at_most_30_kb_gzipped() -> None:
    body = SCRIPT.read_bytes()
    size = len(gzip.compress(body, compresslevel=9))
    assert size <= MAX_GZIPPED, f"widget.js is {size} bytes gzipped (limit {MAX_GZIPPED})"
    assert load_asset().gzipped and gzip.decompress(load_asset().gzipped) == body


def test_widget_js_keeps_its_hooks_and_renders_text_safely() -> None:
    text = SCRIPT.read_text()
    for hook in HOOKS:
        assert f'"{hook}"' in text, hook
    # innerHTML only for the constant launcher icon; every message goes through textContent.
    assert re.findall(r"innerHTML\s*=\s*(\w+)", text) == ["ICON"]
    assert "insertAdjacentHTML" not in text and "outerHTML" not in text
    assert "new URL(import.meta.url).origin" in text and "attachShadow" in text
    assert "Last-Event-ID" in text and "text/event-stream" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_normalise(raw: str, expected: str) -> None:
    assert normalise_origin(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["*", "null", "", "shop.com", "ftp://x.com", "https://x.com/a", "https://x.com?q",
     "https://u:p@x.com", "https://x.com:99999", "https://-bad-.com", "javascript:alert(1)"],
)  # fmt: skip
def test_junk_origins_are_refused(raw: str) -> None:
    with pytest.raises(InvalidOrigin) as err:
        normalise_origin(raw)
    assert err.value.code == "INVALID_ORIGIN" and err.value.status == 422
    assert request_origin(raw) is None


def test_origin_lists_dedupe_and_are_bounded() -> None:
    assert normalise_origins(["https://a.com", "https://A.com/"]) == ["https://a.com"]
    with pytest.raises(InvalidOrigin):
        normalise_origins([])
    with pytest.raises(InvalidOrigin):
        normalise_origins([f"https://s{i}.example.com" for i in range(51)])
