"""The LangServe playground in a real browser: a question at ``/chat/playground/`` gets cited.

Starts ``supportbot serve`` as `make run` does (embedded MongoDB, the sample KB ingested on first
start, the development admin created with its password in DATA_DIR), then drives Debian's
headless Chromium through selenium and the system chromedriver, the way a prompt engineer uses
the playground: log in at ``/login`` (an HttpOnly cookie), then ask. Without Chromium the test
skips with the reason, except under REQUIRE_SERVICES=1 (CI, where `.ci/run` installs it), where
it fails.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.startup import DEV_ADMIN_EMAIL, PASSWORD_FILE
from loaders.mongo import free_port
from loaders.sample import SAMPLE_KB_DIR, read_manifest
from tests.servers import unavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "How long is a password reset link valid?"
SOURCE_FILE = "password-reset.txt"  # the sample KB article that answers QUESTION
# Work as root in a container; no network calls of the browser's own (updates, sync, QUIC).
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)
# Selectors found in the playground's DOM (LangServe 0.3.3, JSON Forms): stable texts, not classes.
INPUT_LABELS = (
    "xpath",
    "//h3[normalize-space()='Inputs']/parent::div/following-sibling::div//label",
)
START_BUTTON = ("xpath", "//button[normalize-space()='Start']")
OUTPUT_PANE = ("xpath", "//h2[normalize-space()='Output']/following-sibling::*[1]")


def browser_binaries() -> tuple[str, str]:
    """Chromium and chromedriver paths (env overrides, then PATH, then Debian's), or skip."""
    chromium = (
        os.environ.get("CHROMIUM_BIN")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
        or "/usr/bin/chromium"
    )
    driver = os.environ.get("CHROMEDRIVER_BIN") or shutil.which("chromedriver")
    driver = driver or "/usr/bin/chromedriver"
    missing = [p for p in (chromium, driver) if not Path(p).is_file()]
    if missing:
        unavailable(
            f"no Chromium/chromedriver at {', '.join(missing)}: "
            "apt-get install chromium chromium-driver (or set CHROMIUM_BIN / CHROMEDRIVER_BIN)"
        )
    if importlib.util.find_spec("selenium") is None:
        unavailable("selenium is not installed: pip install -e '.[dev]'")
    return chromium, driver


@contextlib.contextmanager
def running_server(workdir: Path) -> Iterator[tuple[str, Path]]:
    """``python -m app.cli serve`` with only a temporary DATA_DIR; stopped with Ctrl-C after."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "REDIS_", "PINECONE_"))
    }
    env.update({"DATA_DIR": str(workdir / "var"), "PORT": str(port), "LOG_LEVEL": "WARNING"})
    log_path = workdir / "serve.log"
    # A file, not a pipe: nobody reads a pipe while the browser runs, and a full one blocks.
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_sample_kb(base, proc, log_path, workdir / "var")
            yield base, log_path
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def admin_password(data_dir: Path) -> str:
    """The first-start development admin's password (written by the server, mode 0600)."""
    return (data_dir / PASSWORD_FILE).read_text().strip()


def api_headers(base: str, data_dir: Path) -> dict[str, str]:
    body = {"email": DEV_ADMIN_EMAIL, "password": admin_password(data_dir)}
    r = httpx.post(f"{base}/api/v1/users/login", json=body, timeout=10)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}


def wait_for_sample_kb(
    base: str, proc: subprocess.Popen[bytes], log_path: Path, data_dir: Path
) -> None:
    """Until the first-start ingestion has stored every manifest entry."""
    expected = len(read_manifest(SAMPLE_KB_DIR))
    deadline = time.monotonic() + 240
    total = -1
    headers: dict[str, str] | None = None
    while time.monotonic() < deadline and total < expected:
        assert proc.poll() is None, f"server exited:\n{tail(log_path)}"
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError, OSError):
            headers = headers or api_headers(base, data_dir)
            r = httpx.get(f"{base}/api/v1/knowledge-base/documents", headers=headers, timeout=2)
            total = r.json()["data"]["total"]
        time.sleep(0.5)
    assert total == expected, f"sample KB not ingested: {total}/{expected}\n{tail(log_path)}"


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def expected_source(base: str, data_dir: Path) -> dict[str, str]:
    """The document_id and title the answer must cite, as the REST API lists them."""
    title = read_manifest(SAMPLE_KB_DIR)[SOURCE_FILE]["title"]
    r = httpx.get(
        f"{base}/api/v1/knowledge-base/documents",
        params={"page_size": 100},
        headers=api_headers(base, data_dir),
    )
    docs = [d for d in r.json()["data"]["documents"] if d["title"] == title]
    assert len(docs) == 1, f"{title!r} not listed once: {r.text[:500]}"
    return {"document_id": docs[0]["document_id"], "title": title}


def json_values(text: str) -> list[Any]:
    """Every JSON value in the output pane (the playground shows streamed chunks back to back)."""
    decoder, i = json.JSONDecoder(), 0
    values: list[Any] = []
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        try:
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return values
        values.append(value)
    return values


def dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from dicts(v)
    elif isinstance(value, list):
        for v in value:
            yield from dicts(v)


def answers_and_sources(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Answer texts and cited sources anywhere in the shown output, whatever its nesting."""
    found = [d for v in json_values(text) for d in dicts(v)]
    answers = [d["answer"] for d in found if isinstance(d.get("answer"), str)]
    sources = [s for d in found for s in d.get("sources") or [] if isinstance(s, dict)]
    return answers, sources


def chromium_driver(chromium: str, chromedriver: str, profile: Path) -> Any:
    """Headless Chromium through the system chromedriver (selenium's own downloader never runs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)


def log_in(driver: Any, base: str, password: str) -> None:
    """Through the login page, as a person would; it redirects to the playground."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/chat/playground/")
    assert "INVALID_TOKEN" in driver.page_source, "the playground opened without logging in"
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(DEV_ADMIN_EMAIL)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    try:
        WebDriverWait(driver, 60).until(
            lambda d: d.current_url.startswith(f"{base}/chat/playground")
        )
    except TimeoutException:
        pytest.fail(
            f"login did not reach the playground: {driver.current_url}\n{driver.page_source[:500]}"
        )
    cookies = {c["name"]: c for c in driver.get_cookies()}
    assert cookies["supportbot_access"]["httpOnly"], cookies


def ask_in_playground(driver: Any, base: str, question: str, shot: Path) -> str:
    """Type ``question``, press Start, wait for an answer with sources; the output pane's text."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/chat/playground/")
    wait = WebDriverWait(driver, 30)
    labels = wait.until(lambda d: d.find_elements(*INPUT_LABELS))
    # JSON Forms names the field after the input schema's path: {"question": str}.
    boxes = driver.find_elements(By.ID, "#/properties/question-input")
    if not boxes:
        pytest.fail(
            "the playground's input form has no 'question' text field (the served input schema "
            f"should be {{'question': str}}); it shows {[e.text for e in labels]}"
        )
    boxes[0].send_keys(question)
    try:
        wait.until(ec.element_to_be_clickable(START_BUTTON)).click()
    except TimeoutException:
        errors = driver.find_elements(By.XPATH, "//*[strong='Validation Errors']//li")
        pytest.fail(f"Start stays disabled; the form says: {[e.text for e in errors]}")

    def answered(d: Any) -> bool:
        panes = d.find_elements(*OUTPUT_PANE)
        answers, sources = answers_and_sources(panes[0].text) if panes else ([], [])
        return bool(answers and sources)

    try:
        WebDriverWait(driver, 60).until(answered)
    finally:
        with contextlib.suppress(WebDriverException):  # never hide why the wait failed
            height = driver.execute_script("return document.body.scrollHeight")
            driver.set_window_size(1280, min(int(height), 6000))
            driver.save_screenshot(str(shot))
    return str(driver.find_element(*OUTPUT_PANE).text)


def test_playground_answers_a_question_with_a_source(tmp_path: Path) -> None:
    chromium, chromedriver = browser_binaries()
    shot = tmp_path / "playground.png"
    with running_server(tmp_path) as (base, log_path):
        want = expected_source(base, tmp_path / "var")
        driver = chromium_driver(chromium, chromedriver, tmp_path / "chromium-profile")
        try:
            log_in(driver, base, admin_password(tmp_path / "var"))
            text = ask_in_playground(driver, base, QUESTION, shot)
        except Exception as exc:
            raise AssertionError(f"{exc}\nscreenshot: {shot}\nserver:\n{tail(log_path)}") from exc
        finally:
            driver.quit()

    answers, sources = answers_and_sources(text)
    assert any("30 minutes" in a and "[1]" in a for a in answers), (answers, shot)
    assert any(
        s["document_id"] == want["document_id"] and s["title"] == want["title"] for s in sources
    ), (sources, shot)
    assert shot.stat().st_size > 10_000, "empty screenshot"
    assert "system_prompt" not in text and "untrusted data" not in text, "system prompt shown"
