"""The agent inbox's static files: test hooks, no inline script, text never parsed as HTML."""

from __future__ import annotations

import re

import pytest

from app.inbox.routes import ASSETS, STATIC_DIR, render_page

REQUIRED_HOOKS = ("sb-queue-item", "sb-claim", "sb-reply-input", "sb-reply-send")
OWN_HOOKS = (
    "sb-note-input",
    "sb-note-send",
    "sb-release-resolved",
    "sb-release-bot",
    "sb-transfer",
    "sb-transcript",
    "sb-message-user",
    "sb-message-agent",
    "sb-message-bot",
    "sb-status",
)


def text(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def shipped() -> str:
    return text("index.html") + "".join(text(n) for n in ASSETS if n.endswith(".js"))


@pytest.mark.parametrize("hook", REQUIRED_HOOKS + OWN_HOOKS)
def test_every_test_hook_is_on_the_page_or_in_its_scripts(hook: str) -> None:
    assert re.search(rf"[\"']{re.escape(hook)}[\"']", shipped()), hook


def test_queue_items_carry_their_session_id() -> None:
    view = text("view.js")
    assert '"data-testid": hook, "data-session-id": item.session_id' in view
    assert 'hook: "sb-queue-item"' in text("inbox.js")


def test_the_page_has_no_inline_script_or_style_and_loads_only_listed_assets() -> None:
    page = text("index.html")
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ['<script type="module" src="/agent/static/inbox.js">']
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+\s*=", page)  # no inline event handlers
    for path in re.findall(r'(?:src|href)="(/agent/static/[^"]+)"', page):
        assert path.removeprefix("/agent/static/") in ASSETS, path
    imports = re.findall(r'from "\./([^"]+)"', text("inbox.js"))
    assert imports and all(name in ASSETS for name in imports)


HTML_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML\(|document\.write|\beval\(|"
    r"new Function\(|createContextualFragment"
)


def test_scripts_never_parse_text_as_html() -> None:
    for name in ASSETS:
        if name.endswith(".js"):
            assert not HTML_SINKS.search(text(name)), name
    assert HTML_SINKS.search("node.innerHTML = text")  # the pattern does catch the sink


def test_every_listed_asset_exists() -> None:
    assert all((STATIC_DIR / name).is_file() for name in ASSETS)


def test_the_agent_identity_is_escaped_into_the_page() -> None:
    user = {"user_id": "u-1", "full_name": '"><script>alert(1)</script>', "role": "support_agent"}
    page = render_page(user)
    assert '<meta name="sb-agent-id" content="u-1">' in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "{{" not in page
