"""The console in a real browser: Debian's Chromium driven by Playwright, against the whole
platform served on a loopback port (the scripted ``test`` models, the packaged local model).

One server and one browser per module keep the run short. The browser must close with its
module: sync Playwright holds an event loop in the main thread while it runs, and the async
tests of later modules need that thread. The tests skip only where Chromium is missing and
CI is not set: in CI a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from console_harness import Console, console_settings

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread

CHROMIUM = os.environ.get("AGENTIC_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium with Playwright")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which(CHROMIUM) is not None or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    settings = console_settings(tmp_path_factory.mktemp("console") / "data", admin_key)
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def console(browser: Any, server: str, admin_key: str) -> Iterator[Console]:
    """A fresh browser context (its own sessionStorage) on the console."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    opened = Console(page, server, admin_key)
    yield opened
    context.close()
    assert opened.errors == [], "the page logged errors (a CSP violation, a script error)"
