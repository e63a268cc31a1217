"""Accessibility of every page: names for every control, text alternatives, contrast, and a
chat held from the keyboard alone. The check is a small one of our own (a11y_check.js):
axe-core is not installable offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from console_harness import Console

pytestmark = pytest.mark.browser

CHECK = (Path(__file__).parent / "a11y_check.js").read_text()
PAGES = [
    "Playground",
    "Runs",
    "Keys",
    "Usage",
    "Knowledge bases",
    "Memories",
    "Principals and plans",
]


def _some_data(console: Console) -> None:
    """Enough that each page shows a table or a chart, not only an empty state."""
    run = console.api("POST", "/agents/v1/diy-agent/invoke", json={"message": "1 + 1"})
    assert run.status_code == 200, run.text
    console.api("POST", "/memory/v1/memories", json={"text": "Likes tea"})
    console.api("POST", "/retrieval/v1/knowledge-bases", json={"name": "a11y"})
    console.api("POST", "/admin/v1/keys", json={"name": "a11y-key"})


def test_every_page_has_labels_alternatives_and_contrast(console: Console) -> None:
    _some_data(console)
    page = console.page
    page.goto("/console/")
    page.get_by_label("API key", exact=True).wait_for()
    found = page.evaluate(CHECK)
    assert found["problems"] == [], "sign-in page"
    console.sign_in()
    for title in PAGES:
        console.go(title)
        page.wait_for_load_state("networkidle")
        found = page.evaluate(CHECK)
        assert found["problems"] == [], title
        assert found["texts"] > 5, f"{title}: the check saw the page's text"
        shown = page.locator("main").inner_text()
        assert re.search(r"\b(null|undefined|NaN)\b", shown) is None, f"{title}: {shown}"


def test_the_check_finds_what_it_looks_for(console: Console) -> None:
    """The check is not blind: a control without a label and pale text are reported."""
    page = console.page
    page.goto("/console/")
    page.get_by_label("API key", exact=True).wait_for()
    page.evaluate(
        """() => { const main = document.getElementById('main');
        main.append(Object.assign(document.createElement('input'), {id: 'bare'}));
        const pale = document.createElement('p'); pale.textContent = 'pale words';
        pale.style.color = '#cccccc'; main.append(pale); }"""
    )
    problems = " ".join(page.evaluate(CHECK)["problems"])
    assert "control without a label: input#bare" in problems
    assert 'contrast 1.61:1 for p "pale words"' in problems


def test_a_chat_from_the_keyboard_alone(console: Console) -> None:
    page = console.page
    console.sign_in()
    console.go("Playground")
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.labels?.[0]?.textContent") == "Message":
            break
    else:
        pytest.fail("Tab never reached the message box")
    console.choose("Agent, workflow or model", r"agent:diy-agent")
    page.get_by_label("Message", exact=True).focus()
    page.keyboard.type("20 + 22")
    page.keyboard.press("Enter")
    answer = page.locator(".turn.assistant").last
    answer.locator(".meta").wait_for()
    assert "42" in answer.inner_text()
    assert page.evaluate("() => document.activeElement.labels?.[0]?.textContent") == "Message"
