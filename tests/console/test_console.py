"""The console, used in Chromium: sign in, chat, agents and their tool calls, keys,
knowledge bases, usage, and what a member may not see."""

from __future__ import annotations

import re

import pytest
from console_harness import Console

pytestmark = pytest.mark.browser


def test_a_wrong_key_is_refused_and_the_right_one_signs_in(console: Console) -> None:
    page = console.page
    page.goto("/console/")
    console.screenshot("sign-in")
    page.get_by_label("API key", exact=True).fill("ap-not-a-key")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="not valid").wait_for()
    console.sign_in()
    assert "admin" in page.locator("#who").inner_text()
    stored = page.evaluate("() => JSON.stringify(localStorage)")
    assert console.admin_key not in stored, "the key must never reach localStorage"
    assert console.admin_key not in page.url


def test_chat_with_the_local_model_streams_the_answer(console: Console) -> None:
    from importlib.util import find_spec

    if find_spec("xllamacpp") is None:
        pytest.skip("needs the 'local' extra")
    page = console.page
    console.sign_in()
    console.go("Playground")
    console.choose("Agent, workflow or model", r"model:smollm2-135m")
    page.get_by_label("Max tokens (models)", exact=True).fill("12")
    # Count the answer's updates: a streamed answer grows in several steps.
    page.evaluate(
        """() => { window.updates = 0;
        new MutationObserver(() => { window.updates++; })
          .observe(document.querySelector('.chat'),
                   {subtree: true, childList: true, characterData: true}); }"""
    )
    message = page.get_by_label("Message", exact=True)
    message.fill("Say hello to Oslo.")
    message.press("Enter")
    answer = page.locator(".turn.assistant").last
    answer.locator(".meta").wait_for(timeout=60_000)
    assert answer.locator(".text").inner_text().strip(), "an answer was streamed"
    assert re.search(r"\d+ in \+ \d+ out tokens", answer.locator(".meta").inner_text())
    assert page.evaluate("() => window.updates") > 4, "the answer arrived in pieces"
    console.screenshot("playground-model")


def test_an_agent_run_shows_its_tool_call_and_its_steps(console: Console) -> None:
    page = console.page
    console.sign_in()
    console.go("Playground")
    console.choose("Agent, workflow or model", r"agent:diy-agent")
    message = page.get_by_label("Message", exact=True)
    message.fill("6 * 7")
    message.press("Enter")
    answer = page.locator(".turn.assistant").last
    answer.locator(".meta").wait_for()
    assert "tool calculator" in answer.locator(".events").inner_text()
    assert "42" in answer.locator(".text").inner_text()
    meta = answer.locator(".meta").inner_text()
    assert re.search(r"\d+ in \+ \d+ out tokens · \$\d", meta), meta
    page.get_by_role("button", name=re.compile("^Resume the session")).first.wait_for()
    console.screenshot("playground-agent")
    answer.get_by_role("link", name="open the run").click()
    page.get_by_role("heading", name="diy-agent · succeeded").wait_for()
    steps = page.get_by_role("table", name="Steps, in the order they started").inner_text()
    assert "calculator" in steps and "calc-bot" in steps
    console.screenshot("run")
    console.go("Runs")
    runs = page.get_by_role("table", name="Newest first")
    runs.wait_for()
    assert "diy-agent" in runs.inner_text()
    console.screenshot("runs")


def test_a_session_is_resumed(console: Console) -> None:
    page = console.page
    console.sign_in()
    console.go("Playground")
    console.choose("Agent, workflow or model", r"agent:diy-agent")
    page.get_by_label("Message", exact=True).fill("100 + 23")
    page.get_by_label("Message", exact=True).press("Enter")
    page.locator(".turn.assistant .meta").wait_for()
    for _ in range(50):  # the turns are stored as the run ends, a moment after its answer
        sessions = console.api("GET", "/memory/v1/sessions?agent_id=diy-agent").json()["data"]
        turns = [
            console.api("GET", f"/memory/v1/sessions/{s['id']}/messages").json()["data"]
            for s in sessions
        ]
        if any("123" in m["content"] for found in turns for m in found):
            break
        page.wait_for_timeout(100)
    page.reload()
    page.get_by_role("heading", level=1, name="Playground").wait_for()
    console.choose("Agent, workflow or model", r"agent:diy-agent")
    page.get_by_role("button", name=re.compile("^Resume the session")).first.click()
    page.locator(".turn.user", has_text="100 + 23").wait_for()
    assert "123" in page.locator(".turn.assistant").last.inner_text()


def test_a_key_is_created_shown_once_and_revoked(console: Console) -> None:
    page = console.page
    console.sign_in()
    console.go("Keys")
    page.get_by_label("Key name", exact=True).fill("console-made")
    page.get_by_label("Allowed models", exact=True).fill("echo, weather-*")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("[data-secret]").inner_text()
    assert console.api("GET", "/admin/v1/me", key=secret).status_code == 200
    row = page.get_by_role("row").filter(has_text="console-made")
    assert "echo, weather-*" in row.inner_text()
    console.screenshot("keys")
    page.reload()
    page.get_by_role("heading", level=1, name="Keys").wait_for()
    assert secret not in page.content(), "the secret is shown only once"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke console-made").click()
    page.get_by_role("row").filter(has_text="console-made").filter(has_text="revoked").wait_for()
    for _ in range(40):  # a revocation reaches every cache within a second
        if console.api("GET", "/admin/v1/me", key=secret).status_code == 401:
            break
        page.wait_for_timeout(100)
    assert console.api("GET", "/admin/v1/me", key=secret).status_code == 401


def test_a_document_is_uploaded_with_progress_and_found(console: Console) -> None:
    page = console.page
    console.sign_in()
    console.go("Knowledge bases")
    page.get_by_label("Name", exact=True).fill("handbook")
    page.get_by_role("button", name="Create knowledge base").click()
    page.get_by_role("button", name="Open handbook").click()
    text = "Llamas sleep in the red barn at noon.\n\n" + "Filler about other things. " * 2000
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "llamas.md", "mimeType": "text/markdown", "buffer": text.encode()}]
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("() => document.querySelector('progress').value === 100")
    page.get_by_role("status").filter(has_text="llamas.md: created").wait_for()
    handbook = page.get_by_role("row").filter(has_text="handbook")
    handbook.get_by_role("cell", name="1", exact=True).wait_for()  # one document
    page.get_by_role("button", name="Open handbook").click()
    page.get_by_label("Query", exact=True).fill("where do llamas sleep")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table").last
    results.filter(has_text="red barn").wait_for()
    assert re.search(r"\d\.\d{4}", results.inner_text()), "each chunk shows its score"
    console.screenshot("knowledge-bases")


def _requests_charted(console: Console) -> float:
    bars = console.page.locator("svg.chart rect.bar")
    return sum(float(v) for v in bars.evaluate_all("bars => bars.map(b => b.dataset.value)"))


def test_the_usage_chart_moves(console: Console) -> None:
    page = console.page
    member = console.member_key("usage-member")
    plan = console.api("POST", "/admin/v1/plans", json={"name": "daily-5", "budget_usd_per_day": 5})
    me = console.api("GET", "/admin/v1/me", key=member).json()["principal"]
    console.api("PATCH", f"/admin/v1/principals/{me['id']}", json={"plan_id": plan.json()["id"]})
    console.sign_in(member)
    console.go("Usage")
    page.locator("[data-total-requests]").wait_for()
    before = _requests_charted(console)
    for _ in range(3):
        body = {"model": "echo", "messages": [{"role": "user", "content": "count me"}]}
        answer = console.api("POST", "/llm/v1/chat/completions", key=member, json=body)
        assert answer.status_code == 200, answer.text
    for _ in range(50):  # the ledger writes in the background, every 0.1 s here
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_timeout(200)
        if _requests_charted(console) >= before + 3:
            break
    assert _requests_charted(console) == before + 3, "a member's chart counts their own calls"
    assert "of $5.000000" in page.get_by_role("main").inner_text(), "spend against the budget"
    page.get_by_label("Show", exact=True).select_option("spend")
    page.locator("svg.chart line.budget").wait_for(state="attached")
    console.screenshot("usage")
    page.get_by_label("Group by", exact=True).select_option("model")
    page.locator("svg.chart text", has_text="echo").wait_for()


def test_memories_are_listed_searched_and_deleted(console: Console) -> None:
    page = console.page
    created = console.api("POST", "/memory/v1/memories", json={"text": "Prefers window seats"})
    assert created.status_code in (200, 201), created.text
    console.sign_in()
    console.go("Memories")
    page.get_by_role("cell", name="Prefers window seats", exact=True).wait_for()
    page.get_by_label("Search memories", exact=True).fill("window")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("table").first.filter(has_text="Prefers window seats").wait_for()
    console.screenshot("memories")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name='Delete the memory "Prefers window seats"').click()
    page.get_by_role("cell", name="Prefers window seats", exact=True).wait_for(state="detached")
    memory_id = created.json()["id"]
    assert console.api("GET", f"/memory/v1/memories/{memory_id}").status_code == 404


def test_a_member_sees_no_admin_page(console: Console) -> None:
    page = console.page
    member = console.member_key("console-member")
    console.sign_in(member)
    assert "Principals and plans" not in console.nav_titles()
    assert "Playground" in console.nav_titles()
    page.goto("/console/#/principals")
    page.get_by_role("heading", level=1, name="Playground").wait_for()
    assert console.api("GET", "/admin/v1/principals", key=member).status_code == 403
    console.go("Keys")
    assert page.get_by_label("Owner", exact=True).count() == 0, (
        "members make keys for themselves only"
    )


def test_an_admin_sees_principals_and_plans(console: Console) -> None:
    console.sign_in()
    console.go("Principals and plans")
    assert "admin" in console.page.get_by_role("table").first.inner_text()
    console.screenshot("principals")
