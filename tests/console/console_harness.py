"""Drive the console as a person would: through labels and roles, not CSS internals."""

from __future__ import annotations

import os
import re
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from agentic_platform.llm_gateway.catalog import default_models
from agentic_platform.settings import Settings
from agentic_platform.testing.agents import agent_models
from agentic_platform.testing.catalog import scripted_models

SCREENSHOTS = os.environ.get("AGENTIC_CONSOLE_SCREENSHOTS")
"""A directory to save a screenshot of each page into (docs/console/ for the docs)."""
LOCAL_MODEL = "smollm2-135m"


def console_settings(data_dir: Path, admin_key: str) -> Settings:
    models = [*scripted_models(), *agent_models()]
    if find_spec("xllamacpp") is not None:
        models.extend(entry for entry in default_models() if entry.alias == LOCAL_MODEL)
    return Settings(
        data_dir=data_dir,
        models=models,
        auth={"bootstrap_admin_key": SecretStr(admin_key)},  # type: ignore[arg-type]
        log_requests=False,
        memory={"embedding_model": "test-embed", "extraction_model": None},  # type: ignore[arg-type]
        retrieval={"default_embedding_model": "test-embed"},  # type: ignore[arg-type]
        agents={"default_model": "calc-bot"},  # type: ignore[arg-type]
        governance={"ledger_flush_seconds": 0.1},  # type: ignore[arg-type]
    )


class Console:
    def __init__(self, page: Any, server: str, admin_key: str) -> None:
        self.page = page
        self.server = server
        self.admin_key = admin_key
        self.errors: list[str] = []
        page.on("console", self._console_message)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.set_default_timeout(15_000)

    def _console_message(self, message: Any) -> None:
        # An API's refusal (401, 403, 404) is logged as a failed resource: the page shows it.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def api(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.request(method, f"{self.server}{path}", headers=headers, timeout=30, **kwargs)

    def member_key(self, name: str) -> str:
        """A new member principal with a key of its own."""
        principal = self.api("POST", "/admin/v1/principals", json={"name": name}).json()
        created = self.api("POST", "/admin/v1/keys", json={"principal_id": principal["id"]})
        secret: str = created.json()["secret"]
        return secret

    def sign_in(self, key: str | None = None) -> None:
        self.page.goto("/console/")
        self.page.get_by_label("API key", exact=True).fill(key or self.admin_key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("button", name="Sign out").wait_for()

    def go(self, title: str) -> None:
        self.page.get_by_role("navigation").get_by_role("link", name=title).click()
        self.page.get_by_role("heading", level=1, name=title).wait_for()

    def nav_titles(self) -> list[str]:
        links = self.page.get_by_role("navigation").get_by_role("link")
        return [str(text) for text in links.all_inner_texts()]

    def screenshot(self, name: str) -> None:
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

    def choose(self, label: str, value_pattern: str) -> None:
        select = self.page.get_by_label(label)
        values = select.locator("option").evaluate_all("options => options.map(o => o.value)")
        wanted = [v for v in values if re.fullmatch(value_pattern, v)]
        assert wanted, f"no option like {value_pattern} in {values}"
        select.select_option(wanted[0])
