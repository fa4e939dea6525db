"""The customer widget in a real browser: ``/widget/demo`` as a customer sees it.

``supportbot serve`` as `make run` starts it (the development site key for its own origin, the
sample KB), headless Chromium through selenium. A question gets a streamed answer with source
cards and a thumbs-up; a reload keeps the conversation (one request to reopen); "Talk to a
person" offline asks for an email; an agent (the development admin, over the API) claims the
conversation and replies, and the reply shows up live with the agent's name.
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

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def hook(name: str) -> str:
    return f'[data-testid="{name}"]'


class Widget:
    """The widget's shadow root, found through its host element."""

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.common.by import By

        self.driver = driver
        self.by = By.CSS_SELECTOR

    @property
    def root(self) -> Any:
        return self.driver.find_element(self.by, "supportbot-widget").shadow_root

    def all(self, name: str) -> list[Any]:
        return list(self.root.find_elements(self.by, hook(name)))

    def one(self, name: str) -> Any:
        return self.root.find_element(self.by, hook(name))

    def wait(self, what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def check(_: Any) -> Any:
            try:
                return what()
            except WebDriverException:
                return None

        return WebDriverWait(self.driver, timeout).until(check, message)

    def texts(self, name: str) -> list[str]:
        return [str(e.text) for e in self.all(name)]


def site_requests(driver: Any, part: str) -> int:
    script = "return performance.getEntriesByType('resource').map(e => e.name)"
    return sum(part in url for url in driver.execute_script(script))


def test_a_customer_chats_reloads_and_reaches_a_person(tmp_path: Path) -> None:
    chromium, chromedriver = browser_binaries()
    with running_server(tmp_path) as (base, log_path):
        driver = chromium_driver(chromium, chromedriver, tmp_path / "chromium-profile")
        try:
            run_customer_story(driver, base, tmp_path / "var")
            driver.save_screenshot(str(tmp_path / "widget-desktop.png"))
            driver.set_window_size(390, 800)  # a phone: the panel fills the screen
            driver.save_screenshot(str(tmp_path / "widget-phone.png"))
            panel = driver.execute_script(
                "const p = document.querySelector('supportbot-widget').shadowRoot"
                ".querySelector('#sb-panel').getBoundingClientRect(); return [p.width, p.top]"
            )
            assert panel[0] >= 380 and panel[1] <= 1, f"panel not full-screen on a phone: {panel}"
        except Exception as exc:
            shot = tmp_path / "widget.png"
            driver.save_screenshot(str(shot))
            raise AssertionError(f"{exc}\nscreenshot: {shot}\nserver:\n{tail(log_path)}") from exc
        finally:
            driver.quit()


def run_customer_story(driver: Any, base: str, data_dir: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    driver.get(f"{base}/widget/demo")
    w = Widget(driver)
    w.wait(lambda: w.one("sb-launcher"), 20).click()
    box = w.wait(lambda: w.one("sb-input"))
    w.wait(lambda: w.texts("sb-greeting"), 20, "no greeting after opening")
    assert w.root.find_element(w.by, "#sb-panel").get_attribute("role") == "dialog"

    box.send_keys(QUESTION)
    w.one("sb-send").click()
    w.wait(lambda: any("30 minutes" in t for t in w.texts("sb-message-bot")), 90, "no answer")
    assert w.texts("sb-message-user") == [QUESTION]
    sources = w.wait(lambda: w.all("sb-source"), 10, "no source cards")
    assert any(s.text.strip() for s in sources)
    up = w.wait(lambda: w.one("sb-feedback-up"))
    up.click()
    w.wait(lambda: up.get_attribute("aria-pressed") == "true" and not up.is_enabled(), 10)
    time.sleep(0.5)  # a failed POST would re-enable the buttons
    assert up.get_attribute("aria-pressed") == "true"

    # A reload keeps the conversation: the panel reopens with it, in one request.
    driver.refresh()
    w.wait(lambda: w.texts("sb-message-user") == [QUESTION], 30, "conversation lost on reload")
    assert any("30 minutes" in t for t in w.texts("sb-message-bot"))
    assert site_requests(driver, "/api/v1/widget/session") == 1
    assert site_requests(driver, "/api/v1/chat/") == 0, "reopening cost more than one request"
    # Escape closes the panel and gives focus back to the launcher.
    w.one("sb-input").send_keys(Keys.ESCAPE)
    w.wait(lambda: not w.root.find_element(w.by, "#sb-panel").is_displayed(), 5)
    active = driver.execute_script(
        "return document.querySelector('supportbot-widget').shadowRoot.activeElement"
        ".getAttribute('data-testid')"
    )
    assert active == "sb-launcher"
    w.one("sb-launcher").click()

    # Nobody is online: the customer is asked for an email.
    w.wait(lambda: w.one("sb-handoff").is_displayed(), 10)
    w.one("sb-handoff").click()
    email = w.wait(
        lambda: w.one("sb-email-input") if w.one("sb-email-input").is_displayed() else None, 20
    )
    email.send_keys("customer@example.com")
    w.one("sb-email-submit").click()
    w.wait(lambda: not w.one("sb-email-input").is_displayed(), 20, "email not accepted")

    # An agent claims the conversation and replies: it arrives live, with the agent's name.
    key = driver.execute_script(
        "return document.querySelector('script[data-site-key]').dataset.siteKey"
    )
    stored = json.loads(driver.execute_script(f"return localStorage.getItem('supportbot:{key}')"))
    sid = stored["sid"]
    agent = api_headers(base, data_dir)
    r = httpx.post(f"{base}/api/v1/agent/sessions/{sid}/claim", headers=agent, timeout=10)
    assert r.status_code == 200, r.text
    w.wait(lambda: "Chatting with" in w.one("sb-status").text, 20, "claim not shown")
    r = httpx.post(f"{base}/api/v1/agent/sessions/{sid}/typing", headers=agent, timeout=10)
    assert r.status_code == 200, r.text
    w.wait(lambda: w.one("sb-typing").is_displayed(), 10, "typing not shown")
    body = {"message": "Hi, I'm here to help with your password."}
    r = httpx.post(f"{base}/api/v1/agent/sessions/{sid}/messages", json=body, headers=agent)
    assert r.status_code == 201, r.text
    w.wait(lambda: any(body["message"] in t for t in w.texts("sb-message-agent")), 20)
    # While a person holds the conversation the bot stays silent.
    bots = len(w.all("sb-message-bot"))
    w.one("sb-input").send_keys("Thanks!", Keys.ENTER)
    w.wait(lambda: w.texts("sb-message-user")[-1] == "Thanks!", 10)
    time.sleep(1.5)
    assert len(w.all("sb-message-bot")) == bots
