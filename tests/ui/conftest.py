"""Playwright against Debian's chromium (never a downloaded browser), and the simulated network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from terugbel.clock import ManualClock
from terugbel.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI has it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def screenshot(page: Any) -> Any:
    def save(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture
def sim(live_app: Any, runtime: Runtime, clock: ManualClock) -> Iterator[Any]:
    """The simulated Twilio, calling the live app; the app's REST calls go to it."""
    from telephony.simulator import Simulator

    simulator = Simulator(clock=clock, app_base_url=live_app.base_url).start()
    runtime.settings = runtime.settings.with_overrides(twilio_api_base_url=simulator.rest_base_url)
    runtime._telephony = None
    yield simulator
    simulator.stop()
