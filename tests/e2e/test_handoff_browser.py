"""The human handoff end to end, in two real browsers: a customer and a support agent.

``supportbot serve`` as `make run` starts it (the development site key, the sample KB), and two
headless Chromium sessions (separate webdrivers, so separate cookies and localStorage) drive
it through the pages' ``data-testid`` hooks only. A support agent (a real ``support_agent``
account, made by the development admin over the API) logs in at ``/login?next=/agent/`` and
waits in the inbox; a customer on ``/widget/demo`` asks a question the sample KB answers, gets
an answer with a source card and clicks "Talk to a person". The conversation shows up live in
the agent's queue; the agent claims it and replies, and the reply reaches the widget live. While
the agent holds the conversation the customer's next message gets no bot answer and appears
live in the agent's transcript. A reload of the customer's page keeps the whole conversation,
and the agent's typing and next reply still arrive live.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_playground_browser import (
    QUESTION,
    api_headers,
    browser_binaries,
    chromium_driver,
    running_server,
    tail,
)
from tests.e2e.test_widget_browser import Widget, hook

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AGENT_EMAIL = "ada.agent@example.com"
AGENT_PASSWORD = "correct-horse-battery"
AGENT_NAME = "Ada Agent"
ANSWER_PART = "30 minutes"  # what the sample KB's password-reset article says
FIRST_REPLY = "Hi, this is Ada. Let me look at your password reset."
FOLLOW_UP = "Thanks! The link I got yesterday no longer works."
SECOND_REPLY = "Links expire after 30 minutes; I have sent you a fresh one."


def wait_for(driver: Any, what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
    """Poll ``what`` until it is truthy; a stale or missing element just means "not yet"."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def check(_: Any) -> Any:
        try:
            return what()
        except WebDriverException:
            return None

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(check, message)


class Inbox:
    """The agent inbox page (plain DOM, no shadow root)."""

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.common.by import By

        self.driver = driver
        self.by = By.CSS_SELECTOR

    def all(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements(self.by, selector))

    def one(self, selector: str) -> Any:
        return self.driver.find_element(self.by, selector)

    def texts(self, selector: str) -> list[str]:
        """Each message's own text (``.text``), without the who/when line above it."""
        return [str(e.find_element(self.by, ".text").text) for e in self.all(selector)]

    def wait(self, what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
        return wait_for(self.driver, what, timeout, message)


def make_support_agent(base: str, data_dir: Path) -> str:
    """Register an account, then have the development admin make it a ``support_agent``."""
    body = {"email": AGENT_EMAIL, "password": AGENT_PASSWORD, "full_name": AGENT_NAME}
    r = httpx.post(f"{base}/api/v1/users/register", json=body, timeout=30)
    assert r.status_code == 201, r.text
    user_id = r.json()["data"]["user_id"]
    r = httpx.patch(
        f"{base}/api/v1/admin/users/{user_id}",
        json={"role": "support_agent"},
        headers=api_headers(base, data_dir),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["role"] == "support_agent", r.text
    return str(user_id)


def agent_logs_in(driver: Any, base: str) -> Inbox:
    """Through ``/login?next=/agent/``, as a person would; back on the inbox, live updates on."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/login?next=/agent/")
    driver.find_element(By.ID, "email").send_keys(AGENT_EMAIL)
    driver.find_element(By.ID, "password").send_keys(AGENT_PASSWORD)
    driver.find_element(By.ID, "login").click()
    inbox = Inbox(driver)
    inbox.wait(
        lambda: driver.current_url == f"{base}/agent/" and inbox.all(hook("sb-queue")),
        60,
        "login did not land on the inbox",
    )
    assert AGENT_NAME in inbox.one("#who").text and "support_agent" in inbox.one("#who").text
    # The event stream is open: the agent counts as online, so a handoff is not "offline".
    inbox.wait(
        lambda: inbox.one(hook("sb-live")).get_attribute("data-state") == "open",
        60,
        "the inbox's live updates never connected",
    )
    return inbox


def customer_asks(driver: Any, base: str) -> Widget:
    """Open the widget, ask QUESTION, see the answer with a source card."""
    driver.get(f"{base}/widget/demo")
    w = Widget(driver)
    w.wait(lambda: w.one("sb-launcher"), 30, "no launcher").click()
    box = w.wait(lambda: w.one("sb-input"), 30, "no input after opening")
    w.wait(lambda: w.texts("sb-greeting"), 30, "no greeting after opening")
    box.send_keys(QUESTION)
    w.one("sb-send").click()
    w.wait(
        lambda: any(ANSWER_PART in t for t in w.texts("sb-message-bot")),
        120,
        "no bot answer to the question",
    )
    assert w.texts("sb-message-user") == [QUESTION]
    sources = w.wait(lambda: w.all("sb-source"), 20, "the answer has no source cards")
    assert any(s.text.strip() for s in sources), "empty source card"
    return w


def session_id(driver: Any) -> str:
    key = driver.execute_script(
        "return document.querySelector('script[data-site-key]').dataset.siteKey"
    )
    stored = json.loads(driver.execute_script(f"return localStorage.getItem('supportbot:{key}')"))
    return str(stored["sid"])


def click(inbox: Inbox, selector: str, message: str, timeout: float = 60) -> None:
    """Click once it is there and enabled (lists re-render on events, so retry a stale one)."""

    def attempt() -> bool:
        target = inbox.one(selector)
        if not (target.is_displayed() and target.is_enabled()):
            return False
        target.click()
        return True

    inbox.wait(attempt, timeout, message)


def run_handoff_story(visitor: Any, agent: Any, base: str, data_dir: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    agent_id = make_support_agent(base, data_dir)
    inbox = agent_logs_in(agent, base)

    # -- the customer asks, gets a cited answer, and asks for a person
    w = customer_asks(visitor, base)
    sid = session_id(visitor)
    w.wait(lambda: w.one("sb-handoff").is_displayed(), 20, "no 'Talk to a person'")
    w.one("sb-handoff").click()
    w.wait(lambda: "Waiting for a person" in w.one("sb-status").text, 30, "handoff not shown")
    assert not w.one("sb-email-form").is_displayed(), "an agent is online: no email should be asked"
    assert not w.one("sb-handoff").is_displayed()

    # -- the agent sees it arrive in the queue, live (no reload), and opens it
    item = f'{hook("sb-queue-item")}[data-session-id="{sid}"]'
    inbox.wait(lambda: inbox.all(item), 60, f"session {sid} never showed up in the queue")
    click(inbox, f"{item} button", "could not open the queued conversation")
    inbox.wait(
        lambda: (
            inbox.one("#conversation-id").text == sid
            and inbox.texts(f"{hook('sb-transcript')} {hook('sb-message-user')}") == [QUESTION]
        ),
        30,
        "the opened conversation does not show the customer's question",
    )
    bot_answers = inbox.texts(f"{hook('sb-transcript')} {hook('sb-message-bot')}")
    assert len(bot_answers) == 1 and ANSWER_PART in bot_answers[0], bot_answers
    assert inbox.one(hook("sb-handoff-state")).text == "waiting for a person"

    # -- claims it: out of the queue, into "Mine"; the customer hears who joined
    click(inbox, hook("sb-claim"), "the claim button never became clickable")
    inbox.wait(
        lambda: (
            inbox.one(hook("sb-handoff-state")).text == "with an agent"
            and inbox.one(hook("sb-handoff-agent")).text == "you"
        ),
        30,
        "the claim did not take",
    )
    inbox.wait(
        lambda: (
            not inbox.all(item) and inbox.all(f'{hook("sb-mine-item")}[data-session-id="{sid}"]')
        ),
        30,
        "the claimed conversation did not move from the queue to Mine",
    )
    w.wait(lambda: f"Chatting with {AGENT_NAME}" in w.one("sb-status").text, 30, "claim not shown")
    w.wait(
        lambda: any("joined the conversation" in t for t in w.texts("sb-message-system")),
        10,
        "the customer was not told a person joined",
    )

    # -- replies; the customer sees it live, with the agent's name
    reply_box = inbox.wait(
        lambda: (
            inbox.one(hook("sb-reply-input"))
            if inbox.one(hook("sb-reply-input")).is_enabled()
            else None
        ),
        30,
        "the reply box stayed disabled after the claim",
    )
    reply_box.send_keys(FIRST_REPLY)
    click(inbox, hook("sb-reply-send"), "could not send the reply")
    inbox.wait(lambda: "Reply sent" in inbox.one(hook("sb-status")).text, 30, "reply not sent")
    assert inbox.one(hook("sb-reply-input")).get_attribute("value") == ""
    w.wait(
        lambda: any(FIRST_REPLY in t for t in w.texts("sb-message-agent")),
        30,
        "the agent's reply did not reach the widget live",
    )
    assert AGENT_NAME in w.texts("sb-message-agent")[-1]

    # -- the customer writes while the agent holds it: no bot answer; the agent sees it live
    bots = len(w.all("sb-message-bot"))
    w.one("sb-input").send_keys(FOLLOW_UP, Keys.ENTER)
    # The turn is over once the widget has the stored message id and the send button is back.
    w.wait(
        lambda: (
            w.all("sb-message-user")[-1].get_attribute("data-message-id")
            and w.one("sb-send").is_enabled()
        ),
        60,
        "the follow-up turn never completed",
    )
    assert w.texts("sb-message-user") == [QUESTION, FOLLOW_UP]
    assert len(w.all("sb-message-bot")) == bots, "the bot answered while a person held it"
    problems = [t for t in w.texts("sb-message-system") if t.startswith("We couldn't")]
    assert not problems, problems
    user_in_inbox = f"{hook('sb-transcript')} {hook('sb-message-user')}"
    inbox.wait(
        lambda: inbox.texts(user_in_inbox) == [QUESTION, FOLLOW_UP],
        30,
        "the customer's follow-up did not appear live in the agent's transcript",
    )
    # The server stored no bot answer either (the agent API's transcript, newest last).
    token = agent_token(base)
    r = httpx.get(f"{base}/api/v1/agent/sessions/{sid}", headers=token, timeout=30)
    assert r.status_code == 200, r.text
    roles = [m["role"] for m in r.json()["data"]["messages"]]
    assert roles == ["user", "assistant", "agent", "user"], roles
    assert r.json()["data"]["handoff"]["assigned_agent"]["user_id"] == agent_id

    # -- the customer closes the widget and reloads; reopening shows the whole conversation
    w.one("sb-close").click()
    w.wait(lambda: not w.one("sb-panel").is_displayed(), 10, "the panel did not close")
    visitor.refresh()
    w.wait(lambda: w.one("sb-launcher"), 30, "no launcher after the reload")
    assert not w.one("sb-panel").is_displayed(), "a closed panel reopened by itself"
    w.one("sb-launcher").click()
    w.wait(
        lambda: w.texts("sb-message-user") == [QUESTION, FOLLOW_UP],
        30,
        "the customer's messages were lost on reload",
    )
    assert sum(ANSWER_PART in t for t in w.texts("sb-message-bot")) == 1, w.texts("sb-message-bot")
    assert w.all("sb-source"), "the answer's source cards were lost on reload"
    agent_texts = w.texts("sb-message-agent")
    assert len(agent_texts) == 1 and FIRST_REPLY in agent_texts[0], agent_texts
    assert AGENT_NAME in agent_texts[0]
    w.wait(lambda: f"Chatting with {AGENT_NAME}" in w.one("sb-status").text, 30, "claim lost")
    assert session_id(visitor) == sid, "the reload started a new session"

    # -- after the reload the widget follows the conversation live again. A stream opened
    # without Last-Event-ID starts "from now", so first see the agent's typing arrive (which
    # proves the widget's new stream is connected), then send.
    reply_box = inbox.one(hook("sb-reply-input"))
    reply_box.send_keys(SECOND_REPLY)
    typed = [time.monotonic()]

    def agent_typing_shown() -> bool:
        if w.one("sb-typing").is_displayed():
            return True
        if time.monotonic() - typed[0] > 3.5:  # the inbox signals typing at most every 3 s
            reply_box.send_keys(" ", Keys.BACKSPACE)
            typed[0] = time.monotonic()
        return False

    w.wait(agent_typing_shown, 60, "after a reload, the agent's typing never showed")
    assert f"{AGENT_NAME} is typing" in w.one("sb-typing").text
    reply_box.send_keys(Keys.CONTROL, Keys.ENTER)  # Ctrl+Enter sends
    w.wait(
        lambda: any(SECOND_REPLY in t for t in w.texts("sb-message-agent")),
        60,
        "after a reload, the agent's reply did not arrive live",
    )
    agent_in_inbox = f"{hook('sb-transcript')} {hook('sb-message-agent')}"
    inbox.wait(lambda: inbox.texts(agent_in_inbox) == [FIRST_REPLY, SECOND_REPLY], 30)
    # Each message once on each side (history, the send's response and the live event meet).
    assert inbox.texts(user_in_inbox) == [QUESTION, FOLLOW_UP]
    assert [t.split("\n")[-1] for t in w.texts("sb-message-agent")] == [FIRST_REPLY, SECOND_REPLY]


def agent_token(base: str) -> dict[str, str]:
    body = {"email": AGENT_EMAIL, "password": AGENT_PASSWORD}
    r = httpx.post(f"{base}/api/v1/users/login", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}


def test_a_customer_is_handed_to_a_person_and_back_after_a_reload(tmp_path: Path) -> None:
    chromium, chromedriver = browser_binaries()
    with running_server(tmp_path) as (base, log_path):
        visitor = chromium_driver(chromium, chromedriver, tmp_path / "visitor-profile")
        try:
            agent = chromium_driver(chromium, chromedriver, tmp_path / "agent-profile")
        except Exception:
            visitor.quit()
            raise
        try:
            run_handoff_story(visitor, agent, base, tmp_path / "var")
        except Exception as exc:
            shots = []
            for name, driver in (("visitor", visitor), ("agent", agent)):
                shot = tmp_path / f"handoff-{name}.png"
                if driver.save_screenshot(str(shot)):
                    shots.append(str(shot))
            raise AssertionError(
                f"{exc}\nscreenshots: {', '.join(shots)}\nserver:\n{tail(log_path)}"
            ) from exc
        finally:
            agent.quit()
            visitor.quit()
