"""Debian's Chromium driven by Playwright, shared by the browser tests.

`/usr/bin/chromium` (installed by scripts/system-deps.sh when the build runs as root); never
`playwright install`, which downloads a browser of its own. Without it the tests are skipped when not
running as root; as root a missing browser is a failure.

Screenshots kept in docs/ are re-taken only on request (REGUA_UPDATE_SCREENSHOTS=1), so a normal run
leaves the working tree clean: see `keep_screenshot`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
# Headless without a sandbox or GPU, and without the background connections this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless (skips or fails the test when it is missing, see the module doc)."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0:
            pytest.skip(
                f"{CHROMIUM} is not installed and this is not root: install Debian's chromium "
                "(sudo apt-get install chromium fonts-liberation) to run the browser test"
            )
        pytest.fail(f"{CHROMIUM} is missing: scripts/system-deps.sh installs it as root (make bootstrap)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """A full-page screenshot of `page` into `tmp_path`, kept as docs/screenshots/`name` when asked
    (`keep_screenshot`)."""
    taken = tmp_path / name
    page.screenshot(path=str(taken), full_page=True)
    keep_screenshot(taken, SCREENSHOTS / name)


def keep_screenshot(taken: Path, kept: Path) -> None:
    """Copy the screenshot `taken` over the one kept in the repository, when REGUA_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("REGUA_UPDATE_SCREENSHOTS") == "1":
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(taken, kept)


def new_page(browser: Browser, viewport: dict[str, int] = LAPTOP, *, timeout_ms: int = 15_000) -> Page:
    """A page in a fresh context (its own cookies) with Brazil's locale and time; a phone when `viewport`
    is PHONE."""
    context = browser.new_context(
        viewport=viewport, locale="pt-BR", timezone_id="America/Sao_Paulo", is_mobile=viewport == PHONE
    )
    context.set_default_timeout(timeout_ms)
    return context.new_page()


def logged_in(
    browser: Browser,
    web_url: str,
    email: str,
    password: str,
    *,
    viewport: dict[str, int] = LAPTOP,
    timeout_ms: int = 15_000,
) -> Page:
    """A new page (laptop-sized unless `viewport` says otherwise; Brazilian locale and time) of `email`
    logged in to the console's queue."""
    page = new_page(browser, viewport, timeout_ms=timeout_ms)
    page.goto(f"{web_url}/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(f"{web_url}/console/")
    return page
